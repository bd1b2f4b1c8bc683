"""Baselines fixed before an FS starts: submitted by the FO or the CSO (UFTP's D-prognosis).

A submission is accepted until the FS's window starts (a later one replaces an earlier one),
and refused from then on (`409 baseline-too-late`): a baseline chosen once the response can be
seen would be no baseline. Its periods must lie within the window (`422` naming the period).
The record of an FS whose baseline method is SUBMITTED settles against it and names who
submitted it and when.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import BaselineSubmission, FieldError, SubmittedBaselineInfo
from fcsbe.server.errors import Conflict, NotFound, UnprocessableContent
from fcsbe.server.services.event_log.log import append_event
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow, get_fs
from fcsbe.server.storage.records import FsBaselineRow, find_baseline

__all__ = ["get_baseline", "submit_baseline"]


def _info(fs: FlexibilityServiceRow, row: FsBaselineRow) -> SubmittedBaselineInfo:
    return SubmittedBaselineInfo.model_validate(
        {
            "fs_id": fs.fs_id,
            "submitted_by": row.party_id,
            "role": row.role,
            "submitted_at": row.submitted_at,
            "periods": row.periods,
        }
    )


async def submit_baseline(
    session: AsyncSession,
    *,
    fo_party_id: str,
    fs_id: str,
    by: str,
    role: str,
    body: BaselineSubmission,
    now: datetime | None = None,
) -> SubmittedBaselineInfo:
    """Keep the FO's (or, with `role` CSO, the operator's) baseline of the FO's FS."""
    now = now or utcnow()
    fs = await get_fs(session, fo_party_id, fs_id, for_update=True)
    if fs is None:
        raise NotFound(f"No flexibility service {fs_id}.", slug="fs-not-found")
    if now >= fs.window_start:
        raise Conflict(
            f"FS {fs_id} started at {fs.window_start.isoformat()}: its baseline is fixed.",
            slug="baseline-too-late",
        )
    length = (fs.window_end - fs.window_start).total_seconds()
    for index, period in enumerate(body.periods):
        if period.start_offset_s + period.duration_s > length:
            raise UnprocessableContent(
                f"periods[{index}] ends after the FS window ({length:g} s).",
                slug="baseline-outside-window",
                errors=[
                    FieldError(
                        pointer=f"/body/periods/{index}/duration_s",
                        detail="the period ends after the FS window",
                        code="outside_window",
                    )
                ],
            )
    periods = [p.model_dump(mode="json") for p in body.periods]
    row = await find_baseline(session, fs.id)
    if row is None:
        row = FsBaselineRow(
            fs_pk=fs.id, kind="SUBMITTED", party_id=by, role=role, periods=periods, submitted_at=now
        )
        session.add(row)
    else:
        row.party_id, row.role, row.periods, row.submitted_at = by, role, periods, now
    await append_event(
        session,
        type="BASELINE_SUBMITTED",
        object_ref=f"fs/{fs.fs_id}/{fs.revision}/baseline",
        summary=f"baseline of {len(periods)} period(s) submitted by the {role}",
        party_id=fs.fo_party_id,
        fs_id=fs.fs_id,
        payload={"by": by, "role": role, "periods": periods},
        source="FO" if role == "FO" else "OPERATOR",
    )
    return _info(fs, row)


async def get_baseline(
    session: AsyncSession, fo_party_id: str, fs_id: str
) -> SubmittedBaselineInfo:
    """The baseline submitted for the FO's FS."""
    fs = await get_fs(session, fo_party_id, fs_id)
    row = await find_baseline(session, fs.id) if fs is not None else None
    if fs is None or row is None:
        raise NotFound(f"No baseline was submitted for FS {fs_id}.", slug="baseline-not-found")
    return _info(fs, row)
