"""The `fcsbe` command line: serve, migrate, export the OpenAPI document, operate the server.

The server extra is imported lazily so that `pip install fcsbe` (model + client only) can still
print a clear message instead of an import error.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fcsbe.cli import demo as demo_cli
from fcsbe.cli.admin import admin_app
from fcsbe.cli.admin import event_log as event_log_cli
from fcsbe.cli.admin import notifications as notifications_cli
from fcsbe.cli.admin.stations import stations_app

if TYPE_CHECKING:
    from fcsbe.server.settings import Settings

__all__ = ["app", "main"]

app = typer.Typer(
    name="fcsbe",
    help="IEC 63382 flexibility port of a charging-station backend (FCSBE).",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin", no_args_is_help=True)
admin_app.add_typer(stations_app, name="stations", no_args_is_help=True)
admin_app.add_typer(event_log_cli.app, name="event-log", no_args_is_help=True)
admin_app.add_typer(notifications_cli.app, name="notifications", no_args_is_help=True)
app.command("demo")(demo_cli.demo)

OPENAPI_PATH = Path("openapi/fcsbe.json")


def _settings() -> Settings:
    try:
        from fcsbe.server.settings import Settings
    except ImportError as exc:  # pragma: no cover - depends on the install
        typer.echo(f"the server extra is not installed: pip install 'fcsbe[server]' ({exc})")
        raise typer.Exit(2) from exc
    return Settings()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (PostgreSQL only).")] = 1,
) -> None:
    """Run the FCSBE server (SQLite in the working folder unless FCSBE_DATABASE_URL is set)."""
    import uvicorn

    settings = _settings()
    if workers > 1 and settings.is_sqlite:
        typer.echo("several workers need PostgreSQL; the embedded SQLite default runs one")
        raise typer.Exit(2)
    if workers > 1 and settings.simulator_enabled:
        typer.echo("the station simulator runs in one process: set FCSBE_SIMULATOR_ENABLED=false")
        raise typer.Exit(2)
    if settings.simulator_enabled:
        typer.echo(f"stations: simulated fleet {settings.simulator_scenario!r} (real time)")
    typer.echo(f"fcsbe serving on http://{host}:{port} (API docs at http://{host}:{port}/docs)")
    uvicorn.run(
        "fcsbe.server.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        proxy_headers=True,
    )


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Migrate the database (FCSBE_DATABASE_URL) up to a revision."""
    from fcsbe.server.storage import migrations

    settings = _settings()
    migrations.upgrade(settings.database_url, revision)
    typer.echo(f"database at {revision}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision (`base`: empty).")] = "-1",
) -> None:
    """Migrate the database down to a revision (default: one step)."""
    from fcsbe.server.storage import migrations

    settings = _settings()
    migrations.downgrade(settings.database_url, revision)
    typer.echo(f"database at {revision}")


@db_app.command("current")
def db_current() -> None:
    """Print the revision the database is at, and the newest one."""
    from fcsbe.server.storage import migrations
    from fcsbe.server.storage.engine import create_engine

    settings = _settings()

    async def _current() -> str | None:
        engine = create_engine(settings)
        try:
            return await migrations.current_revision(engine)
        finally:
            await engine.dispose()

    current = asyncio.run(_current())
    typer.echo(f"current: {current}  head: {migrations.head_revision(settings.database_url)}")


def render_openapi() -> str:
    """The served OpenAPI document, as committed in openapi/fcsbe.json."""
    from fcsbe.server.app import create_app
    from fcsbe.server.settings import Settings

    document = create_app(Settings(log_level="WARNING")).openapi()
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@app.command()
def openapi(
    check: Annotated[
        bool, typer.Option("--check", help="Fail if the committed file differs.")
    ] = False,
    output: Annotated[Path, typer.Option(help="Where the document is written.")] = OPENAPI_PATH,
) -> None:
    """Write the OpenAPI document of the served API, or check the committed one is current."""
    _write_or_check(output, render_openapi(), check=check, command="fcsbe openapi")


@app.command("api-docs")
def api_docs(
    check: Annotated[
        bool, typer.Option("--check", help="Fail if the committed file differs.")
    ] = False,
    output: Annotated[Path, typer.Option(help="Where the reference is written.")] = Path(
        "docs/api.md"
    ),
) -> None:
    """Write docs/api.md (route, client method, models), or check the committed one is current."""
    from fcsbe.cli.docs import render_api_markdown

    rendered = render_api_markdown(json.loads(render_openapi()))
    _write_or_check(output, rendered, check=check, command="fcsbe api-docs")


def _write_or_check(output: Path, rendered: str, *, check: bool, command: str) -> None:
    """Write a generated file, or (`check`) fail when the committed one differs: CI runs the
    check so that generated documents never drift from the served API."""
    if check:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current != rendered:
            typer.echo(f"{output} differs from the served API: run `{command}`", err=True)
            raise typer.Exit(1)
        typer.echo(f"{output} is current")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(rendered, encoding="utf-8")
    typer.echo(f"wrote {output}")


def main() -> None:
    """Console-script entry point."""
    app(prog_name="fcsbe")


if __name__ == "__main__":  # pragma: no cover
    main()
