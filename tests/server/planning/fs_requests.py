"""Builders of FS requests and EVSE states for the planning and adapter tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from fcsbe.model import FlexibilityServiceRequest
from fcsbe.server.planning import EvseState, PlanStep

START = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
"""Window start of every request built here."""

NOW = START - timedelta(minutes=15)
"""Planning time: a quarter of an hour before the window."""

FLEET_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
"""Property tests over whole fleets: fewer, larger examples."""


def request_of(
    parameters: dict[str, Any],
    *,
    hours: float = 1.0,
    minimum_acceptance_pct: float = 100.0,
    targets: int = 1,
    priority: int = 5,
) -> FlexibilityServiceRequest:
    """An FS request of the type of `parameters`, over a window of `hours` from START."""
    return FlexibilityServiceRequest.model_validate(
        {
            "fs_id": "fs-1",
            "fsc_id": "fsc-1",
            "fs_type": parameters["fs_type"],
            "targets": [{"level": "EVSE", "id": f"NL*ABC*E1*{i}"} for i in range(1, targets + 1)],
            "window": {
                "start": START.isoformat(),
                "end": (START + timedelta(hours=hours)).isoformat(),
            },
            "priority": priority,
            "minimum_acceptance_pct": minimum_acceptance_pct,
            "parameters": parameters,
        }
    )


def evse(n: int, **fields: Any) -> EvseState:
    """A connected EVSE `NL*ABC*E1*<n>` at site s1 with 11 kW import headroom unless overridden."""
    values: dict[str, Any] = {
        "evse_id": f"NL*ABC*E1*{n}",
        "site_id": "s1",
        "connected": True,
        "max_import_w": 11_000.0,
    }
    values.update(fields)
    return EvseState(**values)


@st.composite
def evse_states(draw: st.DrawFn, n: int) -> EvseState:
    """Any plausible EVSE: connected or not, V2G or not, with or without a departure need."""
    v2g = draw(st.booleans())
    capacity = draw(st.sampled_from([None, 40_000.0, 75_000.0]))
    soc = None if capacity is None else draw(st.floats(5, 95))
    departure = draw(st.one_of(st.none(), st.integers(5, 600)))
    return EvseState(
        evse_id=f"NL*ABC*E1*{n}",
        site_id="s1",
        connected=draw(st.booleans().map(lambda b: b or n % 3 != 0)),
        p_w=draw(st.floats(-11_000, 22_000)),
        max_import_w=draw(st.sampled_from([0.0, 3_700.0, 11_000.0, 22_000.0])),
        max_export_w=draw(st.sampled_from([0.0, 7_400.0, 11_000.0])) if v2g else 0.0,
        soc_pct=soc,
        capacity_wh=capacity,
        departure=None if departure is None else START + timedelta(minutes=departure),
        energy_to_min_soc_wh=draw(st.sampled_from([0.0, 2_000.0, 10_000.0, 30_000.0])),
        energy_to_target_wh=draw(st.sampled_from([None, 15_000.0, 40_000.0])),
        v2g_allowed=v2g,
        soc_floor_pct=0.0 if soc is None else draw(st.floats(0, min(soc, 30))),
        export_energy_left_wh=draw(st.sampled_from([0.0, 5_000.0, float("inf")])),
    )


def fleets(max_size: int = 8) -> st.SearchStrategy[list[EvseState]]:
    """Lists of distinct EVSEs."""
    return st.integers(1, max_size).flatmap(
        lambda size: st.tuples(*(evse_states(i) for i in range(1, size + 1))).map(list)
    )


def delivered_wh(steps: Sequence[PlanStep], until: datetime | None) -> float:
    """Energy an EVSE charges by following its plan (setpoint, else its import limit)."""
    total = 0.0
    for step in steps:
        end = step.end if until is None else min(step.end, until)
        if end <= step.start:
            continue
        power = step.setpoint_w if step.setpoint_w is not None else step.max_import_w or 0.0
        total += power * (end - step.start).total_seconds() / 3600.0
    return total
