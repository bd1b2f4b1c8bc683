"""`fcsbe --help` is quick and plain: it imports no server, model or client code, and names
values the way operators read them (`HOST`, `FSC_ID`), never `<bool>`, `<str>` or `{fsc_id}`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fcsbe.cli.admin.notifications import DELIVERY_STATES
from fcsbe.model import DeliveryStatus

HEAVY = ("fcsbe.model", "fcsbe.client", "fcsbe.server", "pydantic", "sqlalchemy", "httpx", "rich")

PROBE = """
import json, sys
from fcsbe.cli import main
sys.argv = ["fcsbe", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print("\\nMODULES=" + json.dumps(sorted(sys.modules)))
"""


def _help(*args: str) -> tuple[str, list[str]]:
    """The help text of `fcsbe ARGS --help` and the modules the process imported for it."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args, "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    text, _, modules = done.stdout.rpartition("\nMODULES=")
    return text, json.loads(modules)


def test_help_imports_nothing_heavy() -> None:
    """The CPU `fcsbe --help` costs is the imports: none of the server, model or client."""
    text, modules = _help()
    assert "Usage: fcsbe" in text
    loaded = [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert loaded == []


@pytest.mark.parametrize(
    "command",
    [
        (),
        ("serve",),
        ("db", "upgrade"),
        ("admin", "contracts", "accept"),
        ("admin", "notifications", "list"),
        ("admin", "notifications", "redeliver"),
        ("admin", "enrolment-token", "create"),
    ],
)
def test_help_names_values_plainly(command: tuple[str, ...]) -> None:
    text, _ = _help(*command)
    for noise in ("<bool>", "<str>", "<int", "<list", "{"):
        assert noise not in text, text
    if command == ("admin", "contracts", "accept"):
        assert "[OPTIONS] FSC_ID" in text
        assert "--revision REVISION" in text
    if command == ("admin", "notifications", "list"):
        assert "--status PENDING|DELIVERED|DEAD|PARKED" in text


def test_delivery_states_match_the_model() -> None:
    assert set(DELIVERY_STATES) == {status.value for status in DeliveryStatus}
