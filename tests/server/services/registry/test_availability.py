"""The availability forecaster on hand-made fleet state: baseline, must-run, export, commitments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fcsbe.model import ChargingStation, Evse, Site, Target, TargetLevel
from fcsbe.server.errors import UnprocessableContent
from fcsbe.server.services.registry.availability import forecast_for, horizon
from fcsbe.server.services.registry.targets import Resolved
from fcsbe.server.storage.availability import Committed
from fcsbe.server.storage.infrastructure import EvSessionRow
from tests.support.registry_samples import ac_evse, dc_evse, sample_document, site, station

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
BIDI_EV = {
    "bidirectional": True,
    "onboard_inverter": True,
    "max_charge_w": 11000.0,
    "max_discharge_w": 11000.0,
    "conformity": [sample_document()["ev_models"][0]["conformity_evidence"][0]],
}


def _session(evse_id: str, **changes: Any) -> EvSessionRow:
    data: dict[str, Any] = {
        "session_ref": "ps_aaaaaaaaaaaaaaaa",
        "evse_id": evse_id,
        "connected_at": (NOW - timedelta(hours=1)).isoformat(),
        "departure_time": (NOW + timedelta(hours=4)).isoformat(),
        "energy_request": {
            "target_energy_wh": 22000.0,
            "min_energy_wh": 22000.0,
            "max_energy_wh": 30000.0,
            "v2x_min_energy_wh": -8000.0,
            "v2x_max_energy_wh": 30000.0,
        },
        "evu_limits": {
            "min_soc_at_departure_pct": 80.0,
            "soc_floor_pct": 30.0,
            "max_energy_to_grid_wh": 5000.0,
        },
        "ev": BIDI_EV,
    }
    data.update(changes)
    return EvSessionRow(session_ref="ps_aaaaaaaaaaaaaaaa", evse_id=evse_id, data=data)


def _resolved(evse: dict[str, Any], session: EvSessionRow | None, **site_extra: Any) -> Resolved:
    kind = 3 if evse["current_type"] == "AC" else 2
    cs = ChargingStation.model_validate(station("cs-1", "site-1", kind, [evse]))
    return Resolved(
        target=Target(level=TargetLevel.EVSE, id=evse["evse_id"]),
        site=Site.model_validate(site("site-1", kind, **site_extra)),
        evses=[Evse.model_validate(evse)],
        stations={"cs-1": cs},
        station_of={evse["evse_id"]: "cs-1"},
        sessions={evse["evse_id"]: session} if session else {},
    )


def test_a_bidirectional_ev_with_a_strict_departure() -> None:
    evse = ac_evse("NL*ABC*E1*1", 1)
    resolved = _resolved(evse, _session(evse["evse_id"]))
    span = horizon(NOW, NOW, NOW + timedelta(hours=5), 3600)
    hours = forecast_for(resolved, span, NOW, []).intervals
    assert [i.connected_evs for i in hours] == [1, 1, 1, 1, 0]
    first, last = hours[0], hours[3]
    # 22 kWh needed in 4 h at 11 kW: the last two hours must charge
    assert first.min_import_w == 0.0
    assert last.min_import_w == 11000.0
    assert first.max_import_w == 11000.0
    # export: 5 kWh allowed to the grid, and only while there is time to recharge it
    assert first.max_export_w == 5000.0
    assert hours[2].max_export_w == 0.0
    assert first.v2g_capable_evs == 1
    # baseline charges at full power until the 22 kWh are in: no room left to go further down
    assert first.energy_down_wh == 0.0
    assert first.energy_up_wh == pytest.approx(16000.0)
    assert hours[4].max_import_w == 0.0
    assert first.confidence_pct > hours[4].confidence_pct


def test_without_v2g_consent_or_evidence_nothing_is_exported() -> None:
    evse = ac_evse("NL*ABC*E1*1", 1)
    no_consent = _session(
        evse["evse_id"],
        evu_limits={"min_soc_at_departure_pct": 80.0, "max_energy_to_grid_wh": 0.0},
    )
    span = horizon(NOW, NOW, NOW + timedelta(hours=1), 900)
    assert forecast_for(_resolved(evse, no_consent), span, NOW, []).intervals[0].max_export_w == 0
    uncertified = _session(evse["evse_id"], ev={**BIDI_EV, "conformity": []})
    first = forecast_for(_resolved(evse, uncertified), span, NOW, []).intervals[0]
    assert (first.max_export_w, first.v2g_capable_evs) == (0.0, 0)


def test_committed_power_is_taken_off_and_unknown_departure_lowers_confidence() -> None:
    evse = dc_evse("NL*ABC*E2*1", 1, v2g=True)
    session = _session(
        evse["evse_id"],
        departure_time=None,
        ev={**BIDI_EV, "conformity": []},
        energy_request={
            "target_energy_wh": 5000.0,
            "min_energy_wh": 5000.0,
            "max_energy_wh": 30000.0,
            "v2x_min_energy_wh": -8000.0,
        },
    )
    resolved = _resolved(evse, session)
    resolved.stations["cs-1"] = ChargingStation.model_validate(
        station(
            "cs-1",
            "site-1",
            2,
            [evse],
            conformity_evidence=[{**BIDI_EV["conformity"][0], "scope": "CS", "subject_id": "cs-1"}],
        )
    )
    span = horizon(NOW, NOW, NOW + timedelta(hours=2), 3600)
    free = forecast_for(resolved, span, NOW, []).intervals
    held = Committed(evse["evse_id"], NOW, NOW + timedelta(hours=1), 4000.0, 3000.0)
    taken = forecast_for(resolved, span, NOW, [held]).intervals
    assert taken[0].max_import_w == free[0].max_import_w - 4000.0
    assert taken[0].max_export_w == max(0.0, free[0].max_export_w - 3000.0)
    assert taken[1] == free[1]
    assert free[0].confidence_pct == pytest.approx(95.0 * 0.6)


def test_site_totals_are_capped_and_off_grid_offers_nothing() -> None:
    evse = ac_evse("NL*ABC*E1*1", 1)
    resolved = _resolved(evse, _session(evse["evse_id"]), import_w=6000.0)
    resolved.target = Target(level=TargetLevel.SITE, id="site-1")
    span = horizon(NOW, NOW, NOW + timedelta(hours=1), 3600)
    assert forecast_for(resolved, span, NOW, []).intervals[0].max_import_w == 6000.0
    island = _resolved(evse, _session(evse["evse_id"]), grid_state="OFF_GRID")
    first = forecast_for(island, span, NOW, []).intervals[0]
    assert (first.max_import_w, first.max_export_w, first.connected_evs) == (0.0, 0.0, 1)


def test_the_horizon_is_checked() -> None:
    with pytest.raises(UnprocessableContent) as caught:
        horizon(NOW, NOW, NOW - timedelta(seconds=1), 900)
    assert caught.value.errors is not None
    assert caught.value.errors[0].pointer == "/query/end"
    with pytest.raises(UnprocessableContent) as caught:
        horizon(NOW, NOW, NOW + timedelta(days=2), 60)
    assert caught.value.errors is not None
    assert caught.value.errors[0].pointer == "/query/resolution_s"
    span = horizon(NOW, None, None, 3600)
    assert (span.start, span.end) == (NOW, NOW + timedelta(days=1))
    assert [b - a for a, b in horizon(NOW, NOW, NOW + timedelta(minutes=90), 3600).spans()] == [
        timedelta(hours=1),
        timedelta(minutes=30),
    ]
