"""A record measured at the sites' points of connection (CONGESTION, UC 2.7).

A DSO's congestion is at the connection point: what a site draws is EV charging *plus* its
household or building load minus PV. So the record of a congestion FS takes its measured power
from each site's point-of-connection meter where the site has one (the record inputs then count
that meter in the total, listed in the record's meters under the site id, and the site's EVSE
meters only for the sessions). A site without one is estimated: its EVSE meters plus the non-EV
power the stations reported at each plan (`ConnectionPoint.other_load`), added here per
interval; with nothing reported, the EVSE meters alone. Each estimated site gets an
`ESTIMATED_VALUES` flag naming it and the source used, so the FO knows what it settles on.

The basis is stated with values the record already has (a meter, a flag) rather than a new
field: the proof of work signs the digest of the record as served, and a client whose model
does not know a field drops it and could no longer recompute that digest.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from fcsbe.model import DataQualityCode, DataQualityFlag, Target, TargetLevel
from fcsbe.server.services.records.dsr.inputs import ConnectionPoint, RecordInputs
from fcsbe.server.services.records.dsr.plan import Slot, average

__all__ = ["connection_flags", "modeled_load_w", "without_meters"]


def _site_load_w(point: ConnectionPoint, start: float, end: float) -> float:
    """The modelled non-EV power of an unmetered site over [start, end) (0 if none known)."""
    if point.metered or not point.other_load:
        return 0.0
    segments = [(p.start.timestamp(), p.end.timestamp(), p.p_w) for p in point.other_load]
    return average(segments, start, end) or 0.0


def modeled_load_w(points: Sequence[ConnectionPoint], start: float, end: float) -> float:
    """The non-EV power over [start, end) of the sites measured without a connection-point
    meter: what their EVSE meters miss (+ import)."""
    return sum(_site_load_w(p, start, end) for p in points)


def connection_flags(
    points: Sequence[ConnectionPoint], slots: Sequence[Slot]
) -> list[DataQualityFlag]:
    """An `ESTIMATED_VALUES` flag per site measured without a connection-point meter, saying
    what stands in for it (with the non-EV energy added, + import)."""
    if not slots:
        return []
    start = datetime.fromtimestamp(slots[0].start, UTC)
    end = datetime.fromtimestamp(slots[-1].end, UTC)
    flags: list[DataQualityFlag] = []
    for point in sorted(points, key=lambda p: p.site_id):
        if point.metered:
            continue
        if point.other_load:
            energy = sum(_site_load_w(point, s.start, s.end) * s.duration / 3600 for s in slots)
            detail = (
                f"no connection-point meter at {point.site_id}: estimated as its EVSE meters "
                f"plus the non-EV load (load minus PV) the stations reported at each plan, "
                f"{energy:.3f} Wh over the record"
            )
        else:
            detail = (
                f"no connection-point meter at {point.site_id} and no non-EV load known: "
                "estimated as its EVSE meters alone"
            )
        flags.append(
            DataQualityFlag(
                code=DataQualityCode.ESTIMATED_VALUES,
                start=start,
                end=end,
                target=Target(level=TargetLevel.SITE, id=point.site_id),
                detail=detail,
            )
        )
    return flags


def without_meters(inputs: RecordInputs, left_out: Collection[str]) -> RecordInputs:
    """`inputs` without the meters `left_out` (a dispute's correction). A connection-point
    meter left out makes its site estimated, as if it had none: its EVSE meters count again,
    plus the non-EV load noted at each plan."""
    unmetered = {p.site_id for p in inputs.connection_points if p.metered and p.site_id in left_out}
    counted = {e for p in inputs.connection_points if p.site_id in unmetered for e in p.evse_ids}
    return replace(
        inputs,
        meters=[
            replace(m, in_total=True) if m.meter_id in counted else m
            for m in inputs.meters
            if m.meter_id not in left_out
        ],
        readings=[r for r in inputs.readings if r.meter_id not in left_out],
        response=[r for r in inputs.response if r.meter_id not in left_out],
        connection_points=[
            replace(p, metered=False) if p.site_id in unmetered else p
            for p in inputs.connection_points
        ],
    )
