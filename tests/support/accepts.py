"""Accepts as the group committer's batch writes take them (`storage/fast/accept_many.py`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from fcsbe.server.services.event_log.log import event_values
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.event_log import EventLogRow
from fcsbe.server.storage.fast.accept_many import Received
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow, FsTransitionRow
from fcsbe.server.storage.idempotency import IdempotencyKeyRow
from tests.support.factories import make_fo
from tests.support.fs_fixtures import make_contract

__all__ = ["received_accepts", "seed_two_fos", "stored_rows"]


def received_accepts(count: int) -> list[Received]:
    """`count` accepts of two FOs, with and without key rows, with and without a contract."""
    now = utcnow()
    accepts: list[Received] = []
    for n in range(count):
        party = "FO-A" if n % 2 == 0 else "FO-B"
        fs_id = f"fs-{n}"
        document = {"fs_id": fs_id, "n": n, "nested": {"text": "é\u2028\"'", "list": [1, 2.5]}}
        values = {
            "fo_party_id": party,
            "fs_id": fs_id,
            "fsc_id": "fsc-1" if n % 3 else "fsc-none",
            "fs_type": "SETPOINT",
            "window_start": now + timedelta(hours=1),
            "window_end": now + timedelta(hours=2),
            "response_deadline": now + timedelta(seconds=30),
            "request": document,
            "correlation_id": None if n % 4 else f"corr-{n}",
            "created_at": now,
        }
        event = event_values(
            type="FS_RECEIVED",
            object_ref=f"fs/{fs_id}/1",
            summary="SETPOINT request",
            party_id=party,
            fs_id=fs_id,
            payload=document,
        )
        key_row = None
        if n % 5:
            key_row = {
                "party_id": party,
                "key": f"key-{n}",
                "method": "POST",
                "path": "/v1/flexibility-services",
                "request_hash": f"{n:064x}",
                "status": "DONE",
                "response_status": 202,
                "response_headers": {"location": f"/v1/flexibility-services/{fs_id}"},
                "response_body": f'{{"fs_id": "{fs_id}"}}'.encode(),
                "created_at": now,
                "expires_at": now + timedelta(days=1),
            }
        accepts.append((values, event, key_row))
    return accepts


async def stored_rows(app: FastAPI) -> dict[str, list[tuple[Any, ...]]]:
    """What the accepts left, without generated ids (by natural keys)."""
    async with app.state.session_factory() as session:
        fs = (await session.execute(select(FlexibilityServiceRow))).scalars().all()
        by_pk = {row.id: row.fs_id for row in fs}
        transitions = (await session.execute(select(FsTransitionRow))).scalars().all()
        events = (await session.execute(select(EventLogRow))).scalars().all()
        keys = (await session.execute(select(IdempotencyKeyRow))).scalars().all()
    return {
        "fs": sorted(
            (
                r.fo_party_id,
                r.fs_id,
                r.revision,
                r.contract_id is not None,
                r.state,
                r.window_start,
                r.response_deadline,
                repr(r.request),
                r.correlation_id,
                r.created_at,
                r.updated_at,
            )
            for r in fs
        ),
        "transitions": sorted(
            (by_pk[t.fs_pk], t.revision, t.from_state, t.to_state, t.at) for t in transitions
        ),
        "events": sorted((e.fs_id, e.type, e.object_ref, e.payload_digest, e.time) for e in events),
        "keys": sorted(
            (k.party_id, k.key, k.request_hash, repr(k.response_headers), k.response_body)
            for k in keys
        ),
    }


async def seed_two_fos(app: FastAPI) -> None:
    factory = app.state.session_factory
    await make_fo(factory, "FO-A")
    await make_fo(factory, "FO-B")
    await make_contract(factory, "FO-A")
    await make_contract(factory, "FO-B")
