"""`fcsbe admin notifications ...`: the operator's view of webhook delivery, on the database.

Runs on the server host against `FCSBE_DATABASE_URL`, like `fcsbe db`, using the same services
as `/admin/v1/notifications`. The server extra is imported lazily (see `fcsbe.cli`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Literal, TypeVar, get_args

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from fcsbe.model import NotificationRecord
    from fcsbe.server.settings import Settings

__all__ = ["app"]

app = typer.Typer(help="Webhook notifications: delivery state, dead letters, redelivery.")

T = TypeVar("T")
PartyOption = Annotated[str | None, typer.Option("--party", help="Only this FO party id.")]
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]
LimitOption = Annotated[int, typer.Option(min=1, max=10_000, help="Most rows shown.")]
DeliveryState = Literal["PENDING", "DELIVERED", "DEAD", "PARKED"]
"""`fcsbe.model.DeliveryStatus`'s values, spelled out so that `fcsbe --help` need not import the
model (a test keeps the two equal)."""
DELIVERY_STATES: tuple[str, ...] = get_args(DeliveryState)


def _run(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one committed transaction on the configured database."""
    from fcsbe.cli._runtime import run_in_transaction

    async def with_settings(session: AsyncSession, _settings: Settings) -> T:
        return await work(session)

    return run_in_transaction(with_settings)


def _show(records: list[NotificationRecord], as_json: bool) -> None:
    if as_json:
        for record in records:
            typer.echo(record.model_dump_json())
        return
    if not records:
        typer.echo("no notifications")
        return
    typer.echo(f"{'NOTIFICATION':36}  {'FO':16} {'SEQ':>6} {'TYPE':20} {'STATUS':9} {'TRIES':>5}")
    for r in records:
        seq = str(r.seq) if r.seq is not None else "-"
        line = (
            f"{r.notification_id:36}  {r.fo_party_id[:16]:16} {seq:>6} {r.type.value:20} "
            f"{r.status.value:9} {r.attempts:>5}"
        )
        if r.last_error:
            line += f"  {r.last_error[:60]}"
        typer.echo(line)


def _list(status: str | None, party: str | None, limit: int) -> list[NotificationRecord]:
    from fcsbe.model import DeliveryStatus
    from fcsbe.server.notifications.outbox import list_notifications

    async def work(session: AsyncSession) -> list[NotificationRecord]:
        records, _ = await list_notifications(
            session,
            after_id=0,
            limit=limit,
            status=DeliveryStatus(status) if status else None,
            fo_party_id=party,
        )
        return records

    return _run(work)


@app.command("list")
def list_command(
    status: Annotated[
        DeliveryState | None, typer.Option(help="Only notifications in this state.")
    ] = None,
    party: PartyOption = None,
    limit: LimitOption = 100,
    as_json: JsonOption = False,
) -> None:
    """List notifications with their delivery state, oldest first."""
    _show(_list(status, party, limit), as_json)


@app.command("dead")
def dead_command(
    party: PartyOption = None, limit: LimitOption = 100, as_json: JsonOption = False
) -> None:
    """List the dead letters: notifications whose retries ran out."""
    _show(_list("DEAD", party, limit), as_json)


@app.command("attempts")
def attempts_command(
    notification_id: Annotated[str, typer.Argument(help="The notification (webhook-id).")],
    as_json: JsonOption = False,
) -> None:
    """Show the delivery log of one notification."""
    from fcsbe.server.errors import NotFound
    from fcsbe.server.notifications.outbox import delivery_attempts

    async def work(session: AsyncSession) -> list[str]:
        items, _ = await delivery_attempts(session, notification_id, 0, 10_000)
        if as_json:
            return [item.model_dump_json() for item in items]
        return [
            f"#{a.attempt:<3} {a.attempted_at.isoformat()}  {a.outcome.value:9} "
            f"{a.status_code or '-':>3}  {a.duration_ms:>6} ms  {a.error or ''}"
            for a in items
        ]

    try:
        lines = _run(work)
    except NotFound as exc:
        typer.echo(str(exc.detail), err=True)
        raise typer.Exit(1) from exc
    typer.echo("\n".join(lines) if lines else "no attempts yet")


@app.command("redeliver")
def redeliver_command(
    notification_ids: Annotated[
        list[str] | None, typer.Argument(help="Notifications to push again.")
    ] = None,
    dead: Annotated[bool, typer.Option("--dead", help="Every dead letter.")] = False,
    parked: Annotated[bool, typer.Option("--parked", help="Every parked notification.")] = False,
    party: PartyOption = None,
) -> None:
    """Push notifications again now, with a fresh 24 h retry window."""
    from fcsbe.model import DeliveryStatus, RedeliveryRequest
    from fcsbe.server.notifications.outbox import redeliver

    if sum([bool(notification_ids), dead, parked]) != 1:
        typer.echo("give notification ids, or exactly one of --dead / --parked", err=True)
        raise typer.Exit(2)
    status = DeliveryStatus.DEAD if dead else DeliveryStatus.PARKED if parked else None
    request = RedeliveryRequest(
        notification_ids=notification_ids or None, status=status, fo_party_id=party
    )

    async def work(session: AsyncSession) -> int:
        return (await redeliver(session, request)).count

    count = _run(work)
    typer.echo(json.dumps({"redelivered": count}))
