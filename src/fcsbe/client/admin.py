"""The operator side (`/admin/v1`), for a client holding an operator token: enrolment tokens,
enrolments, contract decisions, disputes of records and the CSO's baselines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fcsbe.client.contracts import contract_path
from fcsbe.client.operations import operation
from fcsbe.client.paging import AsyncPager
from fcsbe.client.transport import Transport
from fcsbe.model import (
    BaselinePeriod,
    BaselineSubmission,
    ContractDecision,
    ContractDecisionKind,
    ContractStatus,
    Dispute,
    DisputeAnswer,
    DisputeList,
    DisputeStatus,
    Enrolment,
    EnrolmentStatus,
    EnrolmentToken,
    EnrolmentTokenRequest,
    FlexibilityServiceContract,
    SubmittedBaselineInfo,
)

__all__ = ["AdminResource"]


class AdminResource:
    """Operator operations; the client's token must be an operator token (`fcsbe_op_...`)."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    @operation("create_enrolment_token")
    async def create_enrolment_token(
        self,
        fo_name: str,
        *,
        ttl_s: int | None = None,
        party_id: str | None = None,
        scopes: Sequence[str] | None = None,
    ) -> EnrolmentToken:
        """Issue a one-time enrolment token for an aggregator (hand it over out of band).

        Args:
            fo_name: Who it is for.
            ttl_s: Lifetime in seconds (default: the server's, 7 days).
            party_id: Bind it to this FO party id (needed to re-enrol a known party).
            scopes: Scopes to grant (default: all).

        Returns:
            The token; its secret is shown in this answer only.
        """
        body = EnrolmentTokenRequest(
            fo_name=fo_name,
            ttl_s=ttl_s,
            party_id=party_id,
            scopes=list(scopes) if scopes is not None else None,
        )
        response = await self._t.request(
            "POST", "/admin/v1/enrolment-tokens", json=body.model_dump(mode="json")
        )
        return EnrolmentToken.model_validate_json(response.content)

    @operation("admin_list_enrolments")
    def list_enrolments(
        self, *, status: EnrolmentStatus | None = None, page_size: int | None = None
    ) -> AsyncPager[Enrolment]:
        """Iterate over every aggregator's enrolment."""
        params = {"status": status.value if status else None}
        return AsyncPager(self._t, "/admin/v1/enrolments", Enrolment, params, page_size)

    @operation("admin_get_enrolment")
    async def get_enrolment(self, enrolment_id: str) -> Enrolment:
        """Read one enrolment."""
        response = await self._t.request("GET", f"/admin/v1/enrolments/{enrolment_id}")
        return Enrolment.model_validate_json(response.content)

    @operation("admin_revoke_enrolment")
    async def revoke_enrolment(self, enrolment_id: str) -> Enrolment:
        """Revoke an aggregator at once (credentials stop working, contracts end)."""
        response = await self._t.request("POST", f"/admin/v1/enrolments/{enrolment_id}/revoke")
        return Enrolment.model_validate_json(response.content)

    @operation("admin_list_contracts")
    def list_contracts(
        self,
        *,
        status: ContractStatus | None = None,
        fo_party_id: str | None = None,
        page_size: int | None = None,
    ) -> AsyncPager[FlexibilityServiceContract]:
        """Iterate over contracts with every aggregator."""
        params = {"status": status.value if status else None, "fo_party_id": fo_party_id}
        return AsyncPager(
            self._t, "/admin/v1/contracts", FlexibilityServiceContract, params, page_size
        )

    @operation("admin_get_contract")
    async def get_contract(
        self, fsc_id: str, *, fo_party_id: str | None = None
    ) -> FlexibilityServiceContract:
        """Read one contract (`fo_party_id` picks it when two FOs chose the same id)."""
        response = await self._t.request(
            "GET", contract_path("/admin/v1", fsc_id), params={"fo_party_id": fo_party_id}
        )
        return FlexibilityServiceContract.model_validate_json(response.content)

    @operation("decide_contract")
    async def decide_contract(
        self,
        fsc_id: str,
        decision: ContractDecisionKind,
        *,
        revision: int | None = None,
        reason: str | None = None,
        fo_party_id: str | None = None,
    ) -> FlexibilityServiceContract:
        """Accept or reject the pending revision, or suspend (ACCEPT resumes a suspended one).

        Raises:
            ConflictError: nothing pending, another revision pending, or an overlap.
        """
        body = ContractDecision(decision=decision, revision=revision, reason=reason)
        response = await self._t.request(
            "POST",
            contract_path("/admin/v1", fsc_id) + "/decision",
            json=body.model_dump(mode="json"),
            params={"fo_party_id": fo_party_id},
        )
        return FlexibilityServiceContract.model_validate_json(response.content)

    @operation("admin_list_disputes")
    async def list_disputes(
        self, statuses: Sequence[DisputeStatus | str] = (), *, limit: int = 100
    ) -> DisputeList:
        """Disputes of records, newest first (only those in `statuses` when given)."""
        params = {"status": [DisputeStatus(s).value for s in statuses], "limit": limit}
        response = await self._t.request("GET", "/admin/v1/disputes", params=params)
        return DisputeList.model_validate_json(response.content)

    @operation("admin_get_dispute")
    async def get_dispute(self, dispute_id: str) -> Dispute:
        """One dispute with every signed step."""
        response = await self._t.request("GET", f"/admin/v1/disputes/{dispute_id}")
        return Dispute.model_validate_json(response.content)

    @operation("admin_answer_dispute")
    async def answer_dispute(
        self,
        dispute_id: str,
        answer: DisputeAnswer | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> Dispute:
        """Answer an OPEN dispute: REVISE with corrections (a new record revision) or REJECT.

        Raises:
            ConflictError: not OPEN (`dispute-not-open`) or past its answer deadline.
        """
        body = DisputeAnswer.model_validate(answer)
        response = await self._t.request(
            "POST",
            f"/admin/v1/disputes/{dispute_id}/answer",
            json=body.model_dump(mode="json", exclude_none=True),
            idempotency_key=idempotency_key,
        )
        return Dispute.model_validate_json(response.content)

    @operation("admin_submit_fs_baseline")
    async def submit_baseline(
        self,
        fs_id: str,
        periods: Sequence[BaselinePeriod | Mapping[str, Any]],
        *,
        fo_party_id: str,
    ) -> SubmittedBaselineInfo:
        """Submit the CSO's baseline of an FO's FS before it starts."""
        body = BaselineSubmission.model_validate({"periods": list(periods)})
        response = await self._t.request(
            "PUT",
            f"/admin/v1/flexibility-services/{fs_id}/baseline",
            json=body.model_dump(mode="json"),
            params={"fo_party_id": fo_party_id},
        )
        return SubmittedBaselineInfo.model_validate_json(response.content)
