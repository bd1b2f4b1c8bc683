"""Measured series of an FS, from the readings the telemetry step kept, at the granularity its
contract's data-sharing level allows.

A SITE-level contract gets one series per site, a CS-level one per station, EVSE and SESSION
levels one per EVSE: powers and energies are summed over the EVSEs of a group, frequency and
voltage averaged. The state of charge of one EV is session data: it is shown per EVSE only at
SESSION level under a contract that shares STATE_OF_CHARGE; otherwise only as the mean of at
least `MIN_SOC_CROWD` EVs, and withheld (null, MISSING) where fewer were connected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    DataSharingLevel,
    MeasurementPoint,
    MeasurementQuality,
    MeasurementSeries,
    PersonalDataCategory,
    Quantity,
    Target,
    TargetLevel,
)
from fcsbe.model.measurements import MAX_POINTS
from fcsbe.server.storage.contracts import ContractRow
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow, fs_evse_shares
from fcsbe.server.storage.measurements import MeterReadingRow, readings_between
from fcsbe.server.storage.registry import load_evses

__all__ = ["MIN_SOC_CROWD", "fs_groups", "measurement_series"]

MIN_SOC_CROWD = 2
"""Fewest EVs whose mean state of charge may be shown below SESSION level."""

_COLUMN = {
    Quantity.P_W: "p_w",
    Quantity.Q_VAR: "q_var",
    Quantity.E_IMPORT_WH: "e_import_wh",
    Quantity.E_EXPORT_WH: "e_export_wh",
    Quantity.F_HZ: "f_hz",
    Quantity.U_V: "u_v",
    Quantity.SOC_AGG_PCT: "soc_pct",
}
_AVERAGED = frozenset({Quantity.F_HZ, Quantity.U_V, Quantity.SOC_AGG_PCT})


@dataclass(frozen=True)
class _Sharing:
    level: DataSharingLevel
    soc_per_ev: bool


async def _sharing(session: AsyncSession, fs: FlexibilityServiceRow) -> _Sharing:
    """The FS contract's level and whether one EV's SoC may be shown (coarsest if unknown)."""
    contract = await session.get(ContractRow, fs.contract_id) if fs.contract_id else None
    if contract is None:
        return _Sharing(DataSharingLevel.SITE, soc_per_ev=False)
    level = DataSharingLevel(contract.data_sharing_level)
    categories = (contract.terms.get("personal_data") or {}).get("categories") or []
    soc_per_ev = (
        level is DataSharingLevel.SESSION and PersonalDataCategory.STATE_OF_CHARGE in categories
    )
    return _Sharing(level, soc_per_ev)


def _quality(row: MeterReadingRow) -> MeasurementQuality:
    try:
        return MeasurementQuality(row.quality)
    except ValueError:
        return MeasurementQuality.MEASURED


def _point(
    rows: Sequence[MeterReadingRow], quantity: Quantity, size: int, soc_per_ev: bool
) -> MeasurementPoint:
    """One point of a group from the readings of its meters taken at the same time."""
    column = _COLUMN[quantity]
    values = [v for v in (getattr(r, column) for r in rows) if v is not None]
    worst = next(
        (q for q in map(_quality, rows) if q is not MeasurementQuality.MEASURED),
        MeasurementQuality.MEASURED,
    )
    if len(rows) < size and worst is MeasurementQuality.MEASURED:
        worst = MeasurementQuality.ESTIMATED  # some meters of the group did not report
    if quantity is Quantity.SOC_AGG_PCT and not soc_per_ev and len(values) < MIN_SOC_CROWD:
        return MeasurementPoint(time=rows[0].at, value=None, quality=MeasurementQuality.MISSING)
    if not values:
        value = None
    elif quantity in _AVERAGED:
        value = sum(values) / len(values)
    else:
        value = sum(values)
    return MeasurementPoint(time=rows[0].at, value=value, quality=worst)


async def fs_groups(
    session: AsyncSession, fs: FlexibilityServiceRow
) -> tuple[list[str], dict[tuple[TargetLevel, str], list[str]]]:
    """The FS's EVSEs, and their groups at its contract's data-sharing level."""
    sharing = await _sharing(session, fs)
    evses = [row[0] for row in await fs_evse_shares(session, fs.id)]
    places = await load_evses(session, evses)
    groups: dict[tuple[TargetLevel, str], list[str]] = {}
    for evse_id in sorted(evses):
        place = places.get(evse_id)
        if sharing.level is DataSharingLevel.SITE and place is not None:
            key = (TargetLevel.SITE, place.site_id)
        elif sharing.level is DataSharingLevel.CS and place is not None:
            key = (TargetLevel.CS, place.cs_id)
        elif sharing.level in (DataSharingLevel.EVSE, DataSharingLevel.SESSION):
            key = (TargetLevel.EVSE, evse_id)
        else:
            continue  # not in the registry any more: nothing to place it by
        groups.setdefault(key, []).append(evse_id)
    return evses, groups


async def measurement_series(
    session: AsyncSession, fs: FlexibilityServiceRow, quantities: Sequence[Quantity]
) -> list[MeasurementSeries]:
    """One series per group and quantity over the FS window (the latest points if capped)."""
    sharing = await _sharing(session, fs)
    evses, groups = await fs_groups(session, fs)
    readings = await readings_between(session, evses, fs.window_start, fs.window_end)
    by_meter: dict[str, list[MeterReadingRow]] = {}
    for row in readings:
        kept = by_meter.setdefault(row.meter_id, [])
        if not kept or row.at > kept[-1].at:  # duplicated or late readings: first one wins
            kept.append(row)
    series = []
    for (level, target_id), members in sorted(groups.items()):
        at: dict[datetime, list[MeterReadingRow]] = {}
        for evse_id in members:
            for row in by_meter.get(evse_id, []):
                at.setdefault(row.at, []).append(row)
        times = sorted(at)[-MAX_POINTS:]
        resolution = (
            (times[-1] - times[0]).total_seconds() / (len(times) - 1) if len(times) > 1 else 1.0
        )
        soc_per_ev = sharing.soc_per_ev and level is TargetLevel.EVSE
        for quantity in quantities:
            series.append(
                MeasurementSeries(
                    target=Target(level=level, id=target_id),
                    quantity=quantity,
                    resolution_s=max(resolution, 0.001),
                    meter_ref=f"M-{target_id}",
                    points=[_point(at[t], quantity, len(members), soc_per_ev) for t in times],
                )
            )
    return series
