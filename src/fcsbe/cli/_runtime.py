"""How commands run: one settings loader, one transaction runner, errors as messages.

Commands use the same settings as `fcsbe serve` (FCSBE_DATABASE_URL, FCSBE_DATA_DIR). The
embedded SQLite database is migrated on first use, as `serve` does; PostgreSQL must be migrated
with `fcsbe db upgrade`. A command never creates a database that is not there (unless
`fcsbe admin --init`). A setting that cannot work (a bad value, a database that cannot be
opened) stops the command with two lines, the setting and the fix, and exit status 2; a domain
error prints its detail and exits with status 1. Every command
that touches the database goes through `run_in_transaction` (or `run_with_engine` for work that
needs the engine itself), so opening, committing and disposing is written once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from pydantic import BaseModel
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

    from fcsbe.server.security.principal import Principal
    from fcsbe.server.settings import Settings

__all__ = [
    "CREATE_DATABASE",
    "FoOption",
    "JsonOption",
    "database_failure",
    "database_missing",
    "every_item",
    "fail",
    "load_settings",
    "local_operator",
    "normalise_database_url",
    "parse_duration",
    "print_json",
    "print_rows",
    "require_server_extra",
    "run_in_transaction",
    "run_with_engine",
    "shown_url",
    "sqlite_path",
]

T = TypeVar("T")
K = TypeVar("K")

LIST_PAGE_SIZE = 500
"""Items a list command reads per query (it reads them all)."""

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400}

JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON.")]
FoOption = Annotated[
    str | None, typer.Option("--fo", help="The FO's party id (when two FOs use the same id).")
]


def parse_duration(text: str) -> int:
    """Seconds in `3600`, `90s`, `30m`, `12h` or `7d`."""
    match = _DURATION.match(text)
    if match is None:
        raise typer.BadParameter(f"{text!r} is not a duration like 3600, 30m, 12h or 7d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def fail(setting: str, problem: str, fix: str) -> NoReturn:
    """Stop a command with the two lines an operator needs: which setting, and what to do."""
    typer.echo(f"error: {setting}: {problem}", err=True)
    typer.echo(f"  fix: {fix}", err=True)
    raise typer.Exit(2)


def _server_extra_missing(exc: ImportError) -> NoReturn:
    typer.echo(f"error: the server extra is not installed ({exc})", err=True)
    typer.echo("  fix: pip install 'fcsbe[server]'", err=True)
    raise typer.Exit(2) from exc


def require_server_extra() -> None:
    """Exit with the install hint when the server's own dependencies are missing (a
    client-only `pip install fcsbe`)."""
    try:
        import sqlalchemy  # noqa: F401
        import uvicorn  # noqa: F401

        import fcsbe.server.settings  # noqa: F401
    except ImportError as exc:
        _server_extra_missing(exc)


_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}
"""URL schemes people write → the async driver the server runs on."""


def normalise_database_url(url: str) -> str:
    """`url` with the async driver the server uses (`postgres://` and `postgresql://`, as
    PostgreSQL hosting hands them out, become `postgresql+asyncpg://`); any other scheme is
    refused with the URL to use."""
    scheme, separator, rest = url.partition("://")
    driver = _DRIVERS.get(scheme.lower()) if separator else None
    if driver is None:
        fail(
            "FCSBE_DATABASE_URL",
            f"{scheme + separator or url!r} is not a database fcsbe runs on",
            "use postgresql+asyncpg://user:password@host:5432/fcsbe or "
            "sqlite+aiosqlite:///./fcsbe.db",
        )
    return f"{driver}://{rest}"


def load_settings() -> Settings:
    """The server's settings from the environment, each bad value reported as the setting to
    fix (exit status 2), the database URL normalised to the async driver."""
    try:
        from pydantic import ValidationError

        from fcsbe.server.settings import Settings
    except ImportError as exc:
        _server_extra_missing(exc)
    try:
        settings = Settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        name = "FCSBE_" + "_".join(str(part) for part in error["loc"][:1]).upper()
        fail(
            name,
            f"{error['msg']} (got {error.get('input')!r})",
            f"set {name} to a valid value (docs/configuration.md lists every setting)",
        )
    url = normalise_database_url(settings.database_url)
    if url != settings.database_url:
        given = settings.database_url.partition("://")[0]
        typer.echo(
            f"note: FCSBE_DATABASE_URL {given}://... runs as {url.partition('://')[0]}://... "
            "(the async driver fcsbe uses)",
            err=True,
        )
        settings = settings.model_copy(update={"database_url": url})
    return settings


def shown_url(database_url: str) -> str:
    """The database URL without its password, fit for a message."""
    from sqlalchemy.engine import make_url

    return make_url(database_url).render_as_string(hide_password=True)


def sqlite_path(database_url: str) -> Path | None:
    """The file of an SQLite URL (None for other databases and in-memory SQLite)."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if not url.get_backend_name().startswith("sqlite"):
        return None
    database = url.database or ""
    return None if database in ("", ":memory:") else Path(database)


def database_missing(database_url: str) -> bool:
    """True for an SQLite database whose file does not exist (a command must not create it)."""
    from sqlalchemy.engine import make_url

    if not make_url(database_url).get_backend_name().startswith("sqlite"):
        return False
    path = sqlite_path(database_url)
    return path is None or not path.exists()


