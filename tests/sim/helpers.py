"""Small fleets for the simulator tests: one site, a few EVSEs, EVs plugged in on request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fcsbe.sim import (
    Consent,
    EvProfile,
    EvseSpec,
    EvUserLimits,
    SimOptions,
    Simulator,
    SiteSpec,
    VirtualClock,
)

START = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
EV = EvProfile(battery_capacity_wh=60_000, max_charge_w=11_000, max_discharge_w=11_000)
AC_EV = EvProfile(battery_capacity_wh=60_000, max_charge_w=11_000, max_discharge_w=11_000)
BIDI_EV = EvProfile(
    battery_capacity_wh=60_000,
    max_charge_w=11_000,
    max_discharge_w=11_000,
    onboard_bidirectional=True,
    conformity=("EN 50549-1",),
)
V2G = Consent(v1g=True, v2g=True)


def hours(h: float) -> datetime:
    """START plus `h` hours."""
    return START + timedelta(hours=h)


def single_site(
    n: int = 1,
    *,
    current_type: str = "DC",
    max_charge_w: float = 11_000,
    max_discharge_w: float = 11_000,
    min_charge_w: float = 0.0,
    import_limit_w: float = 1e9,
    export_limit_w: float = 1e9,
    options: SimOptions | None = None,
    seed: int = 1,
    **site: object,
) -> tuple[Simulator, list[str]]:
    """A simulator with one site of `n` identical EVSEs, on a virtual clock at START."""
    spec = SiteSpec(
        site_id="SITE",
        configuration_type=2 if current_type == "DC" else 3,
        import_limit_w=import_limit_w,
        export_limit_w=export_limit_w,
        **site,  # type: ignore[arg-type]
    )
    evses = [
        EvseSpec(
            evse_id=f"E{k}",
            cs_id=f"CS{k // 2}",
            site_id="SITE",
            current_type="DC" if current_type == "DC" else "AC",
            max_charge_w=max_charge_w,
            max_discharge_w=max_discharge_w,
            min_charge_w=min_charge_w,
        )
        for k in range(n)
    ]
    sim = Simulator([spec], evses, seed=seed, clock=VirtualClock(START), options=options)
    return sim, [e.evse_id for e in evses]


def plug(
    sim: Simulator,
    evse_id: str,
    *,
    soc_pct: float = 50.0,
    departure_h: float = 8.0,
    limits: EvUserLimits | None = None,
    consent: Consent = V2G,
    ev: EvProfile = EV,
    target_soc_pct: float = 80.0,
) -> str:
    """Connect an EV at `evse_id` now; returns the session key."""
    return sim.connect_ev(
        evse_id,
        ev,
        soc_pct,
        sim.now + timedelta(hours=departure_h),
        limits or EvUserLimits(),
        consent,
        target_soc_pct=target_soc_pct,
    )
