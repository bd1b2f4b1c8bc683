"""EV sessions as a station adapter reports them, for tests below the simulator."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fcsbe.server.adapters.base import EvInfo, StationSession

__all__ = ["reported_session"]


def reported_session(
    session_key: str, evse_id: str, now: datetime, **changes: Any
) -> StationSession:
    """A connected EV with a bidirectional on-board inverter, V2G consent and user limits."""
    values: dict[str, Any] = {
        "session_key": session_key,
        "id_token": f"NL-ABC-C{session_key}-7",
        "evse_id": evse_id,
        "connected_at": now - timedelta(hours=1),
        "departure_time": now + timedelta(hours=6),
        "ev": EvInfo(
            model_id="onboard-bidi",
            bidirectional=True,
            onboard_inverter=True,
            max_charge_w=11000.0,
            max_discharge_w=11000.0,
            battery_wh=60000.0,
            conformity=("EN 50549-1",),
        ),
        "soc_pct": 41.26,
        "target_soc_pct": 80.0,
        "min_soc_at_departure_pct": 70.0,
        "soc_floor_pct": 30.0,
        "max_energy_to_grid_wh": 10000.0,
        "max_discharge_power_w": None,
        "consent_v1g": True,
        "consent_v2g": True,
        "target_energy_wh": 23244.0,
        "min_energy_wh": 17244.0,
        "max_energy_wh": 35244.0,
        "v2x_min_energy_wh": -6756.0,
        "v2x_max_energy_wh": 35244.0,
        "energy_imported_wh": 5049.0,
        "energy_exported_wh": 0.0,
    }
    values.update(changes)
    return StationSession(**values)
