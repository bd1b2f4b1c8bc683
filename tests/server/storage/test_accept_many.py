"""A group commit's batch of accepts written together (`storage/fast/accept_many.py`).

On PostgreSQL the batch is one statement over arrays; the plain twins (SQLite, `use_plain`)
write a multi-row statement per table. Both must leave exactly the rows that writing each
accept on its own leaves: the FS (its contract resolved), its first transition, its event-log
entry and its key row when it has one; and a batch with one conflicting accept writes nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from fcsbe.server.services.event_log.log import event_values
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.event_log import EventLogRow
from fcsbe.server.storage.fast.accept import insert_received_fs
from fcsbe.server.storage.fast.accept_many import Received, insert_received_many
from fcsbe.server.storage.fast.driver import use_plain
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow, FsTransitionRow
from fcsbe.server.storage.idempotency import IdempotencyKeyRow
from tests.support.databases import empty_all
from tests.support.factories import make_fo
from tests.support.fs_fixtures import make_contract


def _accepts(count: int) -> list[Received]:
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


async def _rows(app: FastAPI) -> dict[str, list[tuple[Any, ...]]]:
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


async def _seed(app: FastAPI) -> None:
    factory = app.state.session_factory
    await make_fo(factory, "FO-A")
    await make_fo(factory, "FO-B")
    await make_contract(factory, "FO-A")
    await make_contract(factory, "FO-B")


@pytest.mark.parametrize("plain", [False, True], ids=["fast", "plain"])
async def test_a_batch_leaves_the_rows_of_its_accepts_written_one_by_one(
    app: FastAPI, plain: bool
) -> None:
    accepts = _accepts(12)
    await _seed(app)
    async with app.state.session_factory() as session:
        if plain:
            use_plain(session)
        await insert_received_many(session, accepts)
        await session.commit()
    together = await _rows(app)
    await empty_all(app.state.engine)
    await _seed(app)
    for values, event, key_row in accepts:
        async with app.state.session_factory() as session:
            use_plain(session)
            await insert_received_fs(session, values, event, key_row)
            await session.commit()
    assert together == await _rows(app)
    assert len(together["fs"]) == len(together["transitions"]) == len(together["events"]) == 12
    assert len(together["keys"]) == 9
    assert sum(1 for row in together["fs"] if row[3]) == 8  # those naming fsc-1


async def test_a_batch_with_one_conflicting_accept_writes_nothing(app: FastAPI) -> None:
    accepts = _accepts(6)
    await _seed(app)
    async with app.state.session_factory() as session:
        await insert_received_fs(session, *accepts[3])
        await session.commit()
    before = await _rows(app)
    async with app.state.session_factory() as session:
        with pytest.raises(IntegrityError):
            await insert_received_many(session, accepts)
        await session.rollback()
    assert await _rows(app) == before
