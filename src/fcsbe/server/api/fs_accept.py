"""`POST /v1/flexibility-services` served without FastAPI's per-request machinery.

The FS accept is the API's hot path (quality goals P1, P2). Through FastAPI, matching the path
against every route and solving the route's dependency graph (session, signature header,
credential, role, scope, settings, group committer, idempotency header) cost about a third of
the server's CPU per accept: more than its database work. This route does the same steps in
the same order with plain calls:

1. the body is read and, when it is JSON, parsed (a malformed document is a 422 before anything
   else, as FastAPI answers it);
2. the credential (401/403/429), role and scope, as `fo_with_scope(FS_SCOPE)`;
3. the `Idempotency-Key` header and the body are validated by the FastAPI route's own parameter
   and body fields, so every 422 names the same fields in the same words;
4. the route's handler itself (`flexibility_services.accept`), the same code.

The FastAPI route stays registered: it documents the operation in the OpenAPI document and
answers when this route is not installed (`install`); tests drive both and compare the answers.
Errors are raised, not rendered, so the app's exception handlers answer them as for any route.
"""

from __future__ import annotations

import email.message
import json
from typing import Any, cast

from fastapi import FastAPI, HTTPException
from fastapi.dependencies.utils import request_body_to_args, request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic_core import PydanticUndefined
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound, request_response
from starlette.types import Receive, Scope, Send

from fcsbe.model import FlexibilityServiceRequest
from fcsbe.model.signatures import SIGNATURE_HEADER
from fcsbe.server.api.edge.authentication import authenticate, check_role
from fcsbe.server.api.edge.signatures import SignedRequest
from fcsbe.server.api.flexibility_services import FS_SCOPE, accept, router
from fcsbe.server.deps import state_session_factory, state_settings
from fcsbe.server.security.principal import Role, check_scope
from fcsbe.server.storage.fast.credentials import read_in_groups
from fcsbe.server.storage.fast.driver import reads_outside_transaction
from fcsbe.server.storage.fast.group_commit import GroupCommit

__all__ = ["PATH", "AcceptRoute", "install"]

PATH = "/v1/flexibility-services"


def _route_path(scope: Scope) -> str:
    """The path the routes match: without the `root_path` a proxy mounts the app under."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root + "/") else path


def _json_body(request: Request, body: bytes) -> Any:
    """The body as FastAPI hands it to a route with a model body: parsed when it is JSON by its
    `Content-Type` (strict: no type, no parsing), the bytes otherwise, undefined when empty."""
    if not body:
        return PydanticUndefined
    content_type = request.headers.get("content-type")
    if not content_type:
        return body
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    if message.get_content_maintype() != "application" or not (
        subtype == "json" or subtype.endswith("+json")
    ):
        return body
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", exc.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": exc.msg},
                }
            ],
            body=exc.doc,
        ) from exc
    except Exception as exc:  # e.g. bytes that are not UTF-8: FastAPI's answer, a 400
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc


class AcceptRoute(BaseRoute):
    """Matches `POST /v1/flexibility-services` only: other methods on the path fall through to
    the FastAPI routes (and their 405 lists every method the path serves)."""

    def __init__(self, documented: APIRoute) -> None:
        self.path = documented.path
        self.path_format = documented.path
        self.name = documented.name
        self.documented = documented
        self.app = request_response(self.endpoint)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and _route_path(scope) == self.path
        ):
            return Match.FULL, {"endpoint": self.endpoint, "path_params": {}, "route": self}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)  # named routes are resolved on the FastAPI route

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    async def endpoint(self, request: Request) -> Response:
        """The route of `flexibility_services.create_flexibility_service`, step for step."""
        received = _json_body(request, await request.body())
        dependant = self.documented.dependant
        # No `async with`: closing a session costs a greenlet round trip (about 45 µs), and
        # one that never began a transaction (the reads ran beside it) holds nothing.
        session = state_session_factory(request)()
        try:
            reads_outside_transaction(session)
            read_in_groups(session, request.app.state.credential_reads)
            signed = SignedRequest(request, request.headers.get(SIGNATURE_HEADER))
            principal = check_role(await authenticate(request, session), Role.FO)
            check_scope(principal, FS_SCOPE)
            headers, errors = request_params_to_args(dependant.header_params, request.headers)
            body, body_errors = await request_body_to_args(
                dependant.body_params, received, embed_body_fields=False
            )
            errors += body_errors
            if errors:
                raise RequestValidationError(errors, body=received)
            response = await accept(
                cast("FlexibilityServiceRequest", body["body"]),
                request,
                signed,
                principal,
                session,
                state_settings(request),
                cast("GroupCommit", request.app.state.group_commit),
                headers.get("idempotency_key"),
            )
            if session.in_transaction():  # the reads ran beside it: nothing to end
                await session.commit()
        except BaseException:
            if session.in_transaction():
                await session.rollback()
            raise
        finally:
            if session.in_transaction():  # an error while ending it: let go of the connection
                await session.close()
        return response


def install(app: FastAPI) -> None:
    """Serve the accept through `AcceptRoute`, ahead of every other route."""
    documented = next(
        route
        for route in router.routes
        if isinstance(route, APIRoute) and route.path == PATH and "POST" in (route.methods or ())
    )
    app.router.routes.insert(0, AcceptRoute(documented))
