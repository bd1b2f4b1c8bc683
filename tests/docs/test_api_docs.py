"""docs/api.md is generated from the served OpenAPI document and the client, and kept current."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fcsbe.cli import app, render_openapi
from fcsbe.cli.docs import client_operations, render_api_markdown

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "api.md"


def test_committed_api_reference_is_current() -> None:
    rendered = render_api_markdown(json.loads(render_openapi()))
    assert DOC.read_text(encoding="utf-8") == rendered, "run `fcsbe api-docs` and commit it"


def test_every_operation_is_listed_once_with_its_client_method() -> None:
    document = json.loads(render_openapi())
    text = DOC.read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    operations = [
        (method.upper(), path, op["operationId"])
        for path, methods in document["paths"].items()
        for method, op in methods.items()
    ]
    assert len(rows) == len(operations)
    methods = client_operations()
    for method, path, operation_id in operations:
        listed = [row for row in rows if row.startswith(f"| `{method} {path}`") or
                  row.startswith(f"| `{method} {path}?")]  # fmt: skip
        assert len(listed) == 1, (method, path)
        assert f"`{methods[operation_id]}`" in listed[0]
    assert "(none)" not in text


def test_the_check_fails_on_drift(tmp_path: Path) -> None:
    runner = CliRunner()
    stale = tmp_path / "api.md"
    stale.write_text("# stale\n")
    assert runner.invoke(app, ["api-docs", "--check", "--output", str(stale)]).exit_code == 1
    assert runner.invoke(app, ["api-docs", "--output", str(stale)]).exit_code == 0
    assert runner.invoke(app, ["api-docs", "--check", "--output", str(stale)]).exit_code == 0
    assert stale.read_text(encoding="utf-8") == DOC.read_text(encoding="utf-8")
