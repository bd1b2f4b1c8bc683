"""`fcsbe db ...`: database migrations (alembic) on the configured database."""

from __future__ import annotations

from typing import Annotated

import typer

from fcsbe.cli._runtime import load_settings, run_with_engine

__all__ = ["db_app"]

db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Migrate the database (FCSBE_DATABASE_URL) up to a revision."""
    from fcsbe.server.storage import migrations

    settings = load_settings()
    migrations.upgrade(settings.database_url, revision)
    typer.echo(f"database at {revision}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision (`base`: empty).")] = "-1",
) -> None:
    """Migrate the database down to a revision (default: one step)."""
    from fcsbe.server.storage import migrations

    settings = load_settings()
    migrations.downgrade(settings.database_url, revision)
    typer.echo(f"database at {revision}")


@db_app.command("current")
def db_current() -> None:
    """Print the revision the database is at, and the newest one."""
    from fcsbe.server.storage import migrations

    settings = load_settings()
    current = run_with_engine(settings, migrations.current_revision)
    typer.echo(f"current: {current}  head: {migrations.head_revision(settings.database_url)}")
