"""Flexibility service contracts (UC 3.3): propose, list, read, amend, terminate."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from fcsbe.client.operations import operation
from fcsbe.client.paging import AsyncPager
from fcsbe.client.transport import Transport
from fcsbe.model import (
    ContractAmendment,
    ContractProposal,
    ContractStatus,
    ContractTermination,
    FlexibilityServiceContract,
)

__all__ = ["ContractsResource", "contract_path"]


def contract_path(prefix: str, fsc_id: str) -> str:
    """The URL path of one contract under `prefix` (`/v1` or `/admin/v1`)."""
    return f"{prefix}/contracts/{quote(fsc_id, safe='')}"


class ContractsResource:
    """Your contracts with the CSO/CSP behind this server."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    @operation("propose_contract")
    async def propose(
        self, proposal: ContractProposal, *, idempotency_key: str | None = None
    ) -> FlexibilityServiceContract:
        """Propose a contract; it stays PROPOSED until the operator accepts or rejects it.

        Args:
            proposal: The contract: id, provider, holder and terms.
            idempotency_key: Reuse one to retry safely after a lost answer.

        Raises:
            ConflictError: an id you already used, or an overlap with a live contract of yours.
            UnprocessableEntityError: a session as target, a window already over, ...
                (whether a target exists is not told: the operator's acceptance checks it)
        """
        response = await self._t.request(
            "POST",
            "/v1/contracts",
            json=proposal.model_dump(mode="json"),
            idempotency_key=idempotency_key,
        )
        return FlexibilityServiceContract.model_validate_json(response.content)

    @operation("list_contracts")
    def list(
        self, *, status: ContractStatus | None = None, page_size: int | None = None
    ) -> AsyncPager[FlexibilityServiceContract]:
        """Iterate over your contracts, oldest first (`async for contract in ...`).

        Args:
            status: Only contracts in this status.
            page_size: Items fetched per request.
        """
        params = {"status": status.value if status else None}
        return AsyncPager(self._t, "/v1/contracts", FlexibilityServiceContract, params, page_size)

    @operation("get_contract")
    async def get(self, fsc_id: str) -> FlexibilityServiceContract:
        """Read one of your contracts with every revision.

        Raises:
            NotFoundError: no such contract of yours.
        """
        response = await self._t.request("GET", contract_path("/v1", fsc_id))
        return FlexibilityServiceContract.model_validate_json(response.content)

    @operation("amend_contract")
    async def amend(
        self, fsc_id: str, amendment: ContractAmendment, *, idempotency_key: str | None = None
    ) -> FlexibilityServiceContract:
        """Propose new terms (a full replacement) as a new revision awaiting acceptance; the
        terms in force stay until then."""
        response = await self._t.request(
            "PATCH",
            contract_path("/v1", fsc_id),
            json=amendment.model_dump(mode="json"),
            idempotency_key=idempotency_key,
        )
        return FlexibilityServiceContract.model_validate_json(response.content)

    @operation("terminate_contract")
    async def terminate(
        self,
        fsc_id: str,
        *,
        reason: str | None = None,
        effective_at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> FlexibilityServiceContract:
        """End a contract now, or at `effective_at`."""
        body = ContractTermination(reason=reason, effective_at=effective_at)
        response = await self._t.request(
            "POST",
            contract_path("/v1", fsc_id) + "/terminate",
            json=body.model_dump(mode="json"),
            idempotency_key=idempotency_key,
        )
        return FlexibilityServiceContract.model_validate_json(response.content)
