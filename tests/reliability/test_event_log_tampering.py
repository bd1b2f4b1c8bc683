"""R6: a tampered or truncated event log is detected, with the first bad index.

The log is built through the real services (append, chain, tree, signed heads), then altered
directly in the database the way an attacker with write access would, from the crude (edit a
field) to the careful (edit, then recompute every later chain hash and the whole Merkle tree).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from fcsbe.cli import app as cli
from fcsbe.model import chain_hash
from fcsbe.server.app import create_app
from fcsbe.server.services.event_log.audit import LogAudit, verify_log
from fcsbe.server.services.event_log.log import append_event, chain_pending, entry_fields
from fcsbe.server.services.event_log.tree import extend_tree, tree_step
from fcsbe.server.settings import Settings
from fcsbe.server.storage import migrations
from fcsbe.server.storage.event_log import EventLogNodeRow, EventLogRow, SignedTreeHeadRow

ENTRIES = 40
HEAD_EVERY = 8


async def _build(app: FastAPI, entries: int = ENTRIES) -> None:
    """A log of `entries` entries with a signed head after every `HEAD_EVERY`."""
    factory = app.state.session_factory
    for start in range(0, entries, HEAD_EVERY):
        async with factory() as session:
            for n in range(start, min(start + HEAD_EVERY, entries)):
                await append_event(
                    session,
                    type="FS_STATE_CHANGED",
                    object_ref=f"fs/fs-{n % 3}/1",
                    summary=f"step {n}",
                    party_id=f"FO-{n % 2}",
                    fs_id=f"fs-{n % 3}",
                    payload={"n": n},
                )
            await session.commit()
        async with factory() as session:
            await chain_pending(session)
            await tree_step(session, app.state.keys, 0.0)
            await session.commit()


async def _audit(app: FastAPI) -> LogAudit:
    async with app.state.session_factory() as session:
        return await verify_log(session, app.state.keys.public_jwks())


async def _rechain_from(session: AsyncSession, seq: int) -> None:
    """What a careful attacker does after editing entry `seq`: recompute every later hash."""
    rows = (await session.execute(select(EventLogRow).order_by(EventLogRow.seq))).scalars().all()
    prev = rows[seq - 2].hash if seq > 1 else "0" * 64
    for row in rows[seq - 1 :]:
        row.prev_hash = prev
        row.hash = chain_hash(str(prev), entry_fields(row, int(row.seq or 0), str(prev)))
        prev = row.hash
    await session.flush()


async def test_intact_log_passes(app: FastAPI) -> None:
    await _build(app)
    audit = await _audit(app)
    assert audit.intact, audit
    assert (audit.entries, audit.heads_checked) == (ENTRIES, ENTRIES // HEAD_EVERY)


async def test_edited_field_is_found(app: FastAPI) -> None:
    await _build(app)
    factory = app.state.session_factory
    for seq in (1, 17, ENTRIES):
        for column in ("summary", "party_id", "payload_digest", "type", "time"):
            async with factory() as session:
                row = (
                    await session.execute(select(EventLogRow).where(EventLogRow.seq == seq))
                ).scalar_one()
                original = getattr(row, column)
                value = {"payload_digest": "f" * 64, "time": row.time.replace(year=2020)}
                setattr(row, column, value.get(column, "EDITED"))
                await session.commit()
            audit = await _audit(app)
            assert (audit.first_bad_seq, column) == (seq, column)
            assert "altered" in (audit.reason or "")
            async with factory() as session:
                await session.execute(
                    update(EventLogRow).where(EventLogRow.seq == seq).values({column: original})
                )
                await session.commit()
    assert (await _audit(app)).intact


async def test_edit_with_recomputed_chain_is_found_by_the_tree(app: FastAPI) -> None:
    await _build(app)
    async with app.state.session_factory() as session:
        await session.execute(
            update(EventLogRow).where(EventLogRow.seq == 21).values(summary="rewritten")
        )
        await _rechain_from(session, 21)
        await session.commit()
    audit = await _audit(app)
    assert audit.first_bad_seq == 21
    assert "Merkle tree" in (audit.reason or "")


async def test_edit_with_recomputed_chain_and_tree_is_found_by_the_signed_heads(
    app: FastAPI,
) -> None:
    await _build(app)
    async with app.state.session_factory() as session:
        await session.execute(
            update(EventLogRow).where(EventLogRow.seq == 21).values(summary="rewritten")
        )
        await _rechain_from(session, 21)
        await session.execute(delete(EventLogNodeRow))
        await extend_tree(session)
        await session.commit()
    audit = await _audit(app)
    # The last head before the edit (size 16) still holds; the next one (24) does not.
    assert audit.first_bad_seq == 17
    assert "tree head signed at size 24" in (audit.reason or "")


async def test_forged_tree_head_is_found(app: FastAPI) -> None:
    await _build(app)
    async with app.state.session_factory() as session:
        await session.execute(
            update(SignedTreeHeadRow)
            .where(SignedTreeHeadRow.tree_size == 16)
            .values(root_hash="0" * 64)
        )
        await session.commit()
    audit = await _audit(app)
    assert not audit.intact
    assert "tree head of size 16: bad signature" in (audit.reason or "")


async def test_deleted_entry_is_found(app: FastAPI) -> None:
    await _build(app)
    async with app.state.session_factory() as session:
        await session.execute(delete(EventLogRow).where(EventLogRow.seq == 9))
        await session.commit()
    audit = await _audit(app)
    assert audit.first_bad_seq == 9
    assert "missing" in (audit.reason or "")


async def test_truncation_is_found(app: FastAPI) -> None:
    await _build(app)
    for keep in (ENTRIES - 1, 30, 0):
        async with app.state.session_factory() as session:
            await session.execute(delete(EventLogRow).where(EventLogRow.seq > keep))
            await session.commit()
        audit = await _audit(app)
        assert audit.first_bad_seq == keep + 1
        assert "truncated" in (audit.reason or "")


async def test_truncation_of_log_and_heads_is_found_by_the_tree(app: FastAPI) -> None:
    await _build(app)
    async with app.state.session_factory() as session:
        await session.execute(delete(EventLogRow).where(EventLogRow.seq > 35))
        await session.execute(delete(SignedTreeHeadRow).where(SignedTreeHeadRow.tree_size > 32))
        await session.commit()
    audit = await _audit(app)
    assert audit.first_bad_seq == 36
    assert "tree holds 40" in (audit.reason or "")


def test_cli_reports_the_first_bad_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
    monkeypatch.setenv("FCSBE_DATABASE_URL", url)
    monkeypatch.setenv("FCSBE_DATA_DIR", str(tmp_path / "var"))
    migrations.upgrade(url)
    settings = Settings(
        database_url=url, data_dir=tmp_path / "var", workers_enabled=False, log_level="WARNING"
    )

    async def build_then(work_seq: int | None) -> None:
        application = create_app(settings)
        async with application.router.lifespan_context(application):
            if work_seq is None:
                await _build(application, 12)
                return
            async with application.state.session_factory() as session:
                await session.execute(
                    update(EventLogRow).where(EventLogRow.seq == work_seq).values(summary="x")
                )
                await session.commit()

    runner = CliRunner()
    asyncio.run(build_then(None))
    intact = runner.invoke(cli, ["admin", "event-log", "verify"])
    assert intact.exit_code == 0, intact.output
    # The 12 entries built here, plus those of the server's own start-up (party initialisation).
    found = re.search(r"intact: (\d+) entries", intact.output)
    assert found is not None, intact.output
    assert int(found.group(1)) >= 12
    asyncio.run(build_then(5))
    tampered = runner.invoke(cli, ["admin", "event-log", "verify", "--json"])
    assert tampered.exit_code == 1
    assert '"first_bad_seq": 5' in tampered.output
