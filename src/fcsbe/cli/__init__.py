"""The `fcsbe` command line: serve, migrate, export the OpenAPI document, operate the server.

One module per command group (`serve`, `db`, `docs`, `demo`, `stations`, `admin/...`);
`_runtime` holds the one settings loader and the one transaction runner they share. The server
extra is imported lazily so that `pip install fcsbe` (model + client only) can still print a
clear message instead of an import error.
"""

from __future__ import annotations

import typer

from fcsbe.cli import demo as demo_cli
from fcsbe.cli.admin import admin_app
from fcsbe.cli.admin import event_log as event_log_cli
from fcsbe.cli.admin import notifications as notifications_cli
from fcsbe.cli.admin.stations import stations_app
from fcsbe.cli.db import db_app
from fcsbe.cli.docs import api_docs, openapi, render_openapi
from fcsbe.cli.serve import serve
from fcsbe.cli.stations import stations_sim_app

__all__ = ["app", "main", "render_openapi"]

app = typer.Typer(
    name="fcsbe",
    help="IEC 63382 flexibility port of a charging-station backend (FCSBE).",
    no_args_is_help=True,
    add_completion=False,
    # Plain help: rendering it with rich costs more CPU than the rest of `fcsbe --help`.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
app.command()(serve)
app.add_typer(db_app, name="db")
app.command()(openapi)
app.command("api-docs")(api_docs)
app.add_typer(admin_app, name="admin", no_args_is_help=True)
admin_app.add_typer(stations_app, name="stations", no_args_is_help=True)
admin_app.add_typer(event_log_cli.app, name="event-log", no_args_is_help=True)
admin_app.add_typer(notifications_cli.app, name="notifications", no_args_is_help=True)
app.command("demo")(demo_cli.demo)
app.add_typer(stations_sim_app, name="stations", no_args_is_help=True)


def main() -> None:
    """Console-script entry point."""
    from fcsbe.cli._help import name_values

    name_values(app)(prog_name="fcsbe")


if __name__ == "__main__":  # pragma: no cover
    main()
