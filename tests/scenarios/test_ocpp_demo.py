"""`fcsbe demo` over OCPP: `fcsbe serve` with the OCPP adapter and the demo scenario's registry,
`fcsbe stations simulate` connecting the demo fleet to it with the passwords the server wrote,
then the aggregator story through the real command line (the README's try-out, in order).

Every step must pass: the AC car's on-board inverter (`AC_BPT_DER`, named by its inverter
model) and the DC car park's `DC_BPT` EVs give the demo's sites DROOP and FFR over OCPP too.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fcsbe.cli import app
from tests.support.served import serve

runner = CliRunner()


def _wait_for_line(process: subprocess.Popen[str], text: str, seconds: float) -> str:
    """The child's output up to the first line containing `text` (fails after `seconds`)."""
    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if text in line:
            return "".join(seen)
    raise AssertionError(f"no {text!r} from the chargers:\n{''.join(seen)}")


@pytest.mark.slow
def test_the_demo_runs_over_ocpp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    passwords = tmp_path / "station-passwords.json"
    settings = {
        "FCSBE_STATION_ADAPTER": "ocpp",
        "FCSBE_OCPP_REGISTRY": "scenario",
        "FCSBE_SIMULATOR_SCENARIO": "demo",
        "FCSBE_OCPP_PASSWORD_FILE": str(passwords),
        "FCSBE_STATION_SYNC_INTERVAL_S": "1",
    }
    with serve(tmp_path, **settings) as served:
        chargers = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fcsbe.cli",
                "stations",
                "simulate",
                "--url",
                served.url.replace("http://", "ws://") + "/ocpp",
                "--scenario",
                "demo",
                "--password-file",
                str(passwords),
                "--meter-interval",
                "5",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            connected = _wait_for_line(chargers, "stations connected", 60)
            assert "15 stations connected" in connected
            # The EVs' charging needs follow their boots and the server stores sessions once per
            # sync interval: the demo's credentials step checks again until every type has a site.
            for name, value in served.env.items():
                monkeypatch.setenv(name, value)
            result = runner.invoke(app, ["demo", "--server", served.url, "--window", "8"])
            output = result.output
            log = served.log.read_text()
            assert result.exit_code == 0, f"{output}\n--- server log ---\n{log}"
            assert "all steps passed" in output
        finally:
            chargers.terminate()
            chargers.wait(timeout=15)
            if chargers.stdout is not None:
                chargers.stdout.close()
