"""Shared steps of the family-2 scenarios: request an FS, let it be decided and started."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fcsbe.model import FlexibilityService, FlexibilityServiceRequest
from tests.fs_fixtures import request_body
from tests.scenarios.harness import Harness

__all__ = ["start_fs"]


async def start_fs(
    h: Harness,
    fs_id: str,
    fs_type: str,
    parameters: dict[str, Any],
    site: str,
    *,
    minutes: int = 10,
) -> FlexibilityService:
    """Request an FS on one site starting a minute from now, decide it and start it."""
    body = request_body(
        fs_id,
        fs_type=fs_type,
        parameters=parameters,
        targets=[("SITE", site)],
        start_in=timedelta(seconds=60),
        duration=timedelta(minutes=minutes),
        minimum_acceptance_pct=1,
        now=h.now,
    )
    await h.fo.flexibility_services.create(FlexibilityServiceRequest.model_validate(body))
    await h.steps()
    await h.run(65)
    return await h.fo.flexibility_services.get(fs_id)
