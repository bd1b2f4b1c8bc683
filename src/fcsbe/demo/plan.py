"""What the demo asks for: one flexibility service of each type, each on a site that suits it.

The server's simulator runs in real time, so every window is seconds long: the story must end in
about a minute. The amounts are modest (a few kW per site) so that the default `demo` fleet can
carry all seven at once; the FO accepts partial commitments (`minimum_acceptance_pct` 1 %), as
an aggregator that spreads its portfolio would. Sites are chosen from the credentials check:
four types steer an EVSE directly (setpoint, droop, FFR, dynamic price) and may not overlap on
one EVSE, so they get a site each; demand response, reserve and congestion may share.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fcsbe.model import (
    ActivationDirection,
    ContractProposal,
    FlexibilityServiceRequest,
    FsType,
    ReserveActivation,
    SetpointUpdate,
)

__all__ = [
    "EXCLUSIVE",
    "PREFERRED_SITES",
    "PlannedFs",
    "assign_sites",
    "contract_proposal",
    "plan_services",
    "reserve_activation",
    "setpoint_update",
]

PREFERRED_SITES: dict[FsType, tuple[str, ...]] = {
    FsType.SETPOINT: ("SITE-DEPOT",),
    FsType.DEMAND_RESPONSE: ("SITE-HOME-1",),
    FsType.DROOP: ("SITE-EC", "SITE-CARPARK"),
    FsType.FFR: ("SITE-CARPARK", "SITE-EC"),
    FsType.RESERVE: ("SITE-DEPOT",),
    FsType.DYNAMIC_PRICE: ("SITE-EVSS",),
    FsType.CONGESTION: ("SITE-CARPARK",),
}
"""Where each type runs on the default `demo` fleet (home, depot, car park, EVSS, community):
droop and FFR need grid-code certified stations that can discharge (car park, community)."""

EXCLUSIVE = frozenset({FsType.SETPOINT, FsType.DROOP, FsType.FFR, FsType.DYNAMIC_PRICE})
"""Types that steer an EVSE directly: the server refuses two of them on one EVSE at once."""

SETPOINT_W = 11_000.0
SETPOINT_UPDATE_W = 7_400.0
RESERVE_UP_W = 10_000.0
RESERVE_ACTIVATION_W = 6_000.0


@dataclass(frozen=True, slots=True)
class PlannedFs:
    """One FS of the story: its type, the site it runs on and its type-specific payload."""

    fs_type: FsType
    site_id: str
    parameters: dict[str, Any]

    def request(
        self, fs_id: str, fsc_id: str, start: datetime, window_s: int
    ) -> FlexibilityServiceRequest:
        """The request for a window of `window_s` seconds from `start`."""
        end = start + timedelta(seconds=window_s)
        return FlexibilityServiceRequest.model_validate(
            {
                "fs_id": fs_id,
                "fsc_id": fsc_id,
                "fs_type": self.fs_type,
                "targets": [{"level": "SITE", "id": self.site_id}],
                "window": {"start": start.isoformat(), "end": end.isoformat()},
                "minimum_acceptance_pct": 1.0,
                "parameters": self.parameters,
            }
        )


def _halves(window_s: int) -> tuple[int, int]:
    first = window_s // 2
    return first, window_s - first


def _parameters(fs_type: FsType, site_id: str, window_s: int) -> dict[str, Any]:
    first, second = _halves(window_s)
    if fs_type is FsType.SETPOINT:
        return {
            "fs_type": "SETPOINT",
            "resolution_s": window_s,
            "periods": [{"start_offset_s": 0, "p_w": SETPOINT_W}],
        }
    if fs_type is FsType.DEMAND_RESPONSE:
        return {
            "fs_type": "DEMAND_RESPONSE",
            "currency": "EUR",
            "intervals": [
                {"start_offset_s": 0, "duration_s": first, "price_per_kwh": 0.45},
                {"start_offset_s": first, "duration_s": second, "price_per_kwh": 0.08},
            ],
        }
    if fs_type is FsType.DROOP:
        return {
            "fs_type": "DROOP",
            "f_ref_hz": 50.0,
            "deadband_over_hz": 0.02,
            "deadband_under_hz": 0.02,
            "droop_over_pct": 5.0,
            "droop_under_pct": 5.0,
            # 3 s to 90 %: AC chargers follow a new current through IEC 61851 PWM in about
            # 2.5 s, so a 1 s droop is one only DC sites can take.
            "response_time_s": 3.0,
            "p_min_w": -5_000.0,
            "p_max_w": 10_000.0,
        }
    if fs_type is FsType.FFR:
        return {
            "fs_type": "FFR",
            "trigger_levels": [
                {"frequency_hz": 49.7, "full_activation_time_s": 1.0, "delta_p_w": -10_000.0}
            ],
            "support_duration_s": max(1, window_s // 2),
            "deactivation_ramp_s": 2,
            "rearm_time_s": 30,
            "evidence_sampling_ms": 100,
        }
    if fs_type is FsType.RESERVE:
        return {
            "fs_type": "RESERVE",
            "up_w": RESERVE_UP_W,
            "down_w": 0.0,
            "full_activation_time_s": 5,  # within reach of AC chargers (see DROOP)
            "min_activation_duration_s": 0,
        }
    if fs_type is FsType.DYNAMIC_PRICE:
        return {
            "fs_type": "DYNAMIC_PRICE",
            "currency": "EUR",
            "v2x_allowed": True,
            "intervals": [
                {
                    "start_offset_s": 0,
                    "duration_s": first,
                    "import_price_per_kwh": 0.40,
                    "export_price_per_kwh": 0.90,
                },
                {
                    "start_offset_s": first,
                    "duration_s": second,
                    "import_price_per_kwh": 0.05,
                    "export_price_per_kwh": 0.02,
                },
            ],
        }
    return {
        "fs_type": "CONGESTION",
        "grid_node": f"NODE-{site_id}",
        "periods": [
            {
                "start_offset_s": 0,
                "duration_s": window_s,
                "import_limit_w": 60_000.0,
                "export_limit_w": None,
            }
        ],
    }


def assign_sites(
    site_ids: Sequence[str], capable: Mapping[FsType, Collection[str]]
) -> dict[FsType, str]:
    """A site for each type: capable of it (per the credentials check), the demo fleet's choice
    when possible, and never one site for two types in `EXCLUSIVE`.

    Raises:
        ValueError: a type has no capable site left (the message names it).
    """
    order = sorted(site_ids)
    taken: set[str] = set()
    assignment: dict[FsType, str] = {}
    # Place the most constrained types first, so that the flexible ones take what is left.
    for fs_type in sorted(FsType, key=lambda t: (len(capable.get(t, ())), list(FsType).index(t))):
        allowed = set(capable.get(fs_type, ()))
        if fs_type in EXCLUSIVE:
            allowed -= taken
        candidates = [s for s in PREFERRED_SITES[fs_type] if s in allowed]
        candidates += [s for s in order if s in allowed and s not in candidates]
        if not candidates:
            raise ValueError(f"no site can take a {fs_type.value} FS (credentials check)")
        assignment[fs_type] = candidates[0]
        if fs_type in EXCLUSIVE:
            taken.add(candidates[0])
    return {fs_type: assignment[fs_type] for fs_type in FsType}


def plan_services(assignment: Mapping[FsType, str], window_s: int) -> list[PlannedFs]:
    """One FS of each type on its assigned site, with windows of `window_s` seconds."""
    return [
        PlannedFs(fs_type, site_id, _parameters(fs_type, site_id, window_s))
        for fs_type, site_id in assignment.items()
    ]


def setpoint_update() -> SetpointUpdate:
    """The new aggregate setpoint sent while the SETPOINT FS runs (as an aFRR signal would)."""
    return SetpointUpdate(p_w=SETPOINT_UPDATE_W, sequence=1)


def reserve_activation(activation_id: str, duration_s: int) -> ReserveActivation:
    """Calling up part of the reserved capacity, at once."""
    return ReserveActivation(
        activation_id=activation_id,
        direction=ActivationDirection.UP,
        delta_p_w=RESERVE_ACTIVATION_W,
        full_activation_time_s=5,
        duration_s=max(1, duration_s),
    )


def contract_proposal(
    fsc_id: str, provider_party_id: str, site_ids: Sequence[str], now: datetime
) -> ContractProposal:
    """The demo's contract: every FS type on every site of the fleet, in force from a few
    minutes ago for a day, no signed requests, the offline fallback back to unmanaged."""
    return ContractProposal.model_validate(
        {
            "fsc_id": fsc_id,
            "provider_party_id": provider_party_id,
            "holder_role": "CSO",
            "valid_from": (now - timedelta(minutes=5)).isoformat(),
            "valid_to": (now + timedelta(days=1)).isoformat(),
            "fs_types": [t.value for t in FsType],
            "targets": [{"level": "SITE", "id": s} for s in site_ids],
            "commitments": [
                {
                    "fs_type": t.value,
                    "direction": "BOTH",
                    "max_power_w": 500_000.0,
                    "min_duration_s": 0,
                    "max_activations_per_day": 100,
                }
                for t in FsType
            ],
            "performance": {
                "response_time_s": 30.0,
                "full_activation_time_s": 300.0,
                "tolerance_pct": 10.0,
                "min_delivery_pct": 80.0,
            },
            # The demo's FS start seconds after they are asked, with no metered history
            # before them: the baseline is the schedule the executor declares at start.
            "baseline_method": "DECLARED_SCHEDULE",
            "remuneration": {
                "availability_price_per_mw_h": 12.5,
                "activation_price_per_mwh": 95.0,
                "penalty_per_mwh": 150.0,
                "currency": "EUR",
            },
            "data_sharing_level": "EVSE",
            "personal_data": {"categories": [], "legal_basis": "CONTRACT"},
            "retention_days": 30,
            "signature_required": False,
            "fallback": {"policy": "REVERT_UNMANAGED", "offline_timeout_s": 300},
        }
    )
