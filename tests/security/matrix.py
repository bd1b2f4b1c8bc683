"""The authorisation matrix: one row per served route, saying who may call it.

Every route the app serves must have a row here (a test compares with the served OpenAPI), so a
route added without one fails the suite. To add a route, add a `Row`:

- `who`: PUBLIC (anyone), FO, OPERATOR, EV_USER, ENROLMENT_TOKEN (only a one-time token) or
  EV_USER_INVITE (only the one-time code of an EV user's personal link);
- `path`: the OpenAPI path; `{name}` parameters are filled from `World.ids` (FO A's objects);
- `body` / `query`: a valid request from the allowed caller, built from the world;
- `owned`: True when the request names FO A's objects (path or body): FO B must then get 404
  and change nothing. For routes that are not owned, FO B gets its own answer, which must not
  mention FO A's ids.

Callers tried on every row: FO A, FO B (another tenant), the operator, an EV user, anonymous,
and a revoked FO token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from fcsbe.model import generate_signing_key, public_jwk
from fcsbe.server.storage.base import utcnow
from tests.support.flows import proposal, terms
from tests.support.fs_fixtures import request_body
from tests.support.registry_fixtures import EVSE_DC, EVSE_HOME

__all__ = ["ROWS", "SCOPES", "Row", "Who", "World", "scope_of"]


class Who(StrEnum):
    """Who a route is for."""

    PUBLIC = "PUBLIC"
    FO = "FO"
    OPERATOR = "OPERATOR"
    EV_USER = "EV_USER"
    ENROLMENT_TOKEN = "ENROLMENT_TOKEN"
    EV_USER_INVITE = "EV_USER_INVITE"
    """The one-time code of an EV user's personal link, as the bearer."""
    FO_OR_OPERATOR = "FO_OR_OPERATOR"
    """Infrastructure reads: FOs through their contracts, the operator everything."""


@dataclass
class World:
    """What exists before each row runs; `ids` fill path templates."""

    tokens: dict[str, str]
    enrolment_token: str
    ids: dict[str, str] = field(default_factory=dict)
    ev_invite: str = ""


Body = Callable[[World], Mapping[str, Any] | None]


@dataclass(frozen=True)
class Row:
    """One route and who may call it."""

    method: str
    path: str
    who: Who
    owned: bool = False
    body: Body = lambda _world: None
    query: Mapping[str, str] = field(default_factory=dict)
    ok: frozenset[int] | None = None
    """Statuses of the allowed caller when not plain success: e.g. 409 for a control route on
    the world's FS, which is not running (authorisation passed; the state refused it)."""

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def _window() -> dict[str, str]:
    start = utcnow().replace(microsecond=0) + timedelta(hours=1)
    return {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}


def _fs_request(fs_id: str, world: World) -> dict[str, Any]:
    return request_body(fs_id, fsc_id=world.ids["fsc_id"], targets=[("EVSE", EVSE_DC)])


def _registry(_world: World) -> dict[str, Any]:
    from fcsbe.server.adapters.scenario_registry import registry_of, scenario_fleet

    return registry_of(scenario_fleet("uc-1.1")).model_dump(mode="json")


def _enrolment(_world: World) -> dict[str, Any]:
    return {
        "party": {"party_id": "NL-NEW", "roles": ["FO"], "legal_name": "New", "country": "NL"},
        "callback_base_url": "https://new.example.com/fcsbe",
        "signing_key": public_jwk(generate_signing_key("new-1")),
    }


