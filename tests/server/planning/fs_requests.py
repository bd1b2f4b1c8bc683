"""Builders of FS requests and EVSE states for the planning and adapter tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fcsbe.model import FlexibilityServiceRequest
from fcsbe.server.planning import EvseState

START = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
"""Window start of every request built here."""

NOW = START - timedelta(minutes=15)
"""Planning time: a quarter of an hour before the window."""


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
