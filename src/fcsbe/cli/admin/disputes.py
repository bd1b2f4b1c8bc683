"""Admin commands for disputes of records: list, show, answer (a corrected record revision or
a rejection with reasons). The FO then accepts or escalates through the API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from fcsbe.cli._runtime import JsonOption, local_operator, print_json, run_in_transaction

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from fcsbe.server.settings import Settings

__all__ = ["disputes_app"]

disputes_app = typer.Typer(help="Disputes of records (UC 3.4).", no_args_is_help=True)


def _line(d: dict[str, object]) -> str:
    due = d["response_due"] if d["status"] in ("REVISED", "REJECTED") else d["answer_due"]
    due_text = f"  due {due}" if d["status"] in ("OPEN", "REVISED", "REJECTED") else ""
    return (
        f"{d['dispute_id']}  fo {d['fo_party_id']}  fs {d['fs_id']}  {d['status']}  "
        f"{d['reason_code']}  record rev {d['record_revision']}{due_text}"
    )


@disputes_app.command("list")
def disputes_list(
    status: Annotated[
        list[str] | None, typer.Option(help="OPEN, REVISED, REJECTED, ACCEPTED, ESCALATED.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List disputes, newest first (OPEN ones await your answer)."""
    from fcsbe.model import DisputeStatus
    from fcsbe.server.services.records.disputes import disputes

    try:
        wanted = [DisputeStatus(s.upper()) for s in status or []]
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--status") from exc

    async def work(session: AsyncSession, _settings: Settings) -> list[dict[str, object]]:
        found = await disputes(session, wanted, limit=500)
        return [d.model_dump(mode="json") for d in found.items]

    rows = run_in_transaction(work)
    if as_json:
        print_json(rows)
        return
    for row in rows:
        typer.echo(_line(row))


@disputes_app.command("show")
def disputes_show(dispute_id: str) -> None:
    """Print one dispute with every signed step (JSON)."""
    from fcsbe.server.services.records.disputes import get_dispute

    async def work(session: AsyncSession, _settings: Settings) -> object:
        return (await get_dispute(session, dispute_id)).model_dump(mode="json")

    print_json(run_in_transaction(work))


@disputes_app.command("answer")
def disputes_answer(
    dispute_id: str,
    decision: Annotated[str, typer.Option(help="REVISE (a corrected record) or REJECT.")],
    reason: Annotated[list[str], typer.Option(help="Why (repeatable; at least one).")],
    reason_code: Annotated[
        str, typer.Option(help="METER_DATA, BASELINE, PERFORMANCE, SETTLEMENT, ...")
    ] = "OTHER",
    baseline_method: Annotated[
        str | None, typer.Option(help="REVISE: rebuild with this baseline method.")
    ] = None,
    exclude_meter: Annotated[
        list[str] | None, typer.Option(help="REVISE: leave this meter's readings out.")
    ] = None,
    tolerance_pct: Annotated[
        float | None, typer.Option(help="REVISE: rebuild with this tolerance.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Answer an OPEN dispute before its deadline; the FO then accepts or escalates."""
    from pydantic import ValidationError

    from fcsbe.model import DisputeAnswer
    from fcsbe.server.security.keys import ServerKeys
    from fcsbe.server.services.records.disputes import DisputeDeadlines, answer_dispute

    corrections = None
    if decision.upper() == "REVISE":
        corrections = {
            "baseline_method": baseline_method,
            "excluded_meters": list(exclude_meter or []),
            "tolerance_pct": tolerance_pct,
        }
    try:
        answer = DisputeAnswer.model_validate(
            {
                "answer": decision.upper(),
                "reason_code": reason_code.upper(),
                "reasons": list(reason),
                "corrections": corrections,
            }
        )
    except ValidationError as exc:
        raise typer.BadParameter(str(exc)) from exc

    async def work(session: AsyncSession, settings: Settings) -> dict[str, object]:
        operator = await local_operator(session)
        keys = ServerKeys.load(settings.data_dir)
        if keys is None:  # every step is signed: never answer without the server's key
            raise typer.BadParameter(
                f"no server signing key in {settings.data_dir} (FCSBE_DATA_DIR as the server has)"
            )
        done = await answer_dispute(
            session,
            keys,
            operator.party_id,
            dispute_id,
            answer,
            deadlines=DisputeDeadlines.from_settings(settings),
        )
        return done.model_dump(mode="json")

    result = run_in_transaction(work)
    if as_json:
        print_json(result)
        return
    typer.echo(_line(result))
