"""A group commit's batch of accepts written together (`storage/fast/accept_many.py`).

On PostgreSQL the batch is one statement over arrays; the plain twins (SQLite, `use_plain`)
write a multi-row statement per table. Both must leave exactly the rows that writing each
accept on its own leaves: the FS (its contract resolved), its first transition, its event-log
entry and its key row when it has one; and a batch with one conflicting accept writes nothing.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError

from fcsbe.server.storage.fast.accept import insert_received_fs
from fcsbe.server.storage.fast.accept_many import insert_received_many
from fcsbe.server.storage.fast.driver import use_plain
from tests.support.accepts import received_accepts, seed_two_fos, stored_rows
from tests.support.databases import empty_all


@pytest.mark.parametrize("plain", [False, True], ids=["fast", "plain"])
async def test_a_batch_leaves_the_rows_of_its_accepts_written_one_by_one(
    app: FastAPI, plain: bool
) -> None:
    accepts = received_accepts(12)
    await seed_two_fos(app)
    async with app.state.session_factory() as session:
        if plain:
            use_plain(session)
        await insert_received_many(session, accepts)
        await session.commit()
    together = await stored_rows(app)
    await empty_all(app.state.engine)
    await seed_two_fos(app)
    for values, event, key_row in accepts:
        async with app.state.session_factory() as session:
            use_plain(session)
            await insert_received_fs(session, values, event, key_row)
            await session.commit()
    assert together == await stored_rows(app)
    assert len(together["fs"]) == len(together["transitions"]) == len(together["events"]) == 12
    assert len(together["keys"]) == 9
    assert sum(1 for row in together["fs"] if row[3]) == 8  # those naming fsc-1


async def test_a_batch_with_one_conflicting_accept_writes_nothing(app: FastAPI) -> None:
    accepts = received_accepts(6)
    await seed_two_fos(app)
    async with app.state.session_factory() as session:
        await insert_received_fs(session, *accepts[3])
        await session.commit()
    before = await stored_rows(app)
    async with app.state.session_factory() as session:
        with pytest.raises(IntegrityError):
            await insert_received_many(session, accepts)
        await session.rollback()
    assert await stored_rows(app) == before
