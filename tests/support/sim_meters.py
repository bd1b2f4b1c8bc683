"""The station simulator as a direct meter source for DSR robustness tests (R7), without a
server: a site of EVSEs matching `tests.support.fs_fixtures.make_site`, EVs plugged in,
readings mapped onto `MeterSample`s (stamped with the time they were drained, so late ones show
as late). The server's own mapping, from stored readings and registered meters, is
`fcsbe.server.services.records.inputs`; the UC 3.4 scenario runs it through the executor.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta

from fcsbe.server.services.records.dsr.inputs import MeterInfo, MeterSample, SessionSpan
from fcsbe.server.services.records.inputs import meter_info
from fcsbe.sim import (
    Consent,
    EvseSpec,
    EvUserLimits,
    FaultOptions,
    SimOptions,
    Simulator,
    SiteSpec,
    VirtualClock,
)
from fcsbe.sim.catalogue import SUV_BPT

__all__ = ["build_site_sim", "drive", "meters_of", "pseudonym", "sessions_of"]


def pseudonym(session_key: str) -> str:
    """A stable session reference for a simulator session key (the server keys it properly)."""
    return "ps_" + hashlib.sha256(session_key.encode()).hexdigest()[:20]


def build_site_sim(
    evse_ids: Sequence[str],
    start: datetime,
    *,
    site_id: str = "s1",
    faults: FaultOptions | None = None,
    resolution_s: float = 60.0,
    seed: int = 3,
) -> Simulator:
    """A DC site (50 kW charge, 25 kW discharge per EVSE) with a V2G SUV (77 kWh) on every
    EVSE, far from full so that it can follow any schedule for hours."""
    sim = Simulator(
        [SiteSpec(site_id, 2, import_limit_w=len(evse_ids) * 60_000.0, export_limit_w=1e6)],
        [EvseSpec(e, f"cs-{site_id}", site_id, "DC", 50_000.0, 25_000.0) for e in evse_ids],
        seed=seed,
        clock=VirtualClock(start),
        options=SimOptions(meter_resolution_s=resolution_s, site_readings=False, faults=faults),
    )
    for n, evse in enumerate(evse_ids):
        sim.connect_ev(
            evse,
            SUV_BPT,
            10.0 + 5 * n,
            start + timedelta(hours=10),
            EvUserLimits(min_soc_at_departure_pct=60.0, soc_floor_pct=20.0),
            Consent(v1g=True, v2g=True),
        )
    return sim


def drive(
    sim: Simulator, since: datetime, until: datetime, *, every_s: float = 60.0
) -> list[MeterSample]:
    """Run from `since` (the simulator's time) to `until`, draining readings every `every_s`
    (that instant is their `received_at`)."""
    samples: list[MeterSample] = []
    at = since
    while at < until:
        at = min(until, at + timedelta(seconds=every_s))
        sim.run_until(at, dt_s=10)
        for r in sim.drain_readings():
            samples.append(
                MeterSample(
                    meter_id=r.meter_id,
                    at=r.at,
                    e_import_wh=r.e_import_wh,
                    e_export_wh=r.e_export_wh,
                    p_w=r.p_w,
                    soc_pct=r.soc_pct,
                    quality=r.quality,
                    received_at=at,
                )
            )
    return samples


def meters_of(evse_ids: Sequence[str]) -> list[MeterInfo]:
    """The EVSE meters as the executor maps them from a registry like the simulated one."""
    return [
        meter_info(e, {"meter": {"serial_number": f"SIM-{n:04d}", "certified": True}})
        for n, e in enumerate(evse_ids)
    ]


def sessions_of(sim: Simulator, since: datetime) -> list[SessionSpan]:
    """The sessions connected now, pseudonymous."""
    return [
        SessionSpan(pseudonym(s.session_key), s.evse_id, max(s.connected_at, since), None)
        for s in sim.sessions()
    ]
