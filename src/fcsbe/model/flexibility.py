"""Flexibility service request, decision and lifecycle (UC 2.1-2.7).

`FlexibilityServiceRequest` is what the FO posts; `FlexibilityService` is what the server keeps and
returns: the request echoed, the state, the decision (`FlexibilityServiceResponse`) and every
transition. Dynamic updates (`SetpointUpdate`, `ReserveActivation`) and cancellation are separate
inputs. This module must not decide anything: checking a request against contracts,
capabilities and availability is the server's job; here only the request's own consistency is
validated (payload matches type, periods inside the window, targets unique).
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from fcsbe.model._validation import check_unique, invalid_at
from fcsbe.model.base import MAX_SAFE_INTEGER, Id, InputModel, OutputModel, UtcDateTime
from fcsbe.model.common import MAX_REASONS, MAX_TARGETS, Percent, Reason, Target, TimeWindow
from fcsbe.model.crypto import CompactJws
from fcsbe.model.enums import ActivationDirection, BaselineMethod, FsResult, FsState, FsType
from fcsbe.model.fs_payloads import MAX_PERIODS, FsParameters

__all__ = [
    "CommittedPeriod",
    "FlexibilityService",
    "FlexibilityServiceRequest",
    "FlexibilityServiceResponse",
    "FsAccepted",
    "FsCancellation",
    "FsTransition",
    "ReserveActivation",
    "SetpointUpdate",
    "Target",
    "TimeWindow",
]

_FS_ID = "0b8e2f4c-6a1d-4c3e-9f7a-5d2b8c1e4a6f"
_FSC_ID = "5f1c9a2e-3b7d-4e8a-a6c4-1d9e2b7f3a50"

_REQUEST_EXAMPLE: JsonDict = {
    "fs_id": _FS_ID,
    "fsc_id": _FSC_ID,
    "fs_type": "SETPOINT",
    "targets": [
        {"level": "EVSE", "id": "NL*ABC*E12345*1"},
        {"level": "EVSE", "id": "NL*ABC*E12345*2"},
    ],
    "grid_location": "871687120000000123",
    "window": {"start": "2026-03-02T17:00:00Z", "end": "2026-03-02T18:00:00Z"},
    "notice_s": 900,
    "response_deadline": "2026-03-02T16:50:00Z",
    "priority": 3,
    "tolerance_pct": 10.0,
    "minimum_acceptance_pct": 50.0,
    "baseline_method": "METER_BEFORE_ACTIVATION",
    "parameters": {
        "fs_type": "SETPOINT",
        "resolution_s": 900,
        "periods": [
            {"start_offset_s": 0, "p_w": 22000.0},
            {"start_offset_s": 900, "p_w": 11000.0, "ramp_w_per_s": 500.0},
            {"start_offset_s": 1800, "p_w": -7400.0, "q_var": 0.0},
            {"start_offset_s": 2700, "p_w": 0.0},
        ],
    },
}


class FlexibilityServiceRequest(InputModel):
    """An FS request: under which contract, on which targets, when, and the type-specific payload.

    Peers: UFTP `FlexRequest`/`FlexOrder`, OpenADR 3 `event`, IEEE 2030.5 `DERControl`.
    `fs_id` is chosen by the FO (UUID); a PUT with the same `fs_id` supersedes it.
    """

    model_config = InputModel.model_config | ConfigDict(
        json_schema_extra={"examples": [_REQUEST_EXAMPLE]}
    )

    fs_id: Id = Field(description="Id of the FS, chosen by the FO (UUID recommended).")
    fsc_id: Id = Field(description="The contract this FS is performed under.")
    fs_type: FsType = Field(description="Kind of service; must equal `parameters.fs_type`.")
    targets: list[Target] = Field(
        min_length=1, max_length=MAX_TARGETS, description="Addressed objects, no duplicates."
    )
    grid_location: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Grid node / congestion point the service is for (e.g. an EAN), if any.",
    )
    window: TimeWindow = Field(description="When the service applies.")
    notice_s: int = Field(
        default=0, ge=0, le=366 * 86_400, description="Notice given before the window starts."
    )
    response_deadline: UtcDateTime | None = Field(
        default=None,
        description="Latest time the FO wants the decision by; before the window ends. "
        "Null: the server's default deadline.",
    )
    priority: int = Field(
        default=5, ge=0, le=9, description="0 = highest priority (as OpenADR 3), 9 = lowest."
    )
    tolerance_pct: Percent | None = Field(
        default=None, description="Allowed deviation; null: the contract's tolerance."
    )
    minimum_acceptance_pct: Percent = Field(
        default=100.0,
        description="Smallest share of the requested amount the FO accepts; 100 = all or nothing.",
    )
    baseline_method: BaselineMethod | None = Field(
        default=None, description="Baseline for settlement; null: the contract's method."
    )
    parameters: FsParameters = Field(description="Exactly one payload, tagged by `fs_type`.")
    signature: CompactJws | None = Field(
        default=None,
        description="Optional: the FO's detached JWS (Ed25519, its registered key) over the "
        "RFC 8785 JSON of this object as sent, without `signature`, kept with the request as "
        "evidence of what the FO asked. Verified when present (401 `signature-invalid`). A "
        "contract with `signature_required` requires the `X-Fcsbe-Signature` header instead "
        "(which carries the replay protection); this member does not replace it.",
        examples=[
            "eyJhbGciOiJFZDI1NTE5Iiwia2lkIjoiZm8tMjAyNi0wMSJ9.."
            "yy7XGoHNa1WFWzrBvNHSF3q8g3tKlDbzpI1DjpFDsfQe5jnENZ4kGkaiFU-UH3DH_o703L-VD-vnO_H_FCwKAQ"
        ],
    )

    @model_validator(mode="after")
    def _consistent(self) -> FlexibilityServiceRequest:
        if self.parameters.fs_type != self.fs_type:
            raise invalid_at(
                "/fs_type",
                f"parameters.fs_type ({self.parameters.fs_type}) must equal fs_type "
                f"({self.fs_type})",
            )
        check_unique(self.targets, "targets")
        horizon = self.parameters.horizon_s()
        if horizon > self.window.length_s:
            raise invalid_at(
                "/parameters",
                f"parameters reach {horizon} s after window.start, beyond the window "
                f"({self.window.length_s:g} s): periods must lie inside the window",
            )
        if self.response_deadline is not None and self.response_deadline >= self.window.end:
            raise invalid_at("/response_deadline", "response_deadline must be before window.end")
        return self


class CommittedPeriod(OutputModel):
    """Part of a committed schedule: what the CSO/CSP commits to for one period."""

    start_offset_s: int = Field(ge=0, description="Start, seconds from window start.")
    duration_s: int = Field(ge=1, description="Length of the period.")
    p_w: float = Field(description="Committed power (or limit); + import, - export.")


class FlexibilityServiceResponse(OutputModel):
    """The decision on an FS: accepted, partly accepted (with the committed amount) or rejected
    with reasons. Peers: UFTP `FlexRequestResponse`/`FlexOrderResponse`, OCPP `*Response` status.
    Signed by the server (detached JWS over the RFC 8785 JSON without `signature`).
    """

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "fs_id": _FS_ID,
                    "revision": 1,
                    "result": "PARTIALLY_ACCEPTED",
                    "reasons": [
                        {
                            "code": "EVU_LIMIT",
                            "target": {"level": "EVSE", "id": "NL*ABC*E12345*2"},
                            "detail": "EV user's minimum SoC at departure limits discharge",
                        }
                    ],
                    "committed_w": 14000.0,
                    "committed_schedule": [
                        {"start_offset_s": 0, "duration_s": 900, "p_w": 14000.0},
                        {"start_offset_s": 900, "duration_s": 900, "p_w": 11000.0},
                        {"start_offset_s": 1800, "duration_s": 900, "p_w": -3700.0},
                        {"start_offset_s": 2700, "duration_s": 900, "p_w": 0.0},
                    ],
                    "decided_at": "2026-03-02T16:45:12Z",
                    "signature": (
                        "eyJhbGciOiJFZDI1NTE5Iiwia2lkIjoiY3NvLTIwMjYtMDEifQ.."
                        "R6TtOY45rF1OrxxfEGE3kuXIiDQO-i_02Y7i7jUHpzg5F-T3LHd1dkTSL9300N46W8IO9M"
                        "8dvx85sIdTIZroAg"
                    ),
                }
            ]
        }
    )

    fs_id: Id = Field(description="The FS decided on.")
    revision: int = Field(ge=1, description="Revision of the FS decided on.")
    result: FsResult = Field(description="The decision.")
    reasons: list[Reason] = Field(
        default_factory=list,
        max_length=MAX_REASONS,
        description="Why; at least one unless the FS is fully accepted.",
    )
    committed_w: float | None = Field(
        default=None, description="Committed amount (power or reserve) when one number says it."
    )
    committed_schedule: list[CommittedPeriod] | None = Field(
        default=None, max_length=MAX_PERIODS, description="Committed schedule, when it varies."
    )
    decided_at: UtcDateTime = Field(description="When the decision was taken.")
    signature: CompactJws | None = Field(
        default=None,
        description="Server's detached JWS (alg `Ed25519`) over the RFC 8785 JSON of this "
        "object without `signature` (`signed_payload()`); verify it with the keys of `GET /v1`.",
    )

    def signed_payload(self) -> dict[str, Any]:
        """The JSON object whose RFC 8785 form `signature` signs."""
        return self.model_dump(mode="json", exclude={"signature"})

    @model_validator(mode="after")
    def _reasons_when_not_accepted(self) -> FlexibilityServiceResponse:
        if self.result is not FsResult.ACCEPTED and not self.reasons:
            raise ValueError(f"a {self.result} response must give at least one reason")
        return self


class FsTransition(OutputModel):
    """One step of the FS lifecycle; every one is also an event-log entry and a notification."""

    revision: int | None = Field(default=None, ge=1, description="FS revision it belongs to.")
    from_state: FsState | None = Field(default=None, description="Previous state; null at entry.")
    to_state: FsState = Field(description="New state.")
    at: UtcDateTime = Field(description="When the transition happened.")
    reason: str | None = Field(default=None, max_length=500, description="Why, for a human.")


class FlexibilityService(OutputModel):
    """An FS as the server keeps it: the request, its state, the decision and its history."""

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "fs_id": _FS_ID,
                    "revision": 1,
                    "supersedes": None,
                    "fsc_id": _FSC_ID,
                    "fs_type": "SETPOINT",
                    "state": "SCHEDULED",
                    "request": _REQUEST_EXAMPLE,
                    "response": {
                        "fs_id": _FS_ID,
                        "revision": 1,
                        "result": "ACCEPTED",
                        "reasons": [],
                        "committed_w": 22000.0,
                        "decided_at": "2026-03-02T16:45:12Z",
                    },
                    "response_deadline": "2026-03-02T16:50:00Z",
                    "created_at": "2026-03-02T16:44:58Z",
                    "updated_at": "2026-03-02T16:45:12Z",
                    "transitions": [
                        {"to_state": "RECEIVED", "at": "2026-03-02T16:44:58Z"},
                        {
                            "from_state": "RECEIVED",
                            "to_state": "ACCEPTED",
                            "at": "2026-03-02T16:45:12Z",
                        },
                        {
                            "from_state": "ACCEPTED",
                            "to_state": "SCHEDULED",
                            "at": "2026-03-02T16:45:12Z",
                            "reason": "profiles sent to 2 EVSEs",
                        },
                    ],
                }
            ]
        }
    )

    fs_id: Id = Field(description="Id of the FS.")
    revision: int = Field(ge=1, description="Revision; a PUT (supersede) adds one.")
    supersedes: int | None = Field(
        default=None, ge=1, description="The revision this one replaced; null for the first."
    )
    fsc_id: Id = Field(description="The contract the FS runs under.")
    fs_type: FsType = Field(description="Kind of service.")
    state: FsState = Field(description="Current lifecycle state.")
    request: FlexibilityServiceRequest = Field(description="The request, as received.")
    response: FlexibilityServiceResponse | None = Field(
        default=None, description="The decision; null while RECEIVED."
    )
    response_deadline: UtcDateTime = Field(description="When the decision is due at the latest.")
    created_at: UtcDateTime = Field(description="When the server received this revision.")
    updated_at: UtcDateTime = Field(description="Last change of state.")
    transitions: list[FsTransition] = Field(
        default_factory=list, description="Every transition, oldest first."
    )


class FsAccepted(OutputModel):
    """The `202 Accepted` body of a new or superseding FS: the decision follows asynchronously."""

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "fs_id": _FS_ID,
                    "revision": 1,
                    "state": "RECEIVED",
                    "response_deadline": "2026-03-02T16:50:00Z",
                }
            ]
        }
    )

    fs_id: Id = Field(description="Id of the FS.")
    revision: int = Field(ge=1, description="Revision created.")
    state: FsState = Field(description="Always RECEIVED on creation.")
    response_deadline: UtcDateTime = Field(description="When the decision is due at the latest.")


class SetpointUpdate(InputModel):
    """A dynamic setpoint for a running SETPOINT FS (aFRR-like, every few seconds).

    `sequence` grows per FS: an update with a sequence not above the last applied is stale and
    refused, so reordered deliveries cannot roll a setpoint back.
    """

    model_config = InputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "p_w": -5000.0,
                    "q_var": 0.0,
                    "effective_at": "2026-03-02T17:12:04Z",
                    "sequence": 118,
                }
            ]
        }
    )

    p_w: float = Field(ge=-1e9, le=1e9, description="New active-power setpoint; + import.")
    q_var: float | None = Field(
        default=None, ge=-1e9, le=1e9, description="New reactive setpoint; null: unchanged."
    )
    effective_at: UtcDateTime | None = Field(
        default=None, description="When to apply it; null: at once."
    )
    sequence: int = Field(
        ge=0,
        le=MAX_SAFE_INTEGER,
        description="Strictly increasing per FS (at most 2^53 - 1, as every wire integer).",
    )


class ReserveActivation(InputModel):
    """An activation of a RESERVE FS (UC 2.5): direction, ΔP and timing within the offer."""

    model_config = InputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "activation_id": "c41d7e2a-9b35-4f08-8e6a-7a2d1f5c3b90",
                    "direction": "UP",
                    "delta_p_w": 30000.0,
                    "full_activation_time_s": 750,
                    "duration_s": 900,
                    "start": "2026-03-02T17:15:00Z",
                }
            ]
        }
    )

    activation_id: Id = Field(description="Id chosen by the FO; a repeat is idempotent.")
    direction: ActivationDirection = Field(description="UP = less import / more export.")
    delta_p_w: float = Field(ge=0, le=1e9, description="Size of the activation (magnitude).")
    full_activation_time_s: int = Field(ge=1, le=3_600, description="Time to full activation.")
    duration_s: int = Field(ge=1, le=86_400, description="How long the activation lasts.")
    start: UtcDateTime | None = Field(default=None, description="When it starts; null: at once.")


class FsCancellation(InputModel):
    """Body of `POST .../cancel`: why the FO cancels."""

    model_config = InputModel.model_config | ConfigDict(
        json_schema_extra={"examples": [{"reason": "DSO withdrew the congestion request"}]}
    )

    reason: str | None = Field(default=None, max_length=500, description="Why, for a human.")
