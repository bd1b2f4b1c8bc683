"""Admin commands for contracts: list, show, accept, reject, suspend."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from fcsbe.cli._runtime import (
    FoOption,
    JsonOption,
    every_item,
    local_operator,
    print_json,
    print_rows,
    run_in_transaction,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from fcsbe.server.settings import Settings

__all__ = ["contracts_app"]

contracts_app = typer.Typer(help="Flexibility service contracts.", no_args_is_help=True)


def _contract_line(c: dict[str, object]) -> str:
    terms = c["terms"]
    assert isinstance(terms, dict)
    pending = f"  pending rev {c['pending_revision']}" if c.get("pending_revision") else ""
    return (
        f"{c['fsc_id']}  fo {c['fo_party_id']}  {c['status']}  rev {c['revision']}{pending}  "
        f"{terms['valid_from']} .. {terms['valid_to']}  {','.join(terms['fs_types'])}"
    )


@contracts_app.command("list")
def contracts_list(
    status: Annotated[str | None, typer.Option(help="PROPOSED, ACTIVE, ...")] = None,
    fo: FoOption = None,
    as_json: JsonOption = False,
) -> None:
    """List contracts with every aggregator."""
    from fcsbe.model import ContractStatus
    from fcsbe.server.services.contracts.contracts import list_contracts

    try:
        wanted = ContractStatus(status.upper()) if status else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--status") from exc

    async def work(session: AsyncSession, _settings: Settings) -> list[dict[str, object]]:
        principal = await local_operator(session)
        return await every_item(
            lambda after, limit: list_contracts(
                session, principal, after_id=after, limit=limit, status=wanted, fo_party_id=fo
            )
        )

    print_rows(run_in_transaction(work), as_json, _contract_line)


@contracts_app.command("show")
def contracts_show(fsc_id: str, fo: FoOption = None) -> None:
    """Print one contract with every revision (JSON)."""
    from fcsbe.server.services.contracts.decisions import load_contract_of

    async def work(session: AsyncSession, _settings: Settings) -> object:
        contract = await load_contract_of(session, await local_operator(session), fsc_id, fo)
        return contract.model_dump(mode="json")

    print_json(run_in_transaction(work))


def _decide(
    fsc_id: str, kind: str, fo: str | None, revision: int | None, reason: str | None
) -> None:
    from fcsbe.model import ContractDecision, ContractDecisionKind
    from fcsbe.server.services.contracts.decisions import decide
    from fcsbe.server.storage.base import utcnow

    decision = ContractDecision(
        decision=ContractDecisionKind(kind), revision=revision, reason=reason
    )

    async def work(session: AsyncSession, _settings: Settings) -> dict[str, object]:
        principal = await local_operator(session)
        result = await decide(session, principal, fsc_id, decision, now=utcnow(), fo_party_id=fo)
        return result.model_dump(mode="json")

    typer.echo(_contract_line(run_in_transaction(work)))


RevisionOption = Annotated[
    int | None, typer.Option(help="The revision decided on (default: the pending one).")
]
ReasonOption = Annotated[str | None, typer.Option(help="Why, for the record.")]


@contracts_app.command("accept")
def contracts_accept(
    fsc_id: str, fo: FoOption = None, revision: RevisionOption = None, reason: ReasonOption = None
) -> None:
    """Accept the pending revision (or resume a suspended contract)."""
    _decide(fsc_id, "ACCEPT", fo, revision, reason)


@contracts_app.command("reject")
def contracts_reject(
    fsc_id: str, fo: FoOption = None, revision: RevisionOption = None, reason: ReasonOption = None
) -> None:
    """Reject the pending revision (a rejected proposal ends the contract)."""
    _decide(fsc_id, "REJECT", fo, revision, reason)


@contracts_app.command("suspend")
def contracts_suspend(fsc_id: str, fo: FoOption = None, reason: ReasonOption = None) -> None:
    """Suspend an active contract (no FS under it until accepted again)."""
    _decide(fsc_id, "SUSPEND", fo, None, reason)
