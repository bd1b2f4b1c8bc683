"""OCPP 2.1 building blocks: the messages, the station addresses, ids and schedule periods.

A CSBE talks to each charging station by its OCPP identity and numbers its EVSEs 1..n; the FS
speaks of eMI3 EVSE ids. `EvseAddress` is that translation, given by the caller per EVSE.
Profile and control ids are derived from the FS id and the addressee, so mapping the same FS
twice gives identical messages (a re-send is idempotent) and a superseding revision replaces the
profiles of the one before (OCPP replaces a profile with the same id).

Payloads are plain JSON-ready dicts in OCPP 2.1 spelling; every one of them validates against
the OCPP 2.1 JSON schemas (the tests check it).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fcsbe.model import FlexibilityServiceRequest
from fcsbe.server.planning import PlanStep

__all__ = [
    "MAX_PERIODS_PER_SCHEDULE",
    "STACK_LEVEL_BASE",
    "VENDOR_ID",
    "EvseAddress",
    "OcppCall",
    "OcppMappingError",
    "charging_profile",
    "control_id",
    "iso",
    "offsets",
    "profile_id",
    "runs",
    "stack_level",
]

MAX_PERIODS_PER_SCHEDULE = 1024
"""OCPP 2.1 `chargingSchedulePeriod` maxItems: longer plans are cut into several profiles."""

STACK_LEVEL_BASE = 10
"""Stack level of a priority-9 FS; priority 0 gets STACK_LEVEL_BASE + 9 (higher wins in OCPP)."""

VENDOR_ID = "org.fcsbe"
"""`customData.vendorId` of the settings OCPP 2.1 has no field for (FFR timing, response time)."""

_CONTROL_NAMESPACE = uuid.UUID("6f1c2b0e-63a8-4e2d-9c38-2a9d7e5b1f40")


class OcppMappingError(ValueError):
    """The FS cannot be said in OCPP 2.1 for this station (e.g. a curve it cannot carry).

    The decision step turns it into a NOT_CAPABLE reason instead of promising what no station
    message can carry.
    """


@dataclass(frozen=True, slots=True)
class EvseAddress:
    """Where an EVSE is for OCPP: station identity, EVSE number, and what the station can do.

    `transaction_id` is the OCPP transaction of the EV session, when one runs: the plan then goes
    as a `TxProfile` bound to it, otherwise as a `TxDefaultProfile` for the next transaction.
    `der_control` says the station executes OCPP 2.1 DER controls (`SetDERControl`).
    """

    station_id: str
    evse_number: int
    transaction_id: str | None = None
    der_control: bool = False


@dataclass(frozen=True, slots=True)
class OcppCall:
    """One OCPP 2.1 request to send: the station, the action and the request payload."""

    station_id: str
    action: str
    payload: dict[str, Any]


def iso(instant: datetime) -> str:
    """RFC 3339 UTC with `Z`, whole seconds (stations schedule in seconds)."""
    return instant.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def profile_id(request: FlexibilityServiceRequest, addressee: str, part: int = 0) -> int:
    """A positive 31-bit charging-profile id, stable for (FS, addressee, part).

    Negative ids are left to external actors, as OCPP suggests.
    """
    key = f"{request.fs_id}|{addressee}|{part}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=4).digest(), "big") & 0x7FFFFFFF or 1


def control_id(request: FlexibilityServiceRequest, station_id: str, control: str) -> str:
    """A DER control id (UUID text, 36 characters as OCPP allows), stable per FS and station."""
    return str(uuid.uuid5(_CONTROL_NAMESPACE, f"{request.fs_id}|{station_id}|{control}"))


def stack_level(request: FlexibilityServiceRequest) -> int:
    """OCPP stack level from the FS priority: priority 0 (highest) gets the highest level."""
    return STACK_LEVEL_BASE + (9 - request.priority)


def runs(steps: Sequence[PlanStep]) -> list[list[PlanStep]]:
    """Contiguous runs of steps, each at most `MAX_PERIODS_PER_SCHEDULE` long.

    A gap between steps means "nothing from this FS": it ends one profile and the next run
    starts another, so no station is told anything for the gap.
    """
    out: list[list[PlanStep]] = []
    for step in steps:
        last = out[-1] if out else None
        if last is not None and last[-1].end == step.start and len(last) < MAX_PERIODS_PER_SCHEDULE:
            last.append(step)
        else:
            out.append([step])
    return out


def charging_profile(
    *,
    profile: int,
    request: FlexibilityServiceRequest,
    address: EvseAddress,
    start: datetime,
    end: datetime,
    periods: list[dict[str, Any]],
    kind: str = "Absolute",
    purpose: str | None = None,
) -> dict[str, Any]:
    """A `SetChargingProfileRequest` payload for one EVSE over [start, end).

    The purpose is `TxProfile` when a transaction runs (bound to it), else `TxDefaultProfile`
    on that EVSE; an explicit `purpose` overrides it.
    """
    chosen = purpose or ("TxProfile" if address.transaction_id else "TxDefaultProfile")
    body: dict[str, Any] = {
        "id": profile,
        "stackLevel": stack_level(request),
        "chargingProfilePurpose": chosen,
        "chargingProfileKind": kind,
        "validFrom": iso(start),
        "validTo": iso(end),
        "chargingSchedule": [
            {
                "id": profile,
                "startSchedule": iso(start),
                "duration": max(1, int((end - start).total_seconds())),
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": periods,
            }
        ],
    }
    if chosen == "TxProfile" and address.transaction_id:
        body["transactionId"] = address.transaction_id
    return {"evseId": address.evse_number, "chargingProfile": body}


def offsets(steps: Sequence[PlanStep]) -> list[tuple[int, PlanStep]]:
    """Whole-second start offsets of steps from the first one's (whole-second) start.

    Steps that fall on the same second keep the later one, so `startPeriod` strictly increases.
    """
    origin = steps[0].start.replace(microsecond=0)
    out: list[tuple[int, PlanStep]] = []
    for step in steps:
        offset = int((step.start - origin).total_seconds())
        if out and out[-1][0] == offset:
            out[-1] = (offset, step)
        else:
            out.append((offset, step))
    return out
