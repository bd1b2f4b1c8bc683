"""Readings read back for a record: by meter, each meter's oldest first, as plain tuples the
garbage collector stops tracking (a record reads ~100,000 of them)."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI

from fcsbe.server.services.records.inputs import stored_readings
from fcsbe.server.storage.measurements import insert_readings

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _row(meter_id: str, at: datetime, e_import_wh: float) -> dict[str, object]:
    return {
        "meter_id": meter_id,
        "kind": "EVSE",
        "at": at,
        "p_w": 1000.0,
        "q_var": None,
        "e_import_wh": e_import_wh,
        "e_export_wh": 0.0,
        "soc_pct": None,
        "f_hz": None,
        "u_v": None,
        "quality": "MEASURED",
    }


async def test_readings_come_back_by_meter_as_untracked_tuples(app: FastAPI) -> None:
    later, earlier = T0 + timedelta(minutes=15), T0
    async with app.state.session_factory() as session:
        await insert_readings(
            session,
            [
                _row("E2", later, 2.0),
                _row("E1", later, 20.0),
                _row("E2", earlier, 1.0),
                _row("E1", earlier, 10.0),
                _row("E1", earlier, 11.0),  # the same instant again: kept after the first
                _row("E3", earlier, 5.0),  # not asked for
            ],
        )
        await session.commit()
    async with app.state.session_factory() as session:
        readings = await stored_readings(session, ["E1", "E2"], T0, T0 + timedelta(hours=1))
    assert [(r[0], r[1], r[2]) for r in readings] == [
        ("E1", earlier, 10.0),
        ("E1", earlier, 11.0),
        ("E1", later, 20.0),
        ("E2", earlier, 1.0),
        ("E2", later, 2.0),
    ]
    assert {type(r) for r in readings} == {tuple}
    assert readings[0] == ("E1", earlier, 10.0, 0.0, 1000.0, None, "MEASURED", None, None, None)
    gc.collect()
    assert not any(gc.is_tracked(r) for r in readings)
