"""`GET /metrics`: Prometheus text exposition of the app's metrics (server/platform/metrics.py).

Kept out of the OpenAPI document: it is for the operator's monitoring, not for FO systems, and
has no client method. Optionally guarded by a bearer token (`FCSBE_METRICS_TOKEN`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from fcsbe.server.deps import ServerSettings, state_metrics, state_session_factory
from fcsbe.server.errors import Unauthorized
from fcsbe.server.platform.metrics import CONTENT_TYPE, AppMetrics
from fcsbe.server.security.tokens import secrets_equal

__all__ = ["router"]

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, settings: ServerSettings) -> Response:
    """Every metric of this replica; database figures are read now (cached for a second)."""
    if settings.metrics_token is not None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        expected = settings.metrics_token.get_secret_value()
        if scheme.lower() != "bearer" or not secrets_equal(token.strip(), expected):
            raise Unauthorized("The metrics need `Authorization: Bearer <metrics token>`.")
    app_metrics: AppMetrics = state_metrics(request)
    await app_metrics.refresh(state_session_factory(request))
    return Response(app_metrics.render(), media_type=CONTENT_TYPE)