ROWS: list[Row] = [
    # Discovery and health
    Row("GET", "/versions", Who.PUBLIC),
    Row("GET", "/v1", Who.PUBLIC),
    Row("GET", "/healthz", Who.PUBLIC),
    Row("GET", "/readyz", Who.PUBLIC),
    # Enrolment (UC 3.1)
    Row("POST", "/v1/enrolments", Who.ENROLMENT_TOKEN, body=_enrolment),
    Row("GET", "/v1/enrolments/self", Who.FO),
    Row(
        "PATCH",
        "/v1/enrolments/self",
        Who.FO,
        body=lambda _w: {"callback_base_url": "https://moved.example.com/hooks"},
    ),
    Row("PUT", "/v1/enrolments/self/credentials", Who.FO),
    Row("DELETE", "/v1/enrolments/self", Who.FO),
    Row("POST", "/v1/heartbeat", Who.FO, body=lambda _w: {"sent_at": utcnow().isoformat()}),
    # Contracts (UC 3.3), credentials check, holders (UC 3.5)
    Row(
        "POST",
        "/v1/contracts",
        Who.FO,
        body=lambda _w: proposal(
            "fsc-new", [{"level": "EVSE", "id": EVSE_HOME}], fs_types=("CONGESTION",)
        ).model_dump(mode="json"),
    ),
    Row("GET", "/v1/contracts", Who.FO),
    Row("GET", "/v1/contracts/{fsc_id}", Who.FO, owned=True),
    Row(
        "PATCH",
        "/v1/contracts/{fsc_id}",
        Who.FO,
        owned=True,
        body=lambda _w: terms([{"level": "EVSE", "id": EVSE_DC}], fs_types=("SETPOINT",)),
    ),
    Row("POST", "/v1/contracts/{fsc_id}/terminate", Who.FO, owned=True, body=lambda _w: {}),
    Row(
        "POST",
        "/v1/credential-checks",
        Who.FO,
        owned=True,
        body=lambda w: {
            "fsc_id": w.ids["fsc_id"],
            "fs_type": "SETPOINT",
            "targets": [{"level": "EVSE", "id": EVSE_DC}],
            "window": _window(),
        },
    ),
    Row(
        "POST",
        "/v1/contract-holders/lookup",
        Who.FO,
        body=lambda _w: {"target": {"level": "EVSE", "id": EVSE_DC}},
    ),
    # Flexibility services (UC 2.x)
    Row(
        "POST",
        "/v1/flexibility-services",
        Who.FO,
        body=lambda w: _fs_request("fs-new", w),
    ),
    Row("GET", "/v1/flexibility-services", Who.FO),
    Row("GET", "/v1/flexibility-services/{fs_id}", Who.FO, owned=True),
    Row(
        "PUT",
        "/v1/flexibility-services/{fs_id}",
        Who.FO,
        owned=True,
        body=lambda w: _fs_request(w.ids["fs_id"], w),
    ),
    Row(
        "POST",
        "/v1/flexibility-services/{fs_id}/cancel",
        Who.FO,
        owned=True,
        body=lambda _w: {"reason": "matrix"},
    ),
    Row(
        "POST",
        "/v1/flexibility-services/{fs_id}/setpoints",
        Who.FO,
        owned=True,
        body=lambda _w: {"p_w": 1000.0, "sequence": 1},
        ok=frozenset({409}),
    ),
    Row(
        "POST",
        "/v1/flexibility-services/{fs_id}/activations",
        Who.FO,
        owned=True,
        body=lambda _w: {
            "activation_id": "a-1",
            "direction": "UP",
            "delta_p_w": 1000.0,
            "full_activation_time_s": 60,
            "duration_s": 300,
        },
        ok=frozenset({409}),
    ),
    Row("GET", "/v1/flexibility-services/{fs_id}/measurements", Who.FO, owned=True),
    Row("GET", "/v1/flexibility-services/{fs_id}/evidence", Who.FO, owned=True),
    Row("GET", "/v1/flexibility-services/{fs_id}/evidence/summary", Who.FO, owned=True),
    Row("GET", "/v1/flexibility-services/{fs_id}/evidence/plot", Who.FO, owned=True),
    # Station commands: the world's FS has none, so its owner gets 404 (authorisation passed)
    Row(
        "GET",
        "/v1/flexibility-services/{fs_id}/commands/{command_id}",
        Who.FO,
        owned=True,
        ok=frozenset({404}),
    ),
    # Records (UC 3.4): the world's FS has not ended, so it has no record or proof yet
    Row(
        "GET",
        "/v1/flexibility-services/{fs_id}/record",
        Who.FO,
        owned=True,
        ok=frozenset({404, 409}),
    ),
    Row(
        "GET",
        "/v1/flexibility-services/{fs_id}/proof",
        Who.FO,
        owned=True,
        ok=frozenset({404, 409}),
    ),
    Row(
        "POST",
        "/v1/flexibility-services/{fs_id}/proof/validation",
        Who.FO,
        owned=True,
        body=lambda _w: {"decision": "ACCEPT"},
        ok=frozenset({404, 409}),
    ),
    Row("GET", "/v1/flexibility-services/{fs_id}/dispute", Who.FO, owned=True, ok=frozenset({404})),
    Row(
        "POST",
        "/v1/flexibility-services/{fs_id}/dispute/response",
        Who.FO,
        owned=True,
        body=lambda _w: {"response": "ACCEPT"},
        ok=frozenset({404}),
    ),
    Row(
        "PUT",
        "/v1/flexibility-services/{fs_id}/baseline",
        Who.FO,
        owned=True,
        body=lambda _w: {"periods": [{"start_offset_s": 0, "duration_s": 900, "p_w": 1000.0}]},
    ),
    Row(
        "GET",
        "/v1/flexibility-services/{fs_id}/baseline",
        Who.FO,
        owned=True,
        ok=frozenset({200, 404}),
    ),
    # Event log: FOs read their own entries, the operator all of them
    Row("GET", "/v1/event-log", Who.FO_OR_OPERATOR),
    Row("GET", "/v1/event-log/head", Who.FO_OR_OPERATOR, ok=frozenset({200, 404, 409})),
    Row(
        "GET",
        "/v1/event-log/proof",
        Who.FO_OR_OPERATOR,
        query={"seq": "1", "tree_size": "1"},
        ok=frozenset({200, 404, 409, 422}),
    ),
    # Notifications (UC 3.4 execution notifications): feed and webhook endpoint of the caller
    Row("GET", "/v1/notifications", Who.FO),
    Row("GET", "/v1/webhook-endpoint", Who.FO, ok=frozenset({200, 404})),
    Row(
        "PUT",
        "/v1/webhook-endpoint",
        Who.FO,
        body=lambda _w: {"callback_base_url": "https://fo.example.com/hooks"},
        ok=frozenset({200, 201, 422}),
    ),
    Row("POST", "/v1/webhook-endpoint/secret", Who.FO, ok=frozenset({200, 201, 404, 409})),
    Row("GET", "/admin/v1/notifications", Who.OPERATOR),
    Row(
        "GET",
        "/admin/v1/notifications/{notification_id}/attempts",
        Who.OPERATOR,
        ok=frozenset({200, 404}),
    ),
    Row(
        "POST",
        "/admin/v1/notifications/redeliver",
        Who.OPERATOR,
        body=lambda _w: {"notification_ids": ["n-unknown"]},
        ok=frozenset({200, 404, 422}),
    ),
    # Infrastructure (visible through active contracts, at their data-sharing level)
    Row("GET", "/v1/sites", Who.FO_OR_OPERATOR),
    Row("GET", "/v1/sites/{site_id}", Who.FO_OR_OPERATOR, owned=True, ok=frozenset({200, 404})),
    Row("GET", "/v1/charging-stations", Who.FO_OR_OPERATOR),
    Row(
        "GET",
        "/v1/charging-stations/{cs_id}",
        Who.FO_OR_OPERATOR,
        owned=True,
        ok=frozenset({200, 404}),
    ),
    Row("GET", "/v1/sessions", Who.FO_OR_OPERATOR),
    Row(
        "GET",
        "/v1/sessions/{session_ref}",
        Who.FO_OR_OPERATOR,
        owned=True,
        ok=frozenset({200, 404}),
    ),
    Row(
        "GET",
        "/v1/capabilities",
        Who.FO_OR_OPERATOR,
        query={"target": f"EVSE:{EVSE_DC}"},
        ok=frozenset({200, 404}),
    ),
    Row(
        "GET",
        "/v1/availability",
        Who.FO_OR_OPERATOR,
        query={"target": f"EVSE:{EVSE_DC}"},
        ok=frozenset({200, 404}),
    ),
    Row("POST", "/admin/v1/stations/import", Who.OPERATOR, body=_registry),
    # The EV user's own API (UC 3.6): only that user's data
    Row("POST", "/v1/ev-user/token", Who.EV_USER_INVITE),
    Row("GET", "/v1/ev-user/self", Who.EV_USER),
    Row("PUT", "/v1/ev-user/self/consent", Who.EV_USER, body=lambda _w: {"level": "V2G"}),
    Row(
        "PUT",
        "/v1/ev-user/self/limits",
        Who.EV_USER,
        body=lambda _w: {
            "min_soc_at_departure_pct": 70,
            "soc_floor_pct": 30,
            "max_energy_to_grid_kwh_per_day": 8,
        },
    ),
    Row("POST", "/v1/ev-user/self/withdrawal", Who.EV_USER),
    Row("GET", "/v1/ev-user/self/participations", Who.EV_USER),
    # Operator (/admin/v1)
    Row("POST", "/admin/v1/enrolment-tokens", Who.OPERATOR, body=lambda _w: {"fo_name": "X"}),
    Row("GET", "/admin/v1/enrolments", Who.OPERATOR),
    Row("GET", "/admin/v1/enrolments/{enrolment_id}", Who.OPERATOR),
    Row("POST", "/admin/v1/enrolments/{enrolment_id}/revoke", Who.OPERATOR),
    Row("GET", "/admin/v1/contracts", Who.OPERATOR),
    Row(
        "POST",
        "/admin/v1/ev-users",
        Who.OPERATOR,
        body=lambda _w: {"identifier": "NL-XYZ-C00000042", "expires_in_s": 3600},
    ),
    Row("GET", "/admin/v1/ev-users", Who.OPERATOR),
    Row("DELETE", "/admin/v1/ev-users/{user_id}", Who.OPERATOR),
    Row("GET", "/admin/v1/contracts/{fsc_id}", Who.OPERATOR, query={"fo_party_id": "NL-FO-A"}),
    Row(
        "POST",
        "/admin/v1/contracts/{fsc_id}/decision",
        Who.OPERATOR,
        body=lambda _w: {"decision": "SUSPEND", "reason": "matrix"},
        query={"fo_party_id": "NL-FO-A"},
    ),
    # Disputes of records and the CSO's baselines
    Row("GET", "/admin/v1/disputes", Who.OPERATOR),
    Row("GET", "/admin/v1/disputes/{dispute_id}", Who.OPERATOR, ok=frozenset({404})),
    Row(
        "POST",
        "/admin/v1/disputes/{dispute_id}/answer",
        Who.OPERATOR,
        body=lambda _w: {"answer": "REJECT", "reason_code": "OTHER", "reasons": ["matrix"]},
        ok=frozenset({404}),
    ),
    Row(
        "PUT",
        "/admin/v1/flexibility-services/{fs_id}/baseline",
        Who.OPERATOR,
        body=lambda _w: {"periods": [{"start_offset_s": 0, "duration_s": 900, "p_w": 1000.0}]},
        query={"fo_party_id": "NL-FO-A"},
    ),
]


