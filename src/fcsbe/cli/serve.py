"""`fcsbe serve`: run the FCSBE server (uvicorn, the app factory, the configured stations).

Start-up is checked before anything is announced: the settings load, the port is bound, the
database opens and is migrated (SQLite migrates itself here), and only then does the command
print where it serves and hand the bound socket to uvicorn. Anything that cannot work stops it
with two lines naming the setting or option and the fix (exit status 2), before migrations,
simulator or background loops ever start.
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Annotated

import typer

from fcsbe.cli._runtime import fail, load_settings, require_server_extra, run_with_engine, shown_url

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from fcsbe.server.settings import Settings

__all__ = ["bind", "check_database", "serve"]


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or exit naming the option to change."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        fail(
            "--port" if exc.errno == 98 else "--host",
            f"cannot listen on {host}:{port} ({reason})",
            "stop the other server on that port or pass --port <free port>"
            if exc.errno == 98
            else "pass --host with an address of this machine (127.0.0.1, 0.0.0.0)",
        )


def _loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def check_database(settings: Settings) -> None:
    """Open the database, migrate it if it migrates itself (SQLite), and make sure it is at the
    current schema; exit naming FCSBE_DATABASE_URL otherwise."""
    from fcsbe.server.storage import migrations

    async def check(engine: AsyncEngine) -> None:
        if settings.migrate_on_start:
            await migrations.upgrade_async(settings.database_url)
        if not await migrations.is_up_to_date(engine, settings.database_url):
            fail(
                "FCSBE_DATABASE_URL",
                f"{shown_url(settings.database_url)} is not at the current schema",
                "run `fcsbe db upgrade` with the same FCSBE_DATABASE_URL, then start again",
            )

    run_with_engine(settings, check)


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (PostgreSQL only).")] = 1,
) -> None:
    """Run the FCSBE server (SQLite in the working folder unless FCSBE_DATABASE_URL is set)."""
    require_server_extra()
    settings = load_settings()
    if workers > 1 and settings.is_sqlite:
        fail("--workers", "several workers need PostgreSQL", "drop --workers on SQLite")
    if workers > 1 and settings.adapter_kind == "simulator":
        fail(
            "--workers",
            "the station simulator runs in one process",
            "set FCSBE_STATION_ADAPTER=ocpp or none to run several workers",
        )
    import uvicorn

    listening = bind(host, port)
    check_database(settings)
    # The app factory reads the environment again (in each worker): give it the normalised URL.
    os.environ["FCSBE_DATABASE_URL"] = settings.database_url
    if settings.metrics_enabled and settings.metrics_token is None and not _loopback(host):
        typer.echo(
            f"note: /metrics answers anyone who reaches {host}:{port}: set FCSBE_METRICS_TOKEN, "
            "or publish the port on 127.0.0.1 only",
            err=True,
        )
    if settings.adapter_kind == "simulator":
        typer.echo(f"stations: simulated fleet {settings.simulator_scenario!r} (real time)")
    elif settings.adapter_kind == "ocpp":
        typer.echo(f"stations: OCPP-J at ws://{host}:{port}/ocpp/{{station_id}}")
    typer.echo(f"fcsbe serving on http://{host}:{port} (API docs at http://{host}:{port}/docs)")
    if workers > 1:
        # Several processes: uvicorn binds and shares the socket itself (the check above made
        # sure the port is free and the database ready).
        listening.close()
        uvicorn.run(
            "fcsbe.server.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            proxy_headers=True,
            ws_max_size=settings.ocpp_max_frame_bytes,
        )
        return
    config = uvicorn.Config(
        "fcsbe.server.app:create_app",
        factory=True,
        host=host,
        port=port,
        log_level="warning",
        proxy_headers=True,
        ws_max_size=settings.ocpp_max_frame_bytes,
    )
    # The bound socket itself (not its descriptor number) goes to uvicorn, so that it keeps its
    # address family and client addresses read right.
    with listening:
        uvicorn.Server(config).run(sockets=[listening])
