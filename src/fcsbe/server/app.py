"""The application factory: `create_app(settings)` builds a fresh FastAPI app.

Nothing is built at import time. The lifespan owns the engine: on SQLite (embedded default) it
applies migrations itself; on PostgreSQL it refuses to start on an unmigrated database, because
several replicas must not race to migrate a shared production database.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from fcsbe import __version__
from fcsbe.server.api import discovery, flexibility_services
from fcsbe.server.api import metrics as metrics_api
from fcsbe.server.errors import install_error_handlers
from fcsbe.server.metrics import AppMetrics, MetricsMiddleware
from fcsbe.server.observability import RequestContextMiddleware, configure_logging
from fcsbe.server.rate_limit import RateLimitMiddleware, TokenBuckets
from fcsbe.server.settings import Settings
from fcsbe.server.storage import migrations
from fcsbe.server.storage.engine import create_engine, create_session_factory
from fcsbe.server.workers import WorkerGroup, chain_event_log_step, decision_step

__all__ = ["DatabaseNotMigratedError", "create_app"]

log = logging.getLogger("fcsbe.server")

API_DESCRIPTION = """\
The flexibility port of a charging-station backend (FCSBE), IEC 63382: the interface through
which a flexibility operator (FO, aggregator) uses the batteries of connected EVs (V1G and V2G)
for grid services.

**Sign convention:** active power is positive for import (charging) and negative for export
(discharging). Errors are RFC 9457 `application/problem+json`.
"""


COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    429: {"description": "Rate limit reached; retry after `Retry-After` seconds"},
    503: {"description": "Temporarily unavailable (e.g. database); retry after `Retry-After`"},
}
"""Answers any operation can give, documented once for all of them."""


class DatabaseNotMigratedError(RuntimeError):
    """The database is behind the code's migrations and the server must not serve it."""


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    engine = create_engine(settings)
    try:
        if settings.migrate_on_start:
            await migrations.upgrade_async(settings.database_url)
        elif not await migrations.is_up_to_date(engine, settings.database_url):
            raise DatabaseNotMigratedError(
                "The database is not at the current schema revision. Run "
                "`fcsbe db upgrade` (with the same FCSBE_DATABASE_URL) and start again."
            )
        app.state.engine = engine
        app.state.session_factory = factory = create_session_factory(engine)
        workers = WorkerGroup(sink=app.state.metrics)
        app.state.metrics.workers = workers
        workers.add(
            "event-log-chain", settings.event_log_chain_interval_s, chain_event_log_step(factory)
        )
        workers.add("fs-decisions", settings.decision_interval_s, decision_step(factory))
        app.state.workers = workers
        if settings.workers_enabled:
            workers.start()
        log.info("fcsbe %s ready on %s", __version__, engine.url.get_backend_name())
        try:
            yield
        finally:
            await workers.stop()
    finally:
        await engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the FCSBE app for `settings` (default: from the environment)."""
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_json)
    app = FastAPI(
        title="fcsbe",
        version=__version__,
        summary="IEC 63382 flexibility port of a charging-station backend (FCSBE)",
        description=API_DESCRIPTION,
        lifespan=_lifespan,
        responses=COMMON_RESPONSES,
        license_info={"name": "Apache-2.0", "identifier": "Apache-2.0"},
    )
    app.state.settings = settings
    app.state.metrics = AppMetrics()
    app.state.rate_limits = (
        TokenBuckets(settings.rate_limit_per_s, settings.rate_limit_burst)
        if settings.rate_limit_per_s > 0
        else None
    )
    install_error_handlers(app)
    # Outermost last: metrics see every answer, the request context wraps the rate limit's 429.
    if app.state.rate_limits is not None:
        app.add_middleware(RateLimitMiddleware, buckets=app.state.rate_limits)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    if settings.metrics_enabled:
        app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
        app.include_router(metrics_api.router)
    app.include_router(discovery.router)
    app.include_router(flexibility_services.router)
    return app
