"""The published OpenAPI document: what FastAPI derives from the routes, completed with what it
cannot see.

FastAPI documents error answers as `application/json` (and its own 422 body, which this server
never sends) and knows nothing of the bearer authentication done in a dependency. Clients and
API fuzzers read the document as the contract, so it is completed here, once for every route,
at no cost per request:

- every error answer (4xx/5xx) is an RFC 9457 `Problem` in `application/problem+json`;
- 429 and 503 carry `Retry-After`;
- an operation that can answer 401 authenticates with the bearer scheme (routes list their
  401 in `responses=`);
- an operation with a request body can answer 400 (a body that is not JSON at all);
- the `Idempotency-Key` header is required (a request without it gets 400; it is declared
  optional in the code so that its absence is that 400 and not a generic 422);
- an operation that verifies `X-Fcsbe-Signature` declares the header (through the `Signed`
  dependency of `fcsbe.server.api.edge.signatures`, the same one that lets the route verify)
  and its 401 names the `signature-*` problems (`x-problem-types` lists their `type` URIs).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from fcsbe.model import SIGNATURE_HEADER, Problem, problem_type
from fcsbe.server.api.edge.problems import problem_description
from fcsbe.server.api.edge.signatures import SIGNATURE_PROBLEMS
from fcsbe.server.errors import PROBLEM_JSON

__all__ = [
    "BEARER_SCHEME",
    "IDEMPOTENCY_KEY",
    "complete_document",
    "install_openapi",
    "signed_operations",
]

BEARER_SCHEME = "bearerAuth"
IDEMPOTENCY_KEY = "Idempotency-Key"
_PROBLEM_REF = "#/components/schemas/Problem"
_REPLACED_SCHEMAS = ("HTTPValidationError", "ValidationError")
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    }
}


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` return the completed document (built once, then cached)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete_document(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _is_problem(response: dict[str, Any]) -> bool:
    """Whether an error answer is (or should be) a problem: undescribed, or FastAPI's own."""
    content = response.get("content")
    if not content:
        return True
    refs = {str(media.get("schema", {}).get("$ref", "")) for media in content.values()}
    return refs <= {_PROBLEM_REF, *(f"#/components/schemas/{n}" for n in _REPLACED_SCHEMAS)}


def _signature_parameter(operation: dict[str, Any]) -> dict[str, Any] | None:
    for parameter in operation.get("parameters", []):
        if (parameter.get("in"), parameter.get("name")) == ("header", SIGNATURE_HEADER):
            return parameter  # type: ignore[no-any-return]
    return None


def _verifies_signatures(operation: dict[str, Any]) -> bool:
    return _signature_parameter(operation) is not None


def signed_operations(document: dict[str, Any]) -> list[str]:
    """`METHOD /path` of every operation that verifies `X-Fcsbe-Signature`, in document order."""
    return [
        f"{method.upper()} {path}"
        for path, path_item in document.get("paths", {}).items()
        for method, operation in path_item.items()
        if _verifies_signatures(operation)
    ]


def _declare_signature_problems(responses: dict[str, Any]) -> None:
    """Name the `signature-*` problems on the 401 of an operation that verifies signatures."""
    unauthorized = responses.setdefault("401", {"description": problem_description(401)})
    reasons = "; ".join(f"`{slug}`: {why}" for slug, why in SIGNATURE_PROBLEMS.items())
    unauthorized["description"] = (
        f"{unauthorized.get('description') or problem_description(401)}. "
        f"Signature problems: {reasons}."
    )
    unauthorized["x-problem-types"] = [problem_type(slug) for slug in SIGNATURE_PROBLEMS]


def complete_document(document: dict[str, Any]) -> dict[str, Any]:
    """Complete FastAPI's document in place (see the module docstring); returns it."""
    paths: dict[str, dict[str, Any]] = document.get("paths", {})
    for path_item in paths.values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            signature = _signature_parameter(operation)
            if signature is not None:
                # A header is a string or absent; FastAPI spells `str | None` as a nullable union.
                signature["schema"] = {"type": "string", "title": SIGNATURE_HEADER}
                _declare_signature_problems(responses)
            if "401" in responses:
                operation.setdefault("security", [{BEARER_SCHEME: []}])
            if "requestBody" in operation:
                responses.setdefault("400", {"description": problem_description(400)})
            for parameter in operation.get("parameters", []):
                if (parameter.get("in"), parameter.get("name")) == ("header", IDEMPOTENCY_KEY):
                    parameter["required"] = True
            for status, response in operation.get("responses", {}).items():
                if status[0] not in "45" or not _is_problem(response):
                    continue
                response["content"] = {PROBLEM_JSON: {"schema": {"$ref": _PROBLEM_REF}}}
                if status in ("429", "503"):
                    response.setdefault("headers", _RETRY_AFTER)
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in _REPLACED_SCHEMAS:
        schemas.pop(name, None)
    if "Problem" not in schemas:
        problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(problem.pop("$defs", {}))
        schemas["Problem"] = problem
    components.setdefault("securitySchemes", {})[BEARER_SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "description": "An FO access token, an operator token or an EV-user token.",
    }
    return document
