"""Apps for the tests: one FastAPI app per distinct settings, reused by each test that asks.

Building an app's routes is most of what a small test costs (FastAPI prepares every route's
validators and serialisers on the first requests of each app), and the routes do not depend on
the test. A test still gets everything else of its own: `app_for` puts back the state the app
had when it was built (no engine, no stations, a fresh security-event throttle, empty rate-limit
buckets) and the test's own settings (its data folder, hence its keys), and the caller runs the
app's lifespan for the test, which makes the engine, the keys, the stations and the loops anew.

What a reused app keeps between tests: its metrics registry (a test that reads counts from
`/metrics` takes an app of its own: `@pytest.mark.own_app`) and the middleware built from the
settings it was made with (hence one app per distinct settings, its data folder aside).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from pydantic import SecretStr

from fcsbe.server.api.edge.audit import SecurityEventThrottle
from fcsbe.server.app import create_app
from fcsbe.server.settings import Settings
from fcsbe.server.stations import StationRuntime

__all__ = ["app_for"]

_BUILT: dict[str, tuple[FastAPI, dict[str, Any], list[Any]]] = {}
"""The apps of this process by settings (see `_key`), each with its state and routes as built
(an app a test added routes to is built again for the next one; such a test should take an app
of its own, `@pytest.mark.own_app`, as the routes it adds are missing from a cached OpenAPI)."""
_RUNNING: set[int] = set()
"""The apps whose lifespan runs now (by id): one of them cannot be handed out again."""


def _tracked(app: FastAPI) -> None:
    """Note when the app's lifespan runs, so that `app_for` refuses an app in use."""
    lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def tracked(application: FastAPI) -> AsyncIterator[None]:
        _RUNNING.add(id(application))
        try:
            async with lifespan(application):
                yield
        finally:
            _RUNNING.discard(id(application))

    app.router.lifespan_context = tracked


def _key(settings: Settings) -> str:
    """What the app is built from: every setting but the data folder (read at start-up)."""
    values = {
        name: value.get_secret_value() if isinstance(value, SecretStr) else value
        for name, value in settings.model_dump(exclude={"data_dir"}).items()
    }
    return repr(sorted(values.items()))


def app_for(settings: Settings, *, stations: StationRuntime | None = None) -> FastAPI:
    """An app for `settings`, as `create_app(settings, stations=stations)` would give it, and
    not started: run its lifespan for the test. One test uses it at a time (do not ask twice
    for the same settings within a test: make a second app with `create_app`)."""
    key = _key(settings)
    built = _BUILT.get(key)
    if built is None or built[0].router.routes != built[2]:
        app = create_app(settings)
        _tracked(app)
        built = _BUILT[key] = (app, dict(app.state._state), list(app.router.routes))
    app, as_built, _ = built
    assert id(app) not in _RUNNING, "the app for these settings runs: use create_app"
    state: dict[str, Any] = app.state._state
    state.clear()
    state.update(as_built)
    app.state.settings = settings
    app.state.stations = stations
    app.state.security_throttle = SecurityEventThrottle()
    if app.state.rate_limits is not None:
        app.state.rate_limits._buckets.clear()
    return app
