"""`GET /v1/capabilities`: what each named target can do, per FS type."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from fcsbe.model import Capability, FsType
from fcsbe.server.api.edge.listing import READ_RESPONSES
from fcsbe.server.api.edge.readers import InfrastructureReader
from fcsbe.server.deps import DbSession, state_adapter
from fcsbe.server.services.registry.capability_sets import capabilities_of
from fcsbe.server.services.registry.station_hosts import telemetry_interval_s
from fcsbe.server.services.registry.targets import parse_target
from fcsbe.server.storage.base import utcnow

__all__ = ["MAX_CAPABILITY_TARGETS", "router"]

MAX_CAPABILITY_TARGETS = 100
"""Most targets one capabilities request may name."""

router = APIRouter(prefix="/v1/capabilities", tags=["infrastructure"], responses=READ_RESPONSES)


@router.get("", operation_id="get_capabilities")
async def get_capabilities(
    request: Request,
    principal: InfrastructureReader,
    session: DbSession,
    target: Annotated[
        list[str],
        Query(
            min_length=1,
            max_length=MAX_CAPABILITY_TARGETS,
            description="Target as `LEVEL:id` (SITE, CS, EVSE, SESSION); repeat for several.",
            examples=["EVSE:NL*ABC*E12345*1"],
        ),
    ],
    fs_type: Annotated[
        list[FsType] | None, Query(description="Only these FS types (default: all seven).")
    ] = None,
) -> list[Capability]:
    """Capabilities per target and FS type, from the equipment and the EV connected now.

    A target must be visible at its own level: an EVSE needs an EVSE-level contract, a session a
    SESSION-level one; otherwise the answer is 404, as for an unknown id.
    """
    targets = [parse_target(t, f"/query/target/{i}") for i, t in enumerate(target)]
    interval_s = await telemetry_interval_s(session, state_adapter(request))
    return await capabilities_of(
        session, principal, utcnow(), targets, fs_type or list(FsType), interval_s
    )
