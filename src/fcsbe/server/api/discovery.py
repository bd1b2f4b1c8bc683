"""Discovery and health routes: `/versions`, `/v1`, `/healthz`, `/readyz` (no authentication)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from fcsbe.model import ModuleEndpoint, VersionDetails, VersionInfo, VersionList
from fcsbe.server.deps import (
    DbSession,
    ServerSettings,
    state_engine,
    state_keys,
    state_settings,
    state_workers,
)
from fcsbe.server.security.keys import ServerKeys
from fcsbe.server.storage.engine import answers
from fcsbe.server.storage.parties import server_party

__all__ = ["MODULES", "router"]

router = APIRouter(tags=["discovery"])

MODULES = (
    "enrolments",
    "contracts",
    "credential-checks",
    "contract-holders",
    "sites",
    "charging-stations",
    "capabilities",
    "availability",
    "sessions",
    "flexibility-services",
    "notifications",
    "event-log",
)
"""Modules of version 1; later modules are announced here as they are served."""


def _base_url(request: Request, configured: str | None) -> str:
    return (configured or str(request.base_url)).rstrip("/")


@router.get("/versions", operation_id="get_versions")
async def get_versions(request: Request, settings: ServerSettings) -> VersionList:
    """The interface versions this server speaks."""
    base = _base_url(request, settings.public_base_url)
    return VersionList(versions=[VersionInfo(version="1", url=f"{base}/v1")])


@router.get("/v1", operation_id="get_version_details")
async def get_version_details(
    request: Request, settings: ServerSettings, session: DbSession
) -> VersionDetails:
    """Modules of v1, the server's party id, its public signing keys (JWKS) and the timing an
    FO plans with (`record_delay_s`)."""
    base = _base_url(request, settings.public_base_url)
    party = await server_party(session)
    published: list[dict[str, Any]] = list(party.jwks.get("keys", [])) if party else []
    # The server signs with the keys in `data_dir` (tree heads, PoWs, ...): always publish
    # them, after any keys recorded on its party, so verifiers find every key in use.
    kids = {key.get("kid") for key in published}
    server_keys: ServerKeys = state_keys(request)
    published += [key for key in server_keys.public_jwks()["keys"] if key["kid"] not in kids]
    jwks: dict[str, Any] = {"keys": published}
    return VersionDetails(
        version="1",
        server_party_id=party.party_id if party else None,
        modules=[ModuleEndpoint(module=m, url=f"{base}/v1/{m}") for m in MODULES],
        jwks=jwks,
        webhook_public_key=server_keys.webhook_public_key(),
        record_delay_s=settings.record_delay_s,
    )


@router.get("/healthz", operation_id="get_health", include_in_schema=True)
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


_NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {
        "description": "Not ready",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}
"""Readiness answers its own JSON status, not a problem, when not ready."""


@router.get("/readyz", operation_id="get_readiness", responses=_NOT_READY)
async def readyz(request: Request) -> JSONResponse:
    """Readiness: a database connection is had and answers a query within
    `readiness_timeout_s` (an exhausted or stalled pool is not ready), and no background loop
    keeps failing or is stuck in a step (`worker_stall_s`)."""
    settings = state_settings(request)
    try:
        async with asyncio.timeout(settings.readiness_timeout_s):
            await answers(state_engine(request))
    except TimeoutError:
        return JSONResponse(
            {
                "status": "unavailable",
                "database": "stalled: no connection within "
                f"{settings.readiness_timeout_s:g} s (pool exhausted or held)",
            },
            status_code=503,
            headers={"Retry-After": "1"},
        )
    except Exception as exc:
        return JSONResponse(
            {"status": "unavailable", "database": exc.__class__.__name__},
            status_code=503,
            headers={"Retry-After": "1"},
        )
    workers = state_workers(request)
    stalled = workers.stalled(settings.worker_stall_s)
    failing = [name for name in workers.unhealthy() if name not in stalled]
    if failing or stalled:
        status: dict[str, Any] = {"status": "degraded", "database": "ok"}
        if failing:
            status["workers"] = failing
        if stalled:
            status["stalled_workers"] = stalled
        return JSONResponse(status, status_code=503, headers={"Retry-After": "5"})
    return JSONResponse({"status": "ok", "database": "ok"})
