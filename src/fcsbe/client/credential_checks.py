"""The credentials check: may an FS run under a contract on these targets?"""

from __future__ import annotations

from collections.abc import Sequence

from fcsbe.client.operations import operation
from fcsbe.client.transport import Transport
from fcsbe.model import CredentialCheckRequest, CredentialCheckResult, FsType, Target, TimeWindow

__all__ = ["CredentialChecksResource"]


class CredentialChecksResource:
    """Ask before you send an FS: actor, contract and one verdict per target."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    @operation("check_credentials")
    async def check(
        self,
        *,
        fsc_id: str,
        fs_type: FsType,
        targets: Sequence[Target],
        window: TimeWindow,
        required_conformity: Sequence[str] = (),
    ) -> CredentialCheckResult:
        """Run a credentials check.

        Args:
            fsc_id: Your contract the FS would run under.
            fs_type: The FS type intended.
            targets: Sites, CSs, EVSEs or sessions to check.
            window: When the FS would run.
            required_conformity: Standards each target must be certified for over the window
                (e.g. `EN 50549-1`).

        Returns:
            The verdicts; `result.ok` is True when everything passes.

        Raises:
            NotFoundError: no such contract of yours.
        """
        body = CredentialCheckRequest(
            fsc_id=fsc_id,
            fs_type=fs_type,
            targets=list(targets),
            window=window,
            required_conformity=list(required_conformity),
        )
        response = await self._t.request(
            "POST", "/v1/credential-checks", json=body.model_dump(mode="json")
        )
        return CredentialCheckResult.model_validate_json(response.content)
