"""Records of UC 3.4: an FS's detailed service record (DSR), its proof of work (PoW), the FO's
validation of the proof, its dispute and the FO's response to the CSO's answer, and the
baseline the FO submits before the start. `verify` fetches everything and checks it offline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fcsbe.client.operations import operation
from fcsbe.client.paging import AsyncPager
from fcsbe.client.proofs import ProofVerdict, verify_proof_of_work
from fcsbe.client.transport import Transport
from fcsbe.model import (
    BaselinePeriod,
    BaselineSubmission,
    DetailedServiceRecord,
    Dispute,
    DisputeReasonCode,
    DisputeResponse,
    DisputeResponseKind,
    EventLogEntry,
    ProofDecision,
    ProofOfWork,
    ProofValidationRequest,
    SubmittedBaselineInfo,
    VersionDetails,
)

__all__ = ["RecordsResource"]


class RecordsResource:
    """The DSR and PoW of each ended FS, and their validation by the FO."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    @operation("get_fs_record")
    async def get(self, fs_id: str) -> DetailedServiceRecord:
        """Read the detailed service record of an FS that has ended.

        Args:
            fs_id: The FS.

        Returns:
            The DSR: per interval requested, baseline, measured, delivered; sessions, totals,
            meters, data-quality flags and settlement.

        Raises:
            NotFoundError: no such FS, or it has not ended yet (`record-not-available`).
        """
        response = await self._t.request("GET", f"/v1/flexibility-services/{fs_id}/record")
        return DetailedServiceRecord.model_validate_json(response.content)

    @operation("get_fs_proof")
    async def proof(self, fs_id: str) -> ProofOfWork:
        """Read the proof of work of an FS (retried while the server is still issuing it).

        Args:
            fs_id: The FS.

        Returns:
            The PoW; check it with `verify` or `fcsbe.client.proofs.verify_proof_of_work`.

        Raises:
            NotFoundError: no such FS, or no record yet.
            ConflictError: still being issued after the retries (`proof-pending`).
        """
        response = await self._t.request("GET", f"/v1/flexibility-services/{fs_id}/proof")
        return ProofOfWork.model_validate_json(response.content)

    @operation("validate_fs_proof")
    async def validate(
        self,
        fs_id: str,
        decision: ProofDecision | str,
        reasons: Sequence[str] = (),
        *,
        reason_code: DisputeReasonCode | str | None = None,
        idempotency_key: str | None = None,
    ) -> ProofOfWork:
        """Accept the proof (the FS becomes PROVEN) or dispute it with reasons (DISPUTED: a
        dispute opens for the CSO to answer; follow it with `dispute`).

        Args:
            fs_id: The FS.
            decision: `ACCEPT` or `DISPUTE`.
            reasons: Why; at least one for a dispute (e.g. `ProofVerdict.reasons`).
            reason_code: For a dispute, what is disputed (`BASELINE`, `METER_DATA`, ...).
            idempotency_key: Reuse to retry safely; default: a fresh one per call.

        Returns:
            The PoW with its validation.

        Raises:
            ConflictError: already validated (`proof-already-validated`), not issued, or
                already disputed (`dispute-exists`).
        """
        body = ProofValidationRequest(
            decision=ProofDecision(decision),
            reasons=list(reasons),
            reason_code=None if reason_code is None else DisputeReasonCode(reason_code),
        )
        response = await self._t.request(
            "POST",
            f"/v1/flexibility-services/{fs_id}/proof/validation",
            json=body.model_dump(mode="json"),
            idempotency_key=idempotency_key,
        )
        return ProofOfWork.model_validate_json(response.content)

    @operation("get_fs_dispute")
    async def dispute(self, fs_id: str) -> Dispute:
        """Read the dispute of an FS's record: status, deadlines, record revision in force and
        every signed step.

        Raises:
            NotFoundError: no such FS, or it was never disputed (`dispute-not-found`).
        """
        response = await self._t.request("GET", f"/v1/flexibility-services/{fs_id}/dispute")
        return Dispute.model_validate_json(response.content)

    @operation("respond_to_fs_dispute")
    async def respond_to_dispute(
        self,
        fs_id: str,
        response: DisputeResponseKind | str,
        reasons: Sequence[str] = (),
        *,
        idempotency_key: str | None = None,
    ) -> Dispute:
        """Accept the CSO's answer to your dispute (the FS becomes PROVEN on the record
        revision in force: verify it first with `verify`) or escalate it.

        Args:
            fs_id: The FS.
            response: `ACCEPT` or `ESCALATE`.
            reasons: Why; at least one to escalate.
            idempotency_key: Reuse to retry safely; default: a fresh one per call.

        Raises:
            ConflictError: nothing answered yet (`dispute-not-answered`), or the revised
                record's proof is still being issued (`proof-pending`, after the retries).
        """
        body = DisputeResponse(response=DisputeResponseKind(response), reasons=list(reasons))
        answer = await self._t.request(
            "POST",
            f"/v1/flexibility-services/{fs_id}/dispute/response",
            json=body.model_dump(mode="json"),
            idempotency_key=idempotency_key,
        )
        return Dispute.model_validate_json(answer.content)

    @operation("submit_fs_baseline")
    async def submit_baseline(
        self, fs_id: str, periods: Sequence[BaselinePeriod | Mapping[str, Any]]
    ) -> SubmittedBaselineInfo:
        """Submit the baseline an FS with the SUBMITTED baseline method settles against,
        before its window starts (a later submission replaces an earlier one).

        Args:
            fs_id: The FS.
            periods: `BaselinePeriod`s (start offset and duration in s, power in W).

        Raises:
            ConflictError: the window has started (`baseline-too-late`).
            UnprocessableError: a period outside the window, or overlapping ones.
        """
        body = BaselineSubmission.model_validate({"periods": list(periods)})
        response = await self._t.request(
            "PUT",
            f"/v1/flexibility-services/{fs_id}/baseline",
            json=body.model_dump(mode="json"),
        )
        return SubmittedBaselineInfo.model_validate_json(response.content)

    @operation("get_fs_baseline")
    async def baseline(self, fs_id: str) -> SubmittedBaselineInfo:
        """Read the baseline submitted for an FS (by you or by the CSO).

        Raises:
            NotFoundError: none was submitted (`baseline-not-found`).
        """
        response = await self._t.request("GET", f"/v1/flexibility-services/{fs_id}/baseline")
        return SubmittedBaselineInfo.model_validate_json(response.content)

    async def verify(
        self, fs_id: str, jwks: Mapping[str, Any] | None = None
    ) -> tuple[ProofVerdict, DetailedServiceRecord, ProofOfWork]:
        """Fetch the FS's record, proof and event-log entries, and verify them offline.

        Args:
            fs_id: The FS.
            jwks: The CSO's public keys you trust (kept from enrolment); default: those the
                server publishes at `GET /v1`.

        Returns:
            The verdict, the record and the proof.
        """
        record = await self.get(fs_id)
        proof = await self.proof(fs_id)
        if jwks is None:
            response = await self._t.request("GET", "/v1")
            jwks = VersionDetails.model_validate_json(response.content).jwks
        params = {"fs_id": fs_id, "after_seq": proof.event_log_range.from_seq - 1}
        pager = AsyncPager(self._t, "/v1/event-log", EventLogEntry, params, 500)
        entries = [e async for e in pager if e.seq <= proof.event_log_range.to_seq]
        return verify_proof_of_work(proof, record, jwks, entries), record, proof
