"""Capabilities: `GET /v1/capabilities`."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import TypeAdapter

from fcsbe.client.operations import operation
from fcsbe.client.transport import Transport
from fcsbe.model import Capability, FsType, Target

__all__ = ["CapabilitiesResource", "target_param"]

_CAPABILITIES = TypeAdapter(list[Capability])


def target_param(target: Target | str) -> str:
    """The `LEVEL:id` form of a target for query strings."""
    return target if isinstance(target, str) else f"{target.level.value}:{target.id}"


class CapabilitiesResource:
    """What targets can do per FS type, from the equipment and the EV connected now."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    @operation("get_capabilities")
    async def get(
        self, targets: Sequence[Target | str], *, fs_types: Sequence[FsType] | None = None
    ) -> list[Capability]:
        """Read the capabilities of up to 100 targets.

        Args:
            targets: `Target`s or `LEVEL:id` strings (`EVSE:NL*ABC*E12345*1`).
            fs_types: Only these FS types (default: all).

        Returns:
            One capability per target and FS type, targets in the order given.

        Raises:
            NotFoundError: a target is unknown or not visible at its level.
        """
        params: dict[str, object] = {"target": [target_param(t) for t in targets]}
        if fs_types:
            params["fs_type"] = [t.value for t in fs_types]
        response = await self._t.request("GET", "/v1/capabilities", params=params)
        return _CAPABILITIES.validate_json(response.content)
