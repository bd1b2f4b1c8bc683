"""Contract-holder discovery (UC 3.5): who holds the contracts covering a target."""

from __future__ import annotations

from datetime import datetime

from fcsbe.client.operations import operation
from fcsbe.client.transport import Transport
from fcsbe.model import ContractHolderLookupRequest, ContractHolderLookupResult, FsType, Target

__all__ = ["ContractHoldersResource"]


class ContractHoldersResource:
    """Find the parties whose contracts cover a CS, an EVSE or an EV session (roaming)."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    @operation("lookup_contract_holders")
    async def lookup(
        self, target: Target, *, at: datetime | None = None, fs_type: FsType | None = None
    ) -> ContractHolderLookupResult:
        """Look up the holders of active contracts covering `target`.

        Args:
            target: A CS, an EVSE or a session (by its pseudonymous `session_ref`).
            at: At which time (default: now).
            fs_type: Only contracts allowing this FS type.

        Returns:
            The holders; contract ids are shown for your own contracts only.

        Raises:
            NotFoundError: the target is not known to the server.
        """
        body = ContractHolderLookupRequest(target=target, at=at, fs_type=fs_type)
        response = await self._t.request(
            "POST", "/v1/contract-holders/lookup", json=body.model_dump(mode="json")
        )
        return ContractHolderLookupResult.model_validate_json(response.content)
