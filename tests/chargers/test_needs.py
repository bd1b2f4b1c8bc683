"""What a simulated charger tells the CSMS about each EV's charging needs (OCPP 2.x)."""

from __future__ import annotations

from typing import Any

from fcsbe.chargers.fleet import ChargerFleet
from fcsbe.server.adapters.scenario_registry import registry_of, scenario_fleet


def _payload(message: Any) -> dict[str, Any]:
    payload = message.payload
    return dict(payload() if callable(payload) else payload)


def test_needs_follow_every_transaction_even_one_started_while_offline() -> None:
    scenario = scenario_fleet("demo")
    fleet = ChargerFleet(scenario, "ws://127.0.0.1:9/ocpp")
    fleet.tick()  # EVs plug in before any station has booted
    models = {m.ev_model_id for m in registry_of(scenario).ev_models}
    needs: dict[tuple[str, int], dict[str, Any]] = {}
    for station in fleet.stations.values():
        station.after_boot()
        started: set[int] = set()
        for message in station.outbox:
            payload = _payload(message)
            if message.action == "TransactionEvent":
                started.add(payload["evse"]["id"])
            elif message.action == "NotifyEVChargingNeeds":
                assert payload["evse_id"] in started  # after its transaction
                needs[station.station_id, payload["evse_id"]] = payload["charging_needs"]
        mine = {n for s, n in needs if s == station.station_id}
        assert set(station.running_transactions()) <= mine
    assert needs
    modes = {n["requested_energy_transfer"] for n in needs.values()}
    assert {"AC_BPT_DER", "DC_BPT"} <= modes
    for n in needs.values():
        der = n.get("der_charging_parameters")
        # the EV's own inverter is named, as a registry EV model whose evidence counts
        assert (der is not None) == (n["requested_energy_transfer"] == "AC_BPT_DER")
        if der is not None:
            assert der["ev_inverter_model"] in models
