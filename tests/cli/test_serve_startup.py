"""`fcsbe serve` started as an operator starts it: a setting that cannot work stops it with two
lines naming the setting and the fix (exit status 2), before it says "serving" and before it
migrates, simulates or loops; PostgreSQL URLs as hosting providers write them are accepted."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.databases import (
    create_postgres_database,
    drop_postgres_database,
    postgres_reachable,
)
from tests.support.served import free_port

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("FCSBE_")}


def fcsbe(
    folder: Path, *args: str, timeout: float = 120, **settings: str
) -> subprocess.CompletedProcess[str]:
    """Run `fcsbe ARGS` in `folder` with only these FCSBE_* settings."""
    return subprocess.run(
        [sys.executable, "-m", "fcsbe.cli", *args],
        cwd=folder,
        env={**CLEAN_ENV, "FCSBE_LOG_LEVEL": "WARNING", **settings},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_refused(done: subprocess.CompletedProcess[str], setting: str) -> list[str]:
    """Exit status 2, at most two lines of error (plus a note), naming `setting` and a fix."""
    lines = [line for line in done.stderr.splitlines() if not line.startswith("note:")]
    assert done.returncode == 2, done.stderr
    assert len(lines) <= 2, done.stderr
    assert lines[0].startswith(f"error: {setting}:"), done.stderr
    assert "fix:" in done.stderr
    assert "serving" not in done.stdout
    assert "Traceback" not in done.stderr
    return lines


def test_a_busy_port_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = fcsbe(tmp_path, "serve", "--port", str(port))
    assert_refused(done, "--port")
    assert not (tmp_path / "fcsbe.db").exists()  # no migration ran
    assert not (tmp_path / "var").exists()  # no key was made


def test_an_unknown_database_scheme_names_the_url_to_use(tmp_path: Path) -> None:
    done = fcsbe(tmp_path, "serve", FCSBE_DATABASE_URL="mysql://fcsbe@db/fcsbe")
    (_first, fix) = assert_refused(done, "FCSBE_DATABASE_URL")
    assert "postgresql+asyncpg://" in fix


def test_a_bad_setting_names_the_variable(tmp_path: Path) -> None:
    done = fcsbe(tmp_path, "serve", FCSBE_SERVER_PARTY_COUNTRY="nl")
    assert_refused(done, "FCSBE_SERVER_PARTY_COUNTRY")


def test_an_unreachable_postgresql_is_two_lines(tmp_path: Path) -> None:
    url = f"postgresql://fcsbe:secret@127.0.0.1:{free_port()}/fcsbe"
    done = fcsbe(tmp_path, "serve", "--port", str(free_port()), FCSBE_DATABASE_URL=url)
    (_first, _fix) = assert_refused(done, "FCSBE_DATABASE_URL")
    assert "secret" not in done.stderr  # the password is not printed
    assert "postgresql+asyncpg://" in done.stderr  # the URL was normalised, not "no psycopg"


def test_a_client_only_install_gets_the_install_hint(tmp_path: Path) -> None:
    """Without the server extra (uvicorn missing), the hint, not an import error."""
    blocker = tmp_path / "blocked"
    (blocker / "uvicorn").mkdir(parents=True)
    (blocker / "uvicorn" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'uvicorn'\", name='uvicorn')\n"
    )
    path = os.pathsep.join([str(blocker), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-m", "fcsbe.cli", "serve"],
        cwd=tmp_path,
        env={**CLEAN_ENV, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "pip install 'fcsbe[server]'" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.fixture
def postgres_database() -> tuple[str, str]:
    why = postgres_reachable()
    if why is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI: {why}")
        pytest.skip(f"PostgreSQL not reachable: {why}")
    name, url = create_postgres_database("fcsbe_serve")
    yield name, url  # type: ignore[misc]
    drop_postgres_database(name)


def test_postgres_urls_are_normalised_and_unmigrated_databases_refused(
    tmp_path: Path, postgres_database: tuple[str, str]
) -> None:
    """`postgres://` (as hosting providers hand it out) works for every command; `serve` on an
    unmigrated database says to run `fcsbe db upgrade`; after it, the server serves."""
    _name, url = postgres_database
    plain = url.replace("postgresql+asyncpg://", "postgres://", 1)
    port = free_port()
    refused = fcsbe(tmp_path, "serve", "--port", str(port), FCSBE_DATABASE_URL=plain)
    lines = assert_refused(refused, "FCSBE_DATABASE_URL")
    assert "fcsbe db upgrade" in lines[1]
    assert "postgresql+asyncpg" in refused.stderr  # said in the log
    upgraded = fcsbe(tmp_path, "db", "upgrade", FCSBE_DATABASE_URL=plain)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "server party FCSBE created" in upgraded.stdout
