"""The application factory: `create_app(settings)` builds a fresh FastAPI app.

Nothing is built at import time. The lifespan owns the engine: on SQLite (embedded default) it
applies migrations itself; on PostgreSQL it refuses to start on an unmigrated database, because
several replicas must not race to migrate a shared production database.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fcsbe import __version__
from fcsbe.server.adapters.ocpp.endpoint import OCPP_PATH, ocpp_endpoint
from fcsbe.server.adapters.unconnected import UnconnectedStations
from fcsbe.server.api import (
    admin_contracts,
    admin_disputes,
    admin_enrolments,
    availability,
    capabilities,
    charging_stations,
    contract_holders,
    contracts,
    credential_checks,
    discovery,
    enrolments,
    ev_users,
    event_log,
    flexibility_services,
    fs_accept,
    heartbeat,
    notifications,
    records,
    registry,
    sessions,
    sites,
    webhook_endpoints,
)
from fcsbe.server.api import metrics as metrics_api
from fcsbe.server.api.docs_pages import install_docs_pages
from fcsbe.server.api.edge.audit import SecurityEventThrottle
from fcsbe.server.api.openapi import install_openapi
from fcsbe.server.errors import install_error_handlers
from fcsbe.server.notifications.delivery import DeliveryWorker
from fcsbe.server.notifications.sender import WebhookSender
from fcsbe.server.platform.metrics import AppMetrics, MetricsMiddleware
from fcsbe.server.platform.observability import RequestContextMiddleware, configure_logging
from fcsbe.server.platform.rate_limit import RateLimitMiddleware, TokenBuckets
from fcsbe.server.security.callback_urls import system_resolver
from fcsbe.server.security.keys import ServerKeys
from fcsbe.server.security.secret_keyring import SecretKeyring
from fcsbe.server.services.enrolments.parties import ensure_server_party
from fcsbe.server.services.enrolments.webhook_endpoints import reseal_secrets
from fcsbe.server.services.event_log.tree import tree_step
from fcsbe.server.services.flexibility_services.applier import CommandApplier
from fcsbe.server.services.flexibility_services.deviation import DeviationPolicy
from fcsbe.server.services.records.disputes import proofs_step
from fcsbe.server.services.retention import RetentionPolicy
from fcsbe.server.settings import Settings
from fcsbe.server.stations import (
    HOST_ID,
    STATION_HOST_INTERVAL_S,
    StationRuntime,
    build_runtime,
    publish_step,
)
from fcsbe.server.storage import migrations
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.data_files import private_data_dir
from fcsbe.server.storage.engine import create_engine, create_session_factory
from fcsbe.server.storage.fast.group_commit import GroupCommit
from fcsbe.server.storage.fast.group_read import CredentialReads
from fcsbe.server.storage.fast.lite_reader import close_reader
from fcsbe.server.storage.fast.lite_write import writer_for
from fcsbe.server.storage.fast.warm import compile_fast_statements
from fcsbe.server.storage.wakeup import WorkListener
from fcsbe.server.workers import (
    LISTENER_CHECK_S,
    WorkerGroup,
    chain_event_log_step,
    contract_closing_step,
    credential_expiry_step,
    decision_step,
    execution_step,
    fallback_step_of,
    listener_step,
    offline_detection_step,
    outbox_purge_step,
    replay_store_purge_step,
    retention_purge_step,
    telemetry_step_of,
    transactional,
)

__all__ = ["DatabaseNotMigratedError", "create_app"]

log = logging.getLogger("fcsbe.server")

OUTBOX_PURGE_INTERVAL_S = 600.0
"""How often settled notifications past their retention are purged (in bounded batches)."""
CREDENTIAL_EXPIRY_INTERVAL_S = 3600.0
"""How often access tokens are checked for an expiry to announce (days ahead: hourly is
plenty)."""

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


async def _init_party(factory: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """First start of an embedded server: create its party and signing key (once)."""
    async with factory() as session:
        try:
            if await ensure_server_party(session, settings, utcnow()):
                await session.commit()
                log.info("initialised server party %s", settings.server_party_id)
        except IntegrityError:  # another replica did it at the same moment
            await session.rollback()


async def _seal_secrets_at_rest(
    factory: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """Files under `data_dir` readable by this user only, and every stored webhook secret
    sealed under the active secret-sealing key (clear ones from older releases, and those
    sealed before a rotation); see `security.secret_keyring`."""
    private_data_dir(settings.data_dir)
    keyring = SecretKeyring.load_or_create(settings.data_dir)
    async with factory() as session:
        resealed = await reseal_secrets(session, keyring)
        await session.commit()
    if resealed:
        log.info("sealed %d stored webhook secret(s) under key %s", resealed, keyring.active)


_HEAP_FROZEN = False


def _freeze_startup_heap() -> None:
    """Move what start-up built (modules, models, routes, the engine) out of the cyclic
    garbage collector's sight, once per process (`gc.freeze`).

    Every request allocates, so the collector runs often, and each full collection walked the
    whole start-up heap: on the FS accept that was 10-15 % of the server's CPU, in pauses that
    landed on whichever request was running. Frozen objects are still freed by reference
    counting; only cycles among them stay, and start-up makes few that later become garbage.
    """
    global _HEAP_FROZEN
    if _HEAP_FROZEN:
        return
    _HEAP_FROZEN = True
    gc.collect()
    gc.freeze()


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
        lite_writer = writer_for(engine, settings.sqlite_busy_timeout_ms)
        app.state.group_commit = group_commit = GroupCommit(
            factory, lite=None if lite_writer is None else (engine, lite_writer)
        )
        app.state.credential_reads = credential_reads = (
            CredentialReads(engine)
            if engine.dialect.name == "postgresql" and engine.dialect.driver == "asyncpg"
            else None
        )
        if settings.init_party_on_start:
            await _init_party(factory, settings)
        app.state.keys = keys = ServerKeys.load_or_create(settings.data_dir)
        await _seal_secrets_at_rest(factory, settings)
        workers = WorkerGroup(sink=app.state.metrics)
        app.state.metrics.workers = workers
        # Loops woken by `NOTIFY fcsbe_work` when another transaction makes work for them.
        idle = settings.worker_idle_interval_s
        listener = WorkListener(engine, workers.wake)
        workers.listening = lambda: listener.listening
        workers.add("work-listener", LISTENER_CHECK_S, listener_step(listener))
        workers.add(
            "event-log-chain",
            settings.event_log_chain_interval_s,
            chain_event_log_step(factory),
            idle_interval_s=idle,
        )
        head_interval = settings.event_log_tree_head_interval_s
        workers.add(
            "event-log-tree",
            settings.event_log_chain_interval_s,
            transactional(factory, lambda session: tree_step(session, keys, head_interval)),
            # Entries may wait for the next head (at most one per head interval): come back by
            # then, as no notification says when it is due.
            idle_interval_s=max(head_interval, settings.event_log_chain_interval_s),
        )
        workers.add(
            "proofs-of-work",
            settings.event_log_chain_interval_s,
            transactional(factory, lambda session: proofs_step(session, keys)),
            idle_interval_s=idle,
        )
        workers.add(
            "fs-decisions",
            settings.decision_interval_s,
            decision_step(factory, keys),
            idle_interval_s=idle,
        )
        stations = app.state.stations = app.state.stations or build_runtime(settings)
        app.state.adapter = stations.adapter
        await stations.load_registry(factory)
        adapter = stations.adapter
        deviation = DeviationPolicy.from_settings(settings)
        if not isinstance(adapter, UnconnectedStations):
            # Station-facing loops run only on replicas that hold station connections: a
            # replica with none would claim running FS and refuse every command to them. Other
            # replicas reach the stations through the station-command queue it applies. With
            # OCPP every replica holds the stations connected to it, and applies the queued
            # commands of those stations only (their connection leases say which).
            await stations.publish(factory)
            workers.add(
                "station-commands",
                settings.station_command_interval_s,
                CommandApplier(
                    factory,
                    adapter,
                    host_id=HOST_ID if hasattr(adapter, "split") else None,
                    deviation=deviation,
                ).step,
                idle_interval_s=idle,
            )
            workers.add("station-host", STATION_HOST_INTERVAL_S, publish_step(stations, factory))
            workers.add(
                "station-sync", settings.station_sync_interval_s, stations.sync_step(factory)
            )
            execution = execution_step(factory, adapter, settings.record_delay_s, deviation)
            workers.add(
                "fs-execution", settings.execution_interval_s, execution, due_in=execution.due_in
            )
            workers.add(
                "telemetry",
                settings.telemetry_interval_s,
                telemetry_step_of(factory, adapter, deviation),
            )
        workers.add(
            "fo-offline-detection",
            settings.offline_check_interval_s,
            offline_detection_step(factory),
        )
        workers.add(
            "fs-fallback", settings.offline_check_interval_s, fallback_step_of(factory, adapter)
        )
        workers.add(
            "contract-closing", settings.contract_expiry_interval_s, contract_closing_step(factory)
        )
        workers.add(
            "credential-expiry",
            CREDENTIAL_EXPIRY_INTERVAL_S,
            credential_expiry_step(factory, settings.credential_expiry_warning_days),
        )
        workers.add(
            "signature-replay-purge",
            float(settings.signature_max_skew_s),
            replay_store_purge_step(factory),
        )
        workers.add(
            "retention-purge",
            settings.retention_interval_s,
            retention_purge_step(factory, RetentionPolicy.from_settings(settings)),
        )
        workers.add(
            "outbox-purge",
            OUTBOX_PURGE_INTERVAL_S,
            outbox_purge_step(
                factory, settings.outbox_retention_days, settings.outbox_dead_retention_days
            ),
        )
        webhooks = WebhookSender.make_client(
            settings.notification_timeout_s, settings.notification_concurrency
        )
        app.state.notification_worker = delivery = DeliveryWorker(
            factory,
            WebhookSender(
                webhooks,
                timeout_s=settings.notification_timeout_s,
                concurrency=settings.notification_concurrency,
                allow_loopback=settings.webhook_allow_loopback,
                resolver=lambda host, port: app.state.callback_resolver(host, port),
            ),
            settings,
            signing_key=keys.webhook_signing_key(),
        )
        for index in range(settings.notification_loops):
            name = f"notification-delivery-{index + 1}"
            workers.add(name, settings.notification_interval_s, delivery.step, idle_interval_s=idle)
        app.state.workers = workers
        if settings.workers_enabled:
            await stations.adapter.start()
            workers.start()
        compile_fast_statements(engine.dialect.name)
        _freeze_startup_heap()
        log.info(
            "fcsbe %s ready on %s, stations: %s",
            __version__,
            engine.url.get_backend_name(),
            stations.adapter.name,
        )
        try:
            yield
        finally:
            await group_commit.close()
            if lite_writer is not None:
                await lite_writer.close()
            if credential_reads is not None:
                await credential_reads.close()
            await workers.stop()
            await listener.close()
            await stations.adapter.stop()
            await webhooks.aclose()
    finally:
        await close_reader(engine.sync_engine)
        await engine.dispose()


def create_app(
    settings: Settings | None = None, *, stations: StationRuntime | None = None
) -> FastAPI:
    """Build the FCSBE app for `settings` (default: from the environment).

    `stations` replaces the station adapter the settings would build (tests pass a simulator
    on a virtual clock).
    """
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_json)
    app = FastAPI(
        title="fcsbe",
        version=__version__,
        summary="IEC 63382 flexibility port of a charging-station backend (FCSBE)",
        description=API_DESCRIPTION,
        lifespan=_lifespan,
        responses=COMMON_RESPONSES,
        docs_url=None,  # served from the package's own assets (api/docs_pages.py)
        redoc_url=None,
        license_info={"name": "Apache-2.0", "identifier": "Apache-2.0"},
    )
    app.state.settings = settings
    app.state.stations = stations
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
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        body_timeout_s=settings.request_body_timeout_s,
    )
    if settings.metrics_enabled:
        app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
        app.include_router(metrics_api.router)
    app.include_router(discovery.router)
    app.include_router(sites.router)
    app.include_router(charging_stations.router)
    app.include_router(registry.router)
    app.include_router(sessions.router)
    app.include_router(capabilities.router)
    app.include_router(availability.router)
    app.state.callback_resolver = system_resolver
    app.state.security_throttle = SecurityEventThrottle()
    app.include_router(enrolments.router)
    app.include_router(heartbeat.router)
    app.include_router(contracts.router)
    app.include_router(credential_checks.router)
    app.include_router(contract_holders.router)
    app.include_router(admin_enrolments.router)
    app.include_router(admin_contracts.router)
    app.include_router(admin_disputes.router)
    app.include_router(event_log.router)
    app.include_router(records.router)
    app.include_router(flexibility_services.router)
    app.include_router(notifications.router)
    app.include_router(notifications.admin_router)
    app.include_router(webhook_endpoints.router)
    app.include_router(ev_users.router)
    app.include_router(ev_users.admin_router)
    # The EV user's phone app (UC 3.6): static files, not part of the API (nor of its OpenAPI).
    app.mount("/app", StaticFiles(directory=Path(__file__).parent / "app_static", html=True))
    # Charging stations connect here over OCPP-J (answered only with FCSBE_STATION_ADAPTER=ocpp).
    app.add_api_websocket_route(OCPP_PATH, ocpp_endpoint, name="ocpp")
    install_docs_pages(app, "fcsbe")
    install_openapi(app)
    if settings.fast_accept:
        fs_accept.install(app)
    return app
