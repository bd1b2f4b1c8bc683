"""Meter data and FS documents for record tests: exact registers from piecewise-constant power.

Each reading at time t carries the power of the step that ends at t (as the simulator's meters
do) and registers integrated exactly, so expected energies can be written down by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fcsbe.model import (
    ContractProposal,
    ContractTerms,
    FlexibilityService,
    FlexibilityServiceRequest,
    FsState,
    Target,
    TargetLevel,
)
from fcsbe.server.services.records.dsr.inputs import MeterInfo, MeterSample

__all__ = ["T0", "contract_terms", "finish_fs", "fs_model", "meter", "readings"]

T0 = datetime.fromisoformat("2026-03-02T17:00:00+00:00")
"""Window start of the test FS."""


def meter(meter_id: str, *, level: str = "EVSE", certified: bool = True) -> MeterInfo:
    return MeterInfo(
        meter_id=meter_id,
        target=Target(level=TargetLevel(level), id=meter_id),
        serial_number=f"SN-{meter_id}",
        certified=certified,
    )


def readings(
    meter_id: str,
    start: datetime,
    end: datetime,
    step_s: int,
    power: Callable[[datetime], float],
    *,
    import_wh: float = 1_000_000.0,
    export_wh: float = 0.0,
) -> list[MeterSample]:
    """Readings every `step_s` from `start` to `end` inclusive; `power(t)` is the power over
    [t, t + step); a reading at t reports the power of the step that ended at t."""
    out: list[MeterSample] = []
    at, previous = start, power(start - timedelta(seconds=step_s))
    while at <= end:
        out.append(
            MeterSample(
                meter_id=meter_id,
                at=at,
                e_import_wh=import_wh,
                e_export_wh=export_wh,
                p_w=previous,
                received_at=at + timedelta(seconds=2),
            )
        )
        previous = power(at)
        energy = previous * step_s / 3600
        import_wh += max(energy, 0.0)
        export_wh += max(-energy, 0.0)
        at += timedelta(seconds=step_s)
    return out


def contract_terms(**changes: Any) -> ContractTerms:
    example = dict(ContractProposal.model_config["json_schema_extra"]["examples"][0])  # type: ignore[index]
    example.update(changes)
    return ContractProposal.model_validate(example).to_terms()


def fs_model(
    parameters: dict[str, Any],
    *,
    minutes: int = 30,
    baseline_method: str | None = None,
    tolerance_pct: float | None = 10.0,
    targets: list[dict[str, str]] | None = None,
    transitions: list[tuple[FsState, datetime]] | None = None,
    response: dict[str, Any] | None = None,
) -> FlexibilityService:
    request = FlexibilityServiceRequest.model_validate(
        {
            "fs_id": "fs-record-1",
            "fsc_id": "fsc-1",
            "fs_type": parameters["fs_type"],
            "targets": targets or [{"level": "SITE", "id": "site-1"}],
            "window": {
                "start": T0.isoformat(),
                "end": (T0 + timedelta(minutes=minutes)).isoformat(),
            },
            "tolerance_pct": tolerance_pct,
            "baseline_method": baseline_method,
            "parameters": parameters,
        }
    )
    history = transitions or [
        (FsState.ACTIVE, T0),
        (FsState.COMPLETED, T0 + timedelta(minutes=minutes)),
    ]
    return FlexibilityService.model_validate(
        {
            "fs_id": request.fs_id,
            "revision": 1,
            "fsc_id": request.fsc_id,
            "fs_type": request.fs_type,
            "state": history[-1][0],
            "request": request.model_dump(mode="json"),
            "response": response,
            "response_deadline": (T0 - timedelta(minutes=10)).isoformat(),
            "created_at": (T0 - timedelta(hours=1)).isoformat(),
            "updated_at": history[-1][1].isoformat(),
            "transitions": [{"to_state": s, "at": at.isoformat()} for s, at in history],
        }
    )


async def finish_fs(
    factory: Any,
    party_id: str,
    fs_id: str,
    *,
    started: datetime,
    ended: datetime,
    final: FsState = FsState.COMPLETED,
) -> int:
    """Run an accepted FS to its end the way the executor does (SCHEDULED, ACTIVE, `final`);
    returns its primary key for `record_fs`."""
    from fcsbe.server.services.flexibility_services.lifecycle import move
    from fcsbe.server.storage.flexibility_services import get_fs

    async with factory() as session:
        fs = await get_fs(session, party_id, fs_id, for_update=True)
        assert fs is not None
        await move(session, fs, FsState.SCHEDULED, "profiles sent")
        await move(session, fs, FsState.ACTIVE, "window started", at=started)
        await move(session, fs, final, "window ended", at=ended)
        await session.commit()
        return fs.id
