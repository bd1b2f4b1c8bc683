"""How commands run: one settings loader, one transaction runner, errors as messages.

Commands use the same settings as `fcsbe serve` (FCSBE_DATABASE_URL, FCSBE_DATA_DIR). The
embedded SQLite database is migrated on first use, as `serve` does; PostgreSQL must be migrated
with `fcsbe db upgrade`. A domain error prints its detail and exits with status 1. Every command
that touches the database goes through `run_in_transaction` (or `run_with_engine` for work that
needs the engine itself), so opening, committing and disposing is written once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

    from fcsbe.server.security.principal import Principal
    from fcsbe.server.settings import Settings

__all__ = [
    "FoOption",
    "JsonOption",
    "load_settings",
    "local_operator",
    "parse_duration",
    "print_json",
    "run_in_transaction",
    "run_with_engine",
]

T = TypeVar("T")

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


def load_settings() -> Settings:
    """The server's settings from the environment, or a clear message when the server extra is
    not installed (a client-only `pip install fcsbe`)."""
    try:
        from fcsbe.server.settings import Settings
    except ImportError as exc:  # pragma: no cover - depends on the install
        typer.echo(f"the server extra is not installed: pip install 'fcsbe[server]' ({exc})")
        raise typer.Exit(2) from exc
    return Settings()


def run_with_engine(settings: Settings, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run `work` with an engine on the configured database, disposed afterwards."""
    import asyncio

    from fcsbe.server.storage.engine import create_engine

    async def main() -> T:
        engine = create_engine(settings)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def run_in_transaction(
    work: Callable[[AsyncSession, Settings], Awaitable[T]], settings: Settings | None = None
) -> T:
    """Run `work` in one committed transaction on the configured database (work that must
    not write rolls back itself: the commit is then a no-op)."""
    from fcsbe.server.errors import ApiError
    from fcsbe.server.storage import migrations
    from fcsbe.server.storage.engine import create_session_factory

    settings = settings or load_settings()

    async def transaction(engine: AsyncEngine) -> T:
        if not await migrations.is_up_to_date(engine, settings.database_url):
            typer.echo("the database is not migrated: run `fcsbe db upgrade`", err=True)
            raise typer.Exit(2)
        async with create_session_factory(engine)() as session:
            result = await work(session, settings)
            await session.commit()
            return result

    if settings.migrate_on_start:
        migrations.upgrade(settings.database_url)
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
