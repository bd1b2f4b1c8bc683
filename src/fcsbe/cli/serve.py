"""`fcsbe serve`: run the FCSBE server (uvicorn, the app factory, the configured stations)."""

from __future__ import annotations

from typing import Annotated

import typer

from fcsbe.cli._runtime import load_settings

__all__ = ["serve"]


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (PostgreSQL only).")] = 1,
) -> None:
    """Run the FCSBE server (SQLite in the working folder unless FCSBE_DATABASE_URL is set)."""
    import uvicorn

    settings = load_settings()
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
