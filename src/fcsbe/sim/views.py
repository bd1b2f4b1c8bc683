"""Read side of the simulator: snapshots, headroom, aggregates and meter readings.

Everything here reads the engine's flat arrays and builds values for the outside; nothing here
changes state. Headroom mirrors the bounds of the per-step loop (`EvseTable.integrate`) without
the controls in force, so the server allocates an FS against what the EVs and their users allow,
not against what an earlier FS happens to be asking.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from fcsbe.sim.clock import from_us
from fcsbe.sim.controls import Control, LimitControl
from fcsbe.sim.evse_table import INF, EvseTable
from fcsbe.sim.local import LocalFunctions
from fcsbe.sim.meters import MeterReading
from fcsbe.sim.sites import SiteTable
from fcsbe.sim.state import Aggregate, EnergyRequest, EvSession, EvseState, Headroom, SiteState

__all__ = [
    "EvseGroup",
    "aggregate",
    "evse_readings",
    "evse_state",
    "headroom",
    "session_view",
    "site_headroom",
    "site_readings",
    "site_state",
]


class EvseGroup:
    """A fixed set of EVSEs resolved to indices once, for repeated fast aggregates."""

    __slots__ = ("evse_ids", "indices")

    def __init__(self, evse_ids: Sequence[str], indices: Sequence[int]) -> None:
        self.evse_ids = tuple(evse_ids)
        self.indices = tuple(indices)

    def __len__(self) -> int:
        return len(self.indices)


def headroom(table: EvseTable, i: int, t_s: float, horizon_s: float) -> Headroom:
    """Power range EVSE `i` can hold for `horizon_s` from `t_s` (seconds since the origin)."""
    if not table.connected[i]:
        return Headroom(0.0, 0.0)
    if not table.managed[i]:
        fixed = table.unmanaged_w(i, horizon_s)
        return Headroom(fixed, -fixed)
    k = 3600.0 / horizon_s
    s = table.soc_wh[i]
    hp = min(table.max_charge_now_w(i), max((table.full_wh[i] - s) * k, 0.0))
    lo = table.dis_floor_w[i]
    if lo < 0.0:
        lo = max(lo, (table.floor_wh[i] - s) * k, (table.e_export_wh[i] - table.grid_cap_wh[i]) * k)
        lo = min(lo, 0.0)
    need = table.min_dep_wh[i] - s
    rem = table.departure_s[i] - (t_s + horizon_s)
    if rem > 0.0:
        need -= table.phys_max_w[i] * rem / 3600.0
    need *= k
    if need > lo:
        lo = min(need, hp)
    return Headroom(max(hp, lo), -lo)


def aggregate(
    table: EvseTable, indices: Sequence[int], t_s: float, horizon_s: float, with_headroom: bool
) -> Aggregate:
    """Sum power (and headroom) over EVSEs; the power part runs at C speed."""
    p = table.p_w
    total_p = sum(map(p.__getitem__, indices))
    total_q = sum(map(table.q_var.__getitem__, indices))
    connected = sum(map(table.connected.__getitem__, indices))
    up = down = 0.0
    if with_headroom:
        for i in indices:
            if table.connected[i]:
                room = headroom(table, i, t_s, horizon_s)
                up += room.max_import_w
                down += room.max_export_w
    return Aggregate(len(indices), connected, total_p, total_q, up, down)


def site_headroom(
    sites: SiteTable, s: int, table: EvseTable, t_s: float, horizon_s: float
) -> Headroom:
    """Range of the point-of-connection power: EVSE headroom plus storage, minus PV and base
    load as they are now, clipped to the site's (effective) import and export limits."""
    a, b = sites.ranges[s]
    up = down = 0.0
    for i in range(a, b):
        if table.connected[i]:
            room = headroom(table, i, t_s, horizon_s)
            up += room.max_import_w
            down += room.max_export_w
    storage = sites.specs[s].storage
    if storage is not None:
        k = 3600.0 / horizon_s
        soc = sites.storage_wh[s]
        floor = storage.capacity_wh * storage.min_soc_pct / 100.0
        up += min(storage.max_charge_w, max(0.0, (storage.capacity_wh - soc) * k))
        down += min(storage.max_discharge_w, max(0.0, (soc - floor) * k))
    base = sites.load_w[s] + sites.unserved_w[s] - sites.pv_w[s] - sites.curtailed_w[s]
    imp, exp, _, _ = sites.limits_w(s)
    return Headroom(min(up + base, imp), min(down - base, exp))


def controls_of(table: EvseTable, i: int, fn: LocalFunctions | None) -> tuple[Control, ...]:
    """The controls stored on EVSE `i`, base first, local functions last."""
    found: list[Control | None] = [table.setpoint(i), table.ctl_limit[i]]
    if fn is not None:
        found += [fn.droop, fn.ffr]
    return tuple(c for c in found if c is not None)


def evse_state(table: EvseTable, i: int, fn: LocalFunctions | None, site_id: str) -> EvseState:
    """Snapshot of EVSE `i`."""
    record = table.sessions[i]
    spec = table.specs[i]
    return EvseState(
        evse_id=spec.evse_id,
        cs_id=spec.cs_id,
        site_id=site_id,
        connected=table.connected[i],
        managed=table.managed[i],
        p_w=table.p_w[i],
        q_var=table.q_var[i],
        soc_pct=table.soc_pct(i),
        session_key=None if record is None else record.key,
        controls=controls_of(table, i, fn),
        e_import_wh=table.e_import_wh[i],
        e_export_wh=table.e_export_wh[i],
    )


