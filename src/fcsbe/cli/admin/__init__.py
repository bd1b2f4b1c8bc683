"""`fcsbe admin ...`: the CSO/CSP operator's commands, run against the server's database.

They call the same services as the `/admin/v1` API, so the two can never disagree. Secrets
(operator and enrolment tokens) are printed once and stored only as hashes; `--json` prints the
API's JSON where a command shows objects.
"""

from __future__ import annotations

from typing import Annotated

import typer

from fcsbe.cli import _runtime
from fcsbe.cli.admin.contracts import contracts_app
from fcsbe.cli.admin.disputes import disputes_app
from fcsbe.cli.admin.ev_users import ev_users_app
from fcsbe.cli.admin.parties import enrolments_app, operator_app, party_app, token_app
from fcsbe.cli.admin.retention import retention_app

__all__ = ["admin_app"]

admin_app = typer.Typer(
    help="Operate the server: party, tokens, enrolments, contracts, disputes, EV users, retention."
)
admin_app.add_typer(party_app, name="party")
admin_app.add_typer(operator_app, name="operator-token")
admin_app.add_typer(token_app, name="enrolment-token")
admin_app.add_typer(enrolments_app, name="enrolments")
admin_app.add_typer(contracts_app, name="contracts")
admin_app.add_typer(disputes_app, name="disputes")
admin_app.add_typer(ev_users_app, name="ev-users")
admin_app.add_typer(retention_app, name="retention")


@admin_app.callback()
def admin(
    init: Annotated[
        bool,
        typer.Option(
            "--init",
            help="Create and migrate the SQLite database if it is not there (by default the "
            "commands refuse, so that a wrong folder cannot start a second database).",
        ),
    ] = False,
) -> None:
    """Operate the server: party, tokens, enrolments, contracts, disputes, EV users, retention."""
    _runtime.CREATE_DATABASE = init
