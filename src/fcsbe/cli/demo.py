"""`fcsbe demo`: the aggregator story (`fcsbe.demo`) against a running server.

The story speaks HTTP only. The one thing it cannot get over HTTP is an operator credential
(to issue the enrolment token and accept the contract), and by design no route hands one out:
pass one with `--operator-token` (or `FCSBE_OPERATOR_TOKEN`), or run the command on the server's
own host, where it creates a short-lived operator credential in the server's database exactly as
`fcsbe admin operator-token create` would (whoever can do that holds the database anyway) and
revokes it when the story ends. So the server needs no demo mode and exposes nothing extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from fcsbe.server.settings import Settings

__all__ = ["demo"]

LOCAL_TOKEN_TTL_S = 1800
"""Lifetime of the operator credential made for one run (revoked at the end anyway)."""


def _local_operator_token() -> tuple[str, str]:
    """A short-lived operator credential made in the local server database: (id, token)."""
    from fcsbe.cli._runtime import database_missing, load_settings, run_in_transaction
    from fcsbe.server.services.enrolments.parties import create_operator_token
    from fcsbe.server.storage.base import utcnow

    settings = load_settings()
    if database_missing(settings.database_url):
        typer.echo(
            f"no server database here ({settings.database_url}): run `fcsbe demo` in the folder "
            "the server runs in, or pass --operator-token (create one on the server host with "
            "`fcsbe admin operator-token create --ttl 1h`)",
            err=True,
        )
        raise typer.Exit(2)

    async def work(session: AsyncSession, _settings: Settings) -> tuple[str, str]:
        issued = await create_operator_token(session, now=utcnow(), ttl_s=LOCAL_TOKEN_TTL_S)
        return issued.credential_id, issued.token

    return run_in_transaction(work, settings)


def _revoke_local(credential_id: str) -> None:
    from fcsbe.cli._runtime import run_in_transaction
    from fcsbe.server.services.enrolments.parties import revoke_operator_token
    from fcsbe.server.storage.base import utcnow

    async def work(session: AsyncSession, _settings: Settings) -> None:
        await revoke_operator_token(session, credential_id, now=utcnow())

    run_in_transaction(work)


def demo(
    server: Annotated[
        str, typer.Option("--server", help="Root URL of the FCSBE to run the story against.")
    ] = "http://127.0.0.1:8000",
    operator_token: Annotated[
        str | None,
        typer.Option(
            "--operator-token",
            envvar="FCSBE_OPERATOR_TOKEN",
            help="Operator token (fcsbe_op_...). Default: a short-lived one made in the local "
            "server database (FCSBE_DATABASE_URL), revoked at the end.",
            show_default=False,
        ),
    ] = None,
    callback_url: Annotated[
        str | None,
        typer.Option(
            "--callback-url",
            help="Public base URL of your own webhook receiver. Default: a receiver on "
            "127.0.0.1 (the server must allow loopback callbacks, as `sh scripts/dev.sh serve` "
            "does).",
            show_default=False,
        ),
    ] = None,
    window_s: Annotated[
        int, typer.Option("--window", min=6, max=900, help="Seconds each FS window lasts.")
    ] = 15,
    timeout_s: Annotated[
        float, typer.Option("--timeout", min=1, help="Longest wait for the server per step.")
    ] = 30.0,
    plots: Annotated[
        Path,
        typer.Option(
            "--plots",
            help="Folder for the ordered vs delivered plots (SVG) of the droop and FFR.",
        ),
    ] = Path("demo-plots"),
) -> None:
    """Run a complete aggregator story against a running server in about a minute.

    Enrol, propose a contract (the operator accepts it), check credentials, run one FS of each
    of the seven types on the simulated fleet, receive the notifications, then fetch the
    detailed service records and proofs of work and verify them offline. Exits 1 if any step
    fails.
    """
    from fcsbe.demo import DemoOptions, run_demo

    local_credential: str | None = None
    if operator_token is None:
        local_credential, operator_token = _local_operator_token()
    try:
        options = DemoOptions(
            server=server.rstrip("/"),
            operator_token=operator_token,
            callback_url=callback_url,
            window_s=window_s,
            timeout_s=timeout_s,
            plot_dir=plots,
        )
        report = run_demo(options)
    finally:
        if local_credential is not None:
            _revoke_local(local_credential)
    if not report.ok:
        raise typer.Exit(1)
