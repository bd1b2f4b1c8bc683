"""`fcsbe --help` is quick and plain: it imports no server, model or client code, and names
values the way operators read them (`HOST`, `FSC_ID`), never `<bool>`, `<str>` or `{fsc_id}`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fcsbe.cli.admin.notifications import DELIVERY_STATES
from fcsbe.model import DeliveryStatus

HEAVY = ("fcsbe.model", "fcsbe.client", "fcsbe.server", "sqlalchemy", "httpx", "rich", "asyncio")
"""What `--help` must not import (typer itself may import pydantic to parse sub-commands)."""

COMMANDS = [
    (),
    ("serve",),
    ("db", "upgrade"),
    ("admin", "contracts", "accept"),
    ("admin", "notifications", "list"),
    ("admin", "notifications", "redeliver"),
    ("admin", "enrolment-token", "create"),
]

PROBE = """
import contextlib, io, json, sys
from fcsbe.cli import main
helps = []
for command in json.loads(sys.argv[1]):
    sys.argv = ["fcsbe", *command, "--help"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main()
        except SystemExit:
            pass
    helps.append(out.getvalue())
print(json.dumps({"helps": helps, "modules": sorted(sys.modules)}))
"""


@pytest.fixture(scope="module")
def helps() -> tuple[dict[tuple[str, ...], str], list[str]]:
    """The help of each command, and the modules one process imported to print them all."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(COMMANDS)],
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(done.stdout)
    return dict(zip(COMMANDS, found["helps"], strict=True)), found["modules"]


def test_help_imports_nothing_heavy(helps: tuple[dict[tuple[str, ...], str], list[str]]) -> None:
    """The CPU `fcsbe --help` costs is the imports: none of the server, model or client."""
    texts, modules = helps
    assert "Usage: fcsbe" in texts[()]
    loaded = [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert loaded == []


@pytest.mark.parametrize("command", COMMANDS)
def test_help_names_values_plainly(
    command: tuple[str, ...], helps: tuple[dict[tuple[str, ...], str], list[str]]
) -> None:
    text = helps[0][command]
    assert "Usage: fcsbe" in text
    for noise in ("<bool>", "<str>", "<int", "<list", "{"):
        assert noise not in text, text
    if command == ("admin", "contracts", "accept"):
        assert "[OPTIONS] FSC_ID" in text
        assert "--revision REVISION" in text
    if command == ("admin", "notifications", "list"):
        assert "--status PENDING|DELIVERED|DEAD|PARKED" in text


def test_delivery_states_match_the_model() -> None:
    assert set(DELIVERY_STATES) == {status.value for status in DeliveryStatus}
