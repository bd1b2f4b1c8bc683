"""The documentation's code runs the way the text tells the reader to run it, against a real
server (`fcsbe serve` in a child process, simulated fleet, real time, the loopback try-out
settings of `sh scripts/dev.sh serve`):

- docs/aggregator-guide.md: the blocks marked `# run` are pasted, in order, into
  `python -m asyncio` (its standard input), exactly as the guide says. The interactive prompt
  is stricter than a script (a compound statement needs a blank line after it), so a block that
  compiles as a script can still fail there; this test sees it.
- README.md: each block starting `# NAME.py` is saved as NAME.py and run with `python NAME.py`
  (the enrolment script with a fresh token), in a folder of its own.

The guide and the README use fresh party and contract ids, so running one after the other on
the same server works, in the test as for a reader.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fcsbe.cli import app
from tests.support.served import Served, serve

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "aggregator-guide.md"
README = ROOT / "README.md"
BLOCKS = [
    block
    for block in re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    if block.startswith("# run")
]
SCRIPTS = {
    match.group(1): block
    for block in re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    if (match := re.match(r"# (\w+\.py)\n", block))
}
CLIENT_NAMESPACES = (
    "discovery",
    "enrolments",
    "heartbeat",
    "contracts",
    "credential_checks",
    "contract_holders",
    "sites",
    "charging_stations",
    "capabilities",
    "availability",
    "sessions",
    "flexibility_services",
    "notifications",
    "webhook_endpoints",
    "event_log",
    "records",
)
CHECKS = """
print("CHECK", verdict.valid, validated.validation.status.value)
"""
"""Typed at the prompt after the last block: what the story must have reached."""


def test_the_guide_shows_every_client_namespace_in_runnable_code() -> None:
    code = "\n".join(BLOCKS)
    missing = [name for name in CLIENT_NAMESPACES if f".{name}." not in code]
    assert not missing, f"no runnable snippet uses {missing}"
    for operation in ("supersede", "cancel", "update_setpoint", "activate", "measurements"):
        assert f"flexibility_services.{operation}(" in code


def test_the_guide_tells_the_reader_to_paste_into_python_m_asyncio() -> None:
    assert "`python -m asyncio`" in DOC.read_text(encoding="utf-8")
    assert len(BLOCKS) >= 10
    assert set(SCRIPTS) == {"enrol.py", "stations.py"}


def _admin(server: Served, *args: str) -> str:
    made = CliRunner().invoke(app, ["admin", *args], env=server.env)
    assert made.exit_code == 0, made.output
    return made.output.split()[-1]


def _env(server: Served, **extra: str) -> dict[str, str]:
    return {**os.environ, **server.env, "FCSBE_SERVER": server.url, **extra}


def _readme_scripts(server: Served, folder: Path) -> None:
    folder.mkdir()
    for name, block in SCRIPTS.items():
        (folder / name).write_text(block, encoding="utf-8")
    token = _admin(server, "enrolment-token", "create", "--fo-name", "Flexa")
    for command in (["enrol.py", token], ["stations.py"]):
        done = subprocess.run(
            [sys.executable, *command],
            cwd=folder,
            env=_env(server),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"python {command[0]}:\n{done.stderr}\n{server.log}"
        if command[0] == "enrol.py":
            assert "enrolled as NL-FLX-" in done.stdout


def _paste_guide(server: Served, folder: Path) -> subprocess.CompletedProcess[str]:
    operator_token = _admin(server, "operator-token", "create", "--ttl", "1h")
    pasted = "".join(block + "\n" for block in BLOCKS) + CHECKS + "\nexit()\n"
    return subprocess.run(
        [sys.executable, "-m", "asyncio"],
        input=pasted,
        cwd=folder,
        env=_env(server, FCSBE_OPERATOR_TOKEN=operator_token),
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_readme_then_guide_run_as_printed_on_one_server(tmp_path: Path) -> None:
    with serve(tmp_path) as server:
        _readme_scripts(server, tmp_path / "readme")
        done = _paste_guide(server, tmp_path)
    assert "Traceback" not in done.stderr, f"{done.stderr[-4000:]}\nserver log: {server.log}"
    assert "SyntaxError" not in done.stderr, done.stderr[-4000:]
    printed = done.stdout
    assert "ACTIVE" in printed
    assert "pushed and verified" in printed
    assert "log consistent from" in printed
    assert "CHECK True ACCEPTED" in printed
