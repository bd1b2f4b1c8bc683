"""Measured series of an FS's EVSEs, from the readings the telemetry step kept."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    MeasurementPoint,
    MeasurementQuality,
    MeasurementSeries,
    Quantity,
    Target,
    TargetLevel,
)
from fcsbe.model.measurements import MAX_POINTS
from fcsbe.server.storage.flexibility import FlexibilityServiceRow, fs_evse_shares
from fcsbe.server.storage.measurements import MeterReadingRow, readings_between

__all__ = ["measurement_series"]

_COLUMN = {
    Quantity.P_W: "p_w",
    Quantity.Q_VAR: "q_var",
    Quantity.E_IMPORT_WH: "e_import_wh",
    Quantity.E_EXPORT_WH: "e_export_wh",
    Quantity.F_HZ: "f_hz",
    Quantity.U_V: "u_v",
    Quantity.SOC_AGG_PCT: "soc_pct",
}


def _quality(row: MeterReadingRow) -> MeasurementQuality:
    try:
        return MeasurementQuality(row.quality)
    except ValueError:
        return MeasurementQuality.MEASURED


async def measurement_series(
    session: AsyncSession, fs: FlexibilityServiceRow, quantities: Sequence[Quantity]
) -> list[MeasurementSeries]:
    """One series per EVSE and quantity over the FS window (the latest points if capped)."""
    evses = [row[0] for row in await fs_evse_shares(session, fs.id)]
    readings = await readings_between(session, evses, fs.window_start, fs.window_end)
    by_meter: dict[str, list[MeterReadingRow]] = {}
    for row in readings:
        kept = by_meter.setdefault(row.meter_id, [])
        if not kept or row.at > kept[-1].at:  # duplicated or late readings: first one wins
            kept.append(row)
    series = []
    for evse_id in sorted(evses):
        rows = by_meter.get(evse_id, [])[-MAX_POINTS:]
        resolution = (
            (rows[-1].at - rows[0].at).total_seconds() / (len(rows) - 1) if len(rows) > 1 else 1.0
        )
        for quantity in quantities:
            column = _COLUMN[quantity]
            series.append(
                MeasurementSeries(
                    target=Target(level=TargetLevel.EVSE, id=evse_id),
                    quantity=quantity,
                    resolution_s=max(resolution, 0.001),
                    meter_ref=f"M-{evse_id}",
                    points=[
                        MeasurementPoint(
                            time=row.at, value=getattr(row, column), quality=_quality(row)
                        )
                        for row in rows
                    ],
                )
            )
    return series
