"""Discovery and health: `GET /versions`, `GET /v1`, `/healthz`, `/readyz`."""

from __future__ import annotations

from typing import Any

from fcsbe.client.operations import operation
from fcsbe.client.transport import Transport
from fcsbe.model import VersionDetails, VersionList

__all__ = ["DiscoveryResource"]


class DiscoveryResource:
    """What the server offers, before and after enrolment (no credentials needed)."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    @operation("get_versions")
    async def versions(self) -> VersionList:
        """List the interface versions the server speaks.

        Returns:
            The versions and their base URLs.
        """
        response = await self._t.request("GET", "/versions")
        return VersionList.model_validate_json(response.content)

    @operation("get_version_details")
    async def version_details(self) -> VersionDetails:
        """Read the v1 details: modules, the server's party id and its signing keys (JWKS).

        Returns:
            The version details document.
        """
        response = await self._t.request("GET", "/v1")
        return VersionDetails.model_validate_json(response.content)

    @operation("get_health")
    async def health(self) -> dict[str, Any]:
        """Check that the server process answers (liveness)."""
        response = await self._t.request("GET", "/healthz")
        result: dict[str, Any] = response.json()
        return result

    @operation("get_readiness")
    async def readiness(self) -> dict[str, Any]:
        """Check that the server can serve (its database answers).

        Raises:
            ServiceUnavailableError: the server is not ready (after the retries).
        """
        response = await self._t.request("GET", "/readyz")
        result: dict[str, Any] = response.json()
        return result
