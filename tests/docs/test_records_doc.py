"""The offline snippets of docs/records.md run as written (those whose first line is
`# offline`; the others need a server and are exercised by the scenario tests)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "records.md"
BLOCKS = [
    block
    for block in re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    if block.startswith("# offline")
]


def test_the_doc_has_offline_snippets() -> None:
    assert BLOCKS


@pytest.mark.parametrize("code", BLOCKS)
def test_offline_snippet_runs(code: str, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(code, str(DOC), "exec"), {})
    assert capsys.readouterr().out.strip()
