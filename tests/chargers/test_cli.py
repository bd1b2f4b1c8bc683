"""`fcsbe stations simulate`: a fast plain help, clear refusals, and a real run against a CSMS."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from fcsbe.cli import app
from tests.chargers.csms import TinyCsms

HEAVY = ("fcsbe.server", "fcsbe.chargers", "ocpp", "websockets", "sqlalchemy", "asyncio")


def test_help_imports_nothing_heavy() -> None:
    probe = (
        "import contextlib, io, json, sys\n"
        "from fcsbe.cli import main\n"
        "sys.argv = ['fcsbe', 'stations', 'simulate', '--help']\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    try:\n        main()\n    except SystemExit:\n        pass\n"
        "print(json.dumps({'help': out.getvalue(), 'modules': sorted(sys.modules)}))\n"
    )
    found = json.loads(subprocess.check_output([sys.executable, "-c", probe], text=True))
    assert "--password-file PASSWORD_FILE" in found["help"]
    assert "--ocpp-version OCPP_VERSION" in found["help"]
    heavy = [m for m in found["modules"] if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert heavy == []


def test_bad_options_are_refused_naming_them(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = tmp_path / "passwords.json"
    bad.write_text('["not", "a", "mapping"]')
    result = runner.invoke(app, ["stations", "simulate", "--password-file", str(bad)])
    assert result.exit_code == 2
    assert "--password-file" in result.output
    result = runner.invoke(app, ["stations", "simulate", "--ocpp-version", "3.0"])
    assert result.exit_code == 2
    assert "--ocpp-version" in result.output
    result = runner.invoke(app, ["stations", "simulate", "--scenario", "nowhere"])
    assert result.exit_code == 2
    assert "unknown scenario" in result.output


async def test_a_scenario_connects_with_its_passwords(tmp_path: Path) -> None:
    passwords = {"CS-0000001": "pw-one"}
    file = tmp_path / "passwords.json"
    file.write_text(json.dumps(passwords))
    async with TinyCsms("2.0.1", passwords=passwords) as csms:
        # In a thread of this process: the command runs its own event loop, the CSMS this one.
        result = await asyncio.to_thread(
            CliRunner().invoke,
            app,
            [
                "stations",
                "simulate",
                "--url",
                csms.url,
                "--scenario",
                "uc-1.7",
                "--ocpp-version",
                "2.0.1",
                "--password-file",
                str(file),
                "--duration",
                "2",
                "--status-interval",
                "1",
            ],
        )
    assert result.exit_code == 0, result.output
    assert "1 stations connected" in result.output
    # and then a status line now and then, saying what the fleet is doing
    assert "1/1 stations connected, 2 transactions, 0 charging profiles" in result.output
    assert csms.refused == 0
    assert len(csms.messages("BootNotification", "CS-0000001")) == 1
    assert {m["evse_id"] for m in csms.messages("StatusNotification")} == {1, 2}


def test_a_password_file_the_server_has_not_written_yet_is_waited_for(tmp_path: Path) -> None:
    """The try-out starts the server and the chargers together; the server writes the password
    file once its registry is loaded. The chargers wait for it, and give up with a clear error
    (exit 2) when it never comes."""
    import threading

    from fcsbe.cli.stations import _passwords

    later = tmp_path / "station-passwords.json"
    writer = threading.Timer(0.3, lambda: later.write_text(json.dumps({"CS-1": "secret"})))
    writer.start()
    try:
        assert _passwords(later, wait_s=30.0) == {"CS-1": "secret"}
    finally:
        writer.cancel()
    never = tmp_path / "never.json"
    with pytest.raises(typer.Exit) as stopped:
        _passwords(never, wait_s=0.3)
    assert stopped.value.exit_code == 2
