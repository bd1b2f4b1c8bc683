"""The command line: openapi --check and db upgrade/downgrade/current."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fcsbe.cli import app

runner = CliRunner()


def test_openapi_check_passes_on_the_committed_file() -> None:
    result = runner.invoke(app, ["openapi", "--check"])
    assert result.exit_code == 0, result.output


def test_openapi_check_fails_on_drift(tmp_path: Path) -> None:
    stale = tmp_path / "fcsbe.json"
    stale.write_text("{}\n")
    result = runner.invoke(app, ["openapi", "--check", "--output", str(stale)])
    assert result.exit_code == 1
    assert runner.invoke(app, ["openapi", "--output", str(stale)]).exit_code == 0
    assert runner.invoke(app, ["openapi", "--check", "--output", str(stale)]).exit_code == 0


def test_openapi_check_names_a_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["openapi", "--check", "--output", str(tmp_path / "none.json")])
    assert result.exit_code == 1
    assert "none.json is missing: run `fcsbe openapi`" in result.output


def test_db_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FCSBE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    current = runner.invoke(app, ["db", "current"])
    fields = current.output.split()
    assert (fields[0], fields[2]) == ("current:", "head:")
    assert fields[1] == fields[3]
    assert runner.invoke(app, ["db", "downgrade", "base"]).exit_code == 0
    assert "current: None" in runner.invoke(app, ["db", "current"]).output