SCOPES: list[tuple[str, str]] = [
    ("/v1/contracts", "contracts"),
    ("/v1/credential-checks", "credential-checks"),
    ("/v1/contract-holders", "contract-holders"),
    ("/v1/flexibility-services/{fs_id}/record", "records"),
    ("/v1/flexibility-services/{fs_id}/proof", "records"),
    ("/v1/flexibility-services/{fs_id}/dispute", "records"),
    ("/v1/flexibility-services/{fs_id}/baseline", "records"),
    ("/v1/flexibility-services", "flexibility-services"),
    ("/v1/event-log", "records"),
    ("/v1/notifications", "notifications"),
    ("/v1/webhook-endpoint", "notifications"),
    ("/v1/sites", "infrastructure"),
    ("/v1/charging-stations", "infrastructure"),
    ("/v1/capabilities", "infrastructure"),
    ("/v1/availability", "infrastructure"),
    ("/v1/sessions", "sessions"),
]
"""The API scope an FO needs for each group of routes (first matching path prefix wins)."""


def scope_of(row: Row) -> str | None:
    """The scope an FO needs for `row` (None: the enrolment's own routes, or not an FO route)."""
    if row.who not in (Who.FO, Who.FO_OR_OPERATOR):
        return None
    return next((scope for prefix, scope in SCOPES if row.path.startswith(prefix)), None)
