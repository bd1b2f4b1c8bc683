"""Admin commands for retention: purge what is past its retention now, or see what would go."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer

from fcsbe.cli._runtime import JsonOption, print_json, run_in_transaction

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from fcsbe.server.settings import Settings

__all__ = ["retention_app"]

retention_app = typer.Typer(help="Data retention (FCSBE_RETENTION_*).", no_args_is_help=True)


@retention_app.command("purge")
def retention_purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be deleted; delete nothing.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete every row past its retention (what the server's retention worker does)."""
    from fcsbe.server.services.retention import RetentionPolicy, purge_all
    from fcsbe.server.storage.base import utcnow

    async def work(session: AsyncSession, settings: Settings) -> dict[str, int]:
        counts = await purge_all(session, RetentionPolicy.from_settings(settings), utcnow())
        if dry_run:
            await session.rollback()  # the same deletes, undone: exact counts, nothing gone
        return asdict(counts)

    counts = run_in_transaction(work)
    if as_json:
        print_json({"dry_run": dry_run, "deleted": counts})
        return
    verb = "would delete" if dry_run else "deleted"
    typer.echo(", ".join(f"{verb} {n} {kind.replace('_', ' ')}" for kind, n in counts.items()))