def session_view(table: EvseTable, i: int, site_id: str) -> EvSession:
    """Snapshot of the session at EVSE `i` (which must have one)."""
    record = table.sessions[i]
    if record is None:
        raise ValueError(f"no EV at {table.ids[i]}")
    spec = table.specs[i]
    s, full = table.soc_wh[i], table.full_wh[i]
    floor = table.floor_wh[i]
    to_grid = table.grid_cap_wh[i] - table.e_export_wh[i]
    may_give = min(max(0.0, s - floor), to_grid) if table.dis_floor_w[i] < 0 else 0.0
    request = EnergyRequest(
        target_energy_wh=max(0.0, table.target_wh[i] - s),
        min_energy_wh=max(0.0, table.min_dep_wh[i] - s),
        max_energy_wh=max(0.0, full - s),
        v2x_min_energy_wh=-may_give,
        v2x_max_energy_wh=max(0.0, full - s),
        max_charge_power_w=table.phys_max_w[i],
        max_discharge_power_w=-table.dis_floor_w[i],
    )
    return EvSession(
        session_key=record.key,
        evse_id=spec.evse_id,
        cs_id=spec.cs_id,
        site_id=site_id,
        connected_at=from_us(record.connected_at_us),
        departure_time=from_us(record.departure_us),
        ev=record.ev,
        soc_pct=100.0 * s / full,
        target_soc_pct=record.target_soc_pct,
        limits=record.limits,
        consent=record.consent,
        v2g_capable=record.v2g_capable,
        energy_request=request,
        energy_imported_wh=table.e_import_wh[i] - record.e_import0_wh,
        energy_exported_wh=table.e_export_wh[i] - record.e_export0_wh,
        home_party=record.home_party,
        visited_party=record.visited_party,
        fs_controller=record.fs_controller,
        id_token=record.id_token,
        vin=record.vin,
        evcc_id=record.evcc_id,
    )


def site_state(sites: SiteTable, s: int, table: EvseTable) -> SiteState:
    """Snapshot of site `s` at its point of connection."""
    imp, exp, _, _ = sites.limits_w(s)
    a, b = sites.ranges[s]
    controls: list[Control] = []
    setpoint = sites.setpoint[s]
    if setpoint is not None:
        controls.append(setpoint)
    if sites.soft_imp_w[s] < INF or sites.soft_exp_w[s] < INF:
        controls.append(
            LimitControl(
                max_import_w=None if sites.soft_imp_w[s] == INF else sites.soft_imp_w[s],
                max_export_w=None if sites.soft_exp_w[s] == INF else sites.soft_exp_w[s],
            )
        )
    return SiteState(
        site_id=sites.ids[s],
        grid_state=sites.grid_state[s],
        p_w=sites.net_w[s],
        evse_p_w=sites.evse_w[s],
        pv_w=sites.pv_w[s],
        pv_curtailed_w=sites.curtailed_w[s],
        storage_w=sites.storage_w[s],
        storage_soc_pct=sites.storage_soc_pct(s),
        base_load_w=sites.load_w[s],
        unserved_w=sites.unserved_w[s],
        f_hz=sites.freq_hz[s],
        u_v=sites.volt_v[s],
        import_limit_w=imp,
        export_limit_w=exp,
        e_import_wh=sites.e_import_wh[s],
        e_export_wh=sites.e_export_wh[s],
        connected_evs=sum(table.connected[a:b]),
        controls=tuple(controls),
    )


def evse_readings(table: EvseTable, sites: SiteTable, at: datetime) -> list[MeterReading]:
    """One reading per EVSE (100,000 of them for the large fleet: kept to one comprehension)."""
    f, u, site_of = sites.freq_hz, sites.volt_v, table.site_of
    soc, full, connected = table.soc_wh, table.full_wh, table.connected
    return [
        MeterReading(
            evse_id,
            "EVSE",
            at,
            p,
            q,
            e_imp,
            e_exp,
            100.0 * soc[i] / full[i] if connected[i] else None,
            f[site_of[i]],
            u[site_of[i]],
        )
        for i, (evse_id, p, q, e_imp, e_exp) in enumerate(
            zip(
                table.ids, table.p_w, table.q_var, table.e_import_wh, table.e_export_wh, strict=True
            )
        )
    ]


def site_readings(sites: SiteTable, at: datetime) -> list[MeterReading]:
    """Point-of-connection readings (where the site has that meter), plus PV and storage
    meters where a site has them."""
    out: list[MeterReading] = []
    for s, spec in enumerate(sites.specs):
        f, u = sites.freq_hz[s], sites.volt_v[s]
        soc = sites.storage_soc_pct(s)
        if spec.connection_meter:
            out.append(
                MeterReading(
                    spec.site_id, "SITE", at, sites.net_w[s], 0.0,
                    sites.e_import_wh[s], sites.e_export_wh[s], soc, f, u,
                )
            )  # fmt: skip
        if spec.pv_peak_w > 0:
            out.append(
                MeterReading(
                    f"{spec.site_id}/PV", "PV", at, -sites.pv_w[s], 0.0,
                    0.0, sites.pv_wh[s], None, f, u,
                )
            )  # fmt: skip
        if spec.storage is not None:
            out.append(
                MeterReading(
                    f"{spec.site_id}/STORAGE", "STORAGE", at, sites.storage_w[s], 0.0,
                    sites.st_import_wh[s], sites.st_export_wh[s], soc, f, u,
                )
            )  # fmt: skip
    return out
