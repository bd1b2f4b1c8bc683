"""At rest (S6): the database, its WAL and shared-memory files and everything under the data
folder are readable by the server's own user only, for `fcsbe serve` and `fcsbe db upgrade`."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from fcsbe.cli import app as cli
from fcsbe.server.app import create_app
from fcsbe.server.settings import Settings


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """The usual umask (022), under which files are world-readable unless made private."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'db' / 'fcsbe.db'}",
        auto_migrate=True,
        data_dir=tmp_path / "var",
        log_level="WARNING",
        workers_enabled=False,
        simulator_enabled=False,
    )


async def test_serve_creates_the_database_wal_and_keys_private(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        async with application.state.session_factory() as session:
            await session.execute(text("SELECT count(*) FROM parties"))
        database = tmp_path / "db" / "fcsbe.db"
        files = [database, *(database.with_name(f"fcsbe.db{s}") for s in ("-wal", "-shm"))]
        assert all(path.is_file() for path in files), sorted(os.listdir(database.parent))
        assert {str(path.name): mode(path) for path in files} == {
            path.name: 0o600 for path in files
        }
    under_data_dir = [p for p in (tmp_path / "var").rglob("*") if p.is_file()]
    assert under_data_dir  # keys, the secret-sealing key ring, ...
    assert {p.name: mode(p) for p in under_data_dir} == {p.name: 0o600 for p in under_data_dir}
    assert mode(tmp_path / "var") == 0o700


async def test_files_left_readable_by_an_older_release_are_closed_at_start(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        pass
    database = tmp_path / "db" / "fcsbe.db"
    old_key = tmp_path / "var" / "keys" / "retired-public-keys.json"
    old_key.write_text("[]")
    for path in (database, old_key):
        path.chmod(0o644)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        assert mode(database) == 0o600
    assert mode(old_key) == 0o600


def test_db_upgrade_creates_the_database_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "cli.db"
    monkeypatch.setenv("FCSBE_DATABASE_URL", f"sqlite+aiosqlite:///{database}")
    result = CliRunner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert mode(database) == 0o600
    for companion in ("-wal", "-shm"):
        path = database.with_name(database.name + companion)
        if path.exists():
            assert mode(path) == 0o600
