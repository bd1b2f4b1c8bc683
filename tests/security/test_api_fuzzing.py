"""S1: schemathesis against the served OpenAPI document, every check, positive and negative.

Every operation gets the explicit examples, the coverage phase (boundary and invalid values
derived from the schema) and `FCSBE_FUZZ_EXAMPLES` fuzzed cases (25 by default, 250 with
`FCSBE_TEST_THOROUGH=1`; fewer only where an operation has fewer distinct inputs, e.g. none),
each sent to the in-process app (ASGI, no network) and judged by all of schemathesis' checks:
no 5xx, the status and body documented, the content type right, invalid requests refused with
4xx, authentication enforced... A failure is a bug of the server or of its OpenAPI document.

The app runs on SQLite only: the API surface is the same on both backends, and the database
layer is covered by the rest of the suite on both. Generation is derandomized, so a run is
reproducible; raise `FCSBE_FUZZ_EXAMPLES` locally to look further (see docs/security.md).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from functools import cache
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from jsonschema import Draft202012Validator
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi
from starlette.types import Receive, Scope, Send

from fcsbe.cli import render_openapi
from fcsbe.server.app import create_app
from fcsbe.server.settings import Settings
from tests.conftest import fake_dns
from tests.security.fuzz_world import FuzzWorld, build_world, world_path_ids
from tests.support.databases import empty_all
from tests.support.depth import FUZZ_EXAMPLES

REQUEST_TIMEOUT_S = 600
"""Only a hang guard, never a verdict: the app runs in-process, and on a machine busy with other
work a correct answer may take far longer than schemathesis' default of 10 s. Hypothesis'
deadline is off for the same reason (below): the test judges answers, not their speed."""

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 63382,
        "generation": {
            "mode": "all",
            "max-examples": FUZZ_EXAMPLES,
            "deterministic": True,
            "no-shrink": True,
            # The bearer token is the world's (below), not a generated string; the checks
            # still send each operation without it and with a wrong one (ignored_auth).
            "with-security-parameters": False,
            # Query strings stay open, as HTTP APIs' do (an unknown parameter is ignored);
            # bodies are closed: an unknown field is a 422 (S3).
            "allow-extra-parameters": False,
        },
        "phases": {"examples": {}, "coverage": {}, "fuzzing": {}, "stateful": {"enabled": False}},
        "checks": {
            "enabled": True,
            # Schema-valid is not always valid: ids must exist, cursors must be ones this
            # server issued, windows must lie ahead... Such requests get 404/409/422, and the
            # problem check below makes sure a 422 names the field. A one-time link already
            # used is gone (410).
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "410", "422"]
            },
        },
    }
)
DOCUMENT: dict[str, Any] = json.loads(render_openapi())


class ServedApp:
    """The ASGI app schemathesis sends every case to, its own probes included.

    It exists before the app does (the schema is loaded at collection), and it keeps the app
    running across tests: schemathesis ends an app's lifespan after each test and starts it
    again at the next request, which would rebuild the engine, the registry and the world 54
    times. Here the app's lifespan starts at the first startup and ends only at the shutdown
    that follows `stop()`, all on schemathesis' event loop, the one that serves the requests.
    """

    def __init__(self) -> None:
        self.app: FastAPI | None = None
        self._running: AsyncExitStack | None = None
        self._stopping = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "the fuzz_app fixture sets the app"
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        await receive()  # lifespan.startup
        if self._running is None:
            running = AsyncExitStack()
            try:
                await running.enter_async_context(self.app.router.lifespan_context(self.app))
            except Exception as exc:
                await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                raise
            self._running = running
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        if self._stopping:
            await self._running.aclose()
            self._running = None
        await send({"type": "lifespan.shutdown.complete"})

    def stop(self) -> None:
        """End the app's lifespan (on the loop it runs on)."""
        self._stopping = True
        with asgi.get_client(self):
            pass
        asgi.shutdown_lifespans()
        self.app, self._stopping = None, False


SERVED = ServedApp()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)
schema.app = SERVED
FIELD_LOCATIONS = ("/body", "/query", "/path", "/header")


@cache
def _path_parameter(path: str, method: str, name: str) -> Draft202012Validator:
    parameters = DOCUMENT["paths"][path][method.lower()].get("parameters", [])
    (found,) = (p for p in parameters if (p["in"], p["name"]) == ("path", name))
    return Draft202012Validator(found["schema"])


@schema.hook
def map_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Every other schema-valid id is replaced by one of the world's, so that those cases
    reach the objects themselves rather than a 404 (invalid ids are left as they are)."""
    operation = context.operation
    if not path_parameters or operation is None:
        return path_parameters
    ids = world_path_ids(operation.method, operation.path)
    for name, value in path_parameters.items():
        known = ids.get(name)
        if known is None or not isinstance(value, str) or len(value) % 2:
            continue
        if _path_parameter(operation.path, operation.method, name).is_valid(value):
            path_parameters[name] = known
    return path_parameters


@pytest.fixture(scope="module")
def fuzz_app(sqlite_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """The app on SQLite with a world in it, built inside its lifespan (on the serving loop)."""
    app = create_app(
        Settings(
            database_url=sqlite_url,
            auto_migrate=False,
            auto_init_party=False,
            data_dir=tmp_path_factory.mktemp("fuzz") / "var",
            log_level="ERROR",
            workers_enabled=False,
            simulator_enabled=False,
            rate_limit_per_s=0,
        )
    )
    app.state.callback_resolver = fake_dns
    served = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[None]:
        async with served(application):
            await empty_all(application.state.engine)
            application.state.fuzz_world = await build_world(application)
            yield

    app.router.lifespan_context = lifespan
    SERVED.app = app
    try:
        with asgi.get_client(SERVED) as client:
            assert client.get("/openapi.json").json() == DOCUMENT, "not the served document"
        yield app
    finally:
        SERVED.stop()


@pytest.fixture(scope="module")
def fuzz_client(fuzz_app: FastAPI) -> Iterator[asgi.ASGIClient]:
    """One client for every case: schemathesis otherwise builds a `requests` session per
    request and looks up proxies and netrc credentials in the environment for each, which
    an in-process app never uses (thousands of times per run). It keeps no cookies, so that
    no case sends what an earlier one received, as with a session of its own."""
    with asgi.get_client(SERVED) as client:
        client.trust_env = False
        client.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        yield client


@schemathesis.check
def problem_names_the_field(
    _ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """Errors are RFC 9457 problems, a 405 says what is allowed, and a 422 names every bad
    field by a JSON pointer."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith("application/problem+json"), (
        f"{case.operation.label}: a {response.status_code} in {content_type!r}, not a problem"
    )
    if response.status_code == 405:
        assert response.headers.get("allow", [""])[0], "a 405 without the allowed methods"
    if response.status_code == 422:
        errors = response.json().get("errors") or []
        pointers = [error.get("pointer", "") for error in errors]
        assert pointers, f"{case.operation.label}: a 422 that names no field"
        assert all(p.startswith(FIELD_LOCATIONS) for p in pointers), pointers
    return None


@schema.parametrize()
@settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api(case: schemathesis.Case, fuzz_app: FastAPI, fuzz_client: asgi.ASGIClient) -> None:
    world: FuzzWorld = fuzz_app.state.fuzz_world
    headers = world.headers_for(case.operation.method, case.operation.path)
    case.call_and_validate(headers=headers, session=fuzz_client, timeout=REQUEST_TIMEOUT_S)
