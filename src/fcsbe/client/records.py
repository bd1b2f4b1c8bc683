"""Records of UC 3.4: an FS's detailed service record (DSR), its proof of work (PoW), and the
FO's validation of the proof. `verify` fetches everything and checks it offline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fcsbe.client.operations import operation
from fcsbe.client.paging import AsyncPager
from fcsbe.client.proofs import ProofVerdict, verify_proof_of_work
from fcsbe.client.transport import Transport
from fcsbe.model import (
    DetailedServiceRecord,
    EventLogEntry,
    ProofDecision,
    ProofOfWork,
    ProofValidationRequest,
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
        idempotency_key: str | None = None,
    ) -> ProofOfWork:
        """Accept the proof (the FS becomes PROVEN) or dispute it with reasons (DISPUTED).

        Args:
            fs_id: The FS.
            decision: `ACCEPT` or `DISPUTE`.
            reasons: Why; at least one for a dispute (e.g. `ProofVerdict.reasons`).
            idempotency_key: Reuse to retry safely; default: a fresh one per call.

        Returns:
            The PoW with its validation.

        Raises:
            ConflictError: already validated (`proof-already-validated`) or not issued.
        """
        body = ProofValidationRequest(decision=ProofDecision(decision), reasons=list(reasons))
        response = await self._t.request(
            "POST",
            f"/v1/flexibility-services/{fs_id}/proof/validation",
            json=body.model_dump(mode="json"),
            idempotency_key=idempotency_key,
        )
        return ProofOfWork.model_validate_json(response.content)

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
