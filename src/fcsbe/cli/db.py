"""`fcsbe db ...`: database migrations (alembic) on the configured database.

`fcsbe db upgrade` is the one step a deployment runs before serving: it migrates the schema and
creates the server party and its signing key if there is none (from FCSBE_SERVER_PARTY_*), so
that a PostgreSQL or compose deployment is ready to enrol aggregators on its first start, like
the embedded one. Several replicas may run it at once: on PostgreSQL they take turns under an
advisory lock, and the signing key file is created atomically, so exactly one party and one key
come out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from fcsbe.cli._runtime import load_settings, run_with_engine

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["db_app"]

db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Migrate the database (FCSBE_DATABASE_URL) up to a revision; at the newest one, also create
    the server party and its signing key when there is none."""
    from fcsbe.server.services.enrolments.parties import ensure_server_party
    from fcsbe.server.storage import migrations
    from fcsbe.server.storage.base import utcnow
    from fcsbe.server.storage.engine import create_session_factory

    settings = load_settings()

    async def upgrade(engine: AsyncEngine) -> bool:
        async with migrations.exclusive(engine):
            await migrations.upgrade_async(settings.database_url, revision)
            if revision != "head":
                return False
            async with create_session_factory(engine)() as session:
                created = await ensure_server_party(session, settings, utcnow())
                await session.commit()
                return created

    created = run_with_engine(settings, upgrade)
    typer.echo(f"database at {revision}")
    if created:
        typer.echo(
            f"server party {settings.server_party_id} created with its signing key in "
            f"{settings.data_dir}; operator token: `fcsbe admin operator-token create`"
        )


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision (`base`: empty).")] = "-1",
) -> None:
    """Migrate the database down to a revision (default: one step)."""
    from fcsbe.server.storage import migrations

    settings = load_settings()

    async def downgrade(engine: AsyncEngine) -> None:
        async with migrations.exclusive(engine):
            await migrations.downgrade_async(settings.database_url, revision)

    run_with_engine(settings, downgrade)
    typer.echo(f"database at {revision}")


@db_app.command("current")
def db_current() -> None:
    """Print the revision the database is at, and the newest one."""
    from fcsbe.server.storage import migrations

    settings = load_settings()
    current = run_with_engine(settings, migrations.current_revision)
    typer.echo(f"current: {current}  head: {migrations.head_revision(settings.database_url)}")
