"""The snippets of docs/aggregator-guide.md marked `# run` run, in order and sharing their
variables, against a real server (`fcsbe serve` in a child process, simulated fleet, real time).

They use top-level `await`, as in `python -m asyncio`: each block is compiled with
`PyCF_ALLOW_TOP_LEVEL_AWAIT` and awaited in one event loop, so a client opened in one block is
used by the next, exactly as a reader pasting them would.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fcsbe.cli import app
from tests.support.served import serve

DOC = Path(__file__).resolve().parents[2] / "docs" / "aggregator-guide.md"
BLOCKS = [
    block
    for block in re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    if block.startswith("# run")
]
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
    "webhook_endpoint",
    "event_log",
    "records",
)


def test_the_guide_shows_every_client_namespace_in_runnable_code() -> None:
    code = "\n".join(BLOCKS)
    missing = [name for name in CLIENT_NAMESPACES if f".{name}." not in code]
    assert not missing, f"no runnable snippet uses {missing}"
    for operation in ("supersede", "cancel", "update_setpoint", "activate", "measurements"):
        assert f"flexibility_services.{operation}(" in code


async def _run_blocks(log: Path) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "guide"}
    for number, block in enumerate(BLOCKS, start=1):
        code = compile(block, f"{DOC}#block{number}", "exec", ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        try:
            if code.co_flags & inspect.CO_COROUTINE:
                await eval(code, namespace)
            else:
                exec(code, namespace)
        except BaseException as exc:
            raise AssertionError(f"block {number} failed:\n{block}\nserver log: {log}") from exc
    return namespace


@pytest.mark.slow
def test_the_runnable_snippets_run_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert len(BLOCKS) >= 10
    with serve(tmp_path) as server:
        for name, value in server.env.items():
            monkeypatch.setenv(name, value)
        made = CliRunner().invoke(app, ["admin", "operator-token", "create", "--ttl", "1h"])
        assert made.exit_code == 0, made.output
        monkeypatch.setenv("FCSBE_OPERATOR_TOKEN", made.output.split()[-1])
        monkeypatch.setenv("FCSBE_SERVER", server.url)
        namespace = asyncio.run(_run_blocks(server.log))
    printed = capsys.readouterr().out
    assert "ACTIVE" in printed
    assert "pushed and verified" in printed
    assert "log consistent from" in printed
    assert namespace["verdict"].valid
    assert namespace["validated"].validation.status.value == "ACCEPTED"
