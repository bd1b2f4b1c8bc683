"""`fcsbe admin event-log ...`: audit the tamper-evident event log on the server's database.

Runs on the server host against `FCSBE_DATABASE_URL` (and the signing keys in
`FCSBE_DATA_DIR`), like `fcsbe db`. The server extra is imported lazily (see `fcsbe.cli`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from fcsbe.server.services.event_log.audit import LogAudit
    from fcsbe.server.settings import Settings

__all__ = ["app"]

app = typer.Typer(help="The hash-chained event log and its signed Merkle tree heads.")


def _audit() -> LogAudit:
    from fcsbe.cli._runtime import load_settings, run_in_transaction
    from fcsbe.server.security.keys import ServerKeys
    from fcsbe.server.services.event_log.audit import verify_log

    settings = load_settings()
    keys = ServerKeys.load(settings.data_dir)

    async def work(session: AsyncSession, _settings: Settings) -> LogAudit:
        return await verify_log(session, keys.public_jwks() if keys else None)

    return run_in_transaction(work, settings)


@app.command("verify")
def verify(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Check the chain, the Merkle tree and every signed tree head; exit 1 on tampering,
    naming the first bad entry."""
    audit = _audit()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "intact": audit.intact,
                    "entries": audit.entries,
                    "heads_checked": audit.heads_checked,
                    "first_bad_seq": audit.first_bad_seq,
                    "reason": audit.reason,
                }
            )
        )
    elif audit.intact:
        typer.echo(
            f"event log intact: {audit.entries} entries, {audit.heads_checked} signed tree "
            "head(s) checked"
        )
    else:
        where = f"first bad entry: {audit.first_bad_seq}; " if audit.first_bad_seq else ""
        typer.echo(f"event log NOT intact: {where}{audit.reason}", err=True)
    if not audit.intact:
        raise typer.Exit(1)