def database_failure(exc: BaseException, settings: Settings) -> NoReturn:
    """Report a database that cannot be opened as the setting to fix (exit status 2)."""
    from sqlalchemy.exc import DBAPIError, NoSuchModuleError

    if isinstance(exc, PermissionError) and exc.filename:
        data_dir = settings.data_dir.resolve()
        if data_dir in (
            Path(str(exc.filename)).resolve(),
            *Path(str(exc.filename)).resolve().parents,
        ):
            fail(
                "FCSBE_DATA_DIR",
                f"cannot write {exc.filename} (permission denied)",
                f"make {data_dir} writable by this user, or set FCSBE_DATA_DIR to a folder that is",
            )
    shown = shown_url(settings.database_url)
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    detail = (str(cause).strip().splitlines() or [type(cause).__name__])[0][:200]
    path = sqlite_path(settings.database_url)
    if isinstance(exc, NoSuchModuleError | ModuleNotFoundError):
        fix = "use postgresql+asyncpg://... or sqlite+aiosqlite:///... (drivers fcsbe installs)"
    elif path is not None:
        fix = (
            f"make {path.resolve().parent} writable, or set FCSBE_DATABASE_URL to a file in a "
            "writable folder (e.g. sqlite+aiosqlite:////data/fcsbe.db)"
        )
    else:
        fix = (
            "check host, port, user, password and database name in FCSBE_DATABASE_URL, and "
            "that PostgreSQL is running and reachable from here"
        )
    fail("FCSBE_DATABASE_URL", f"cannot open {shown}: {detail}", fix)


def run_with_engine(settings: Settings, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run `work` with an engine on the configured database, disposed afterwards; a database
    that cannot be opened is reported as the setting to fix."""
    import asyncio

    from sqlalchemy.exc import DBAPIError, NoSuchModuleError

    from fcsbe.server.storage.engine import create_engine

    async def main() -> T:
        engine = create_engine(settings)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except (DBAPIError, NoSuchModuleError, OSError, TimeoutError, ImportError) as exc:
        database_failure(exc, settings)


CREATE_DATABASE = False
"""Set by `fcsbe admin --init`: the admin commands may create and migrate a missing SQLite
database (otherwise they refuse, so that running one in the wrong folder cannot steer the
operator into a second, empty database)."""


def run_in_transaction(
    work: Callable[[AsyncSession, Settings], Awaitable[T]], settings: Settings | None = None
) -> T:
    """Run `work` in one committed transaction on the configured database (work that must
    not write rolls back itself: the commit is then a no-op)."""
    from fcsbe.server.errors import ApiError
    from fcsbe.server.storage import migrations
    from fcsbe.server.storage.engine import create_session_factory

    settings = settings or load_settings()
    if database_missing(settings.database_url) and not CREATE_DATABASE:
        fail(
            "FCSBE_DATABASE_URL",
            f"no database at {shown_url(settings.database_url)} (this is not the folder the "
            "server runs in)",
            "run the command in the server's folder or set FCSBE_DATABASE_URL as the server "
            "has it; `fcsbe admin --init ...` creates a new database here",
        )

    async def transaction(engine: AsyncEngine) -> T:
        if settings.migrate_on_start:
            await migrations.upgrade_async(settings.database_url)
        if not await migrations.is_up_to_date(engine, settings.database_url):
            fail(
                "FCSBE_DATABASE_URL",
                f"{shown_url(settings.database_url)} is not migrated",
                "run `fcsbe db upgrade` with the same FCSBE_DATABASE_URL",
            )
        async with create_session_factory(engine)() as session:
            result = await work(session, settings)
            await session.commit()
            return result

    try:
        return run_with_engine(settings, transaction)
    except ApiError as exc:
        typer.echo(f"error: {exc.detail} ({exc.problem_slug})", err=True)
        raise typer.Exit(1) from exc


async def local_operator(session: AsyncSession) -> Principal:
    """The local operator: whoever can run these commands holds the database anyway."""
    from fcsbe.server.security.principal import Principal, Role
    from fcsbe.server.services.enrolments.parties import require_server_party

    party = await require_server_party(session)
    return Principal(party_id=party.party_id, role=Role.OPERATOR, credential_id="cli")


def print_json(data: object) -> None:
    """Print as indented JSON."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


async def every_item(
    page: Callable[[K | None, int], Awaitable[tuple[Sequence[BaseModel], K | None]]],
) -> list[dict[str, object]]:
    """Every item of a paged service list, as the API's JSON: `page(after, limit)` reads the
    page after the key `after` (None: the first) and answers it with the key of the next page
    (None: this was the last)."""
    found: list[dict[str, object]] = []
    after: K | None = None
    while True:
        items, after = await page(after, LIST_PAGE_SIZE)
        found.extend(item.model_dump(mode="json") for item in items)
        if after is None:
            return found


def print_rows(
    rows: list[dict[str, object]], as_json: bool, line: Callable[[dict[str, object]], str]
) -> None:
    """What a list command prints: the API's JSON with `--json`, else one `line` per row."""
    if as_json:
        print_json(rows)
        return
    for row in rows:
        typer.echo(line(row))
