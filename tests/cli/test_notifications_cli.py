"""`fcsbe admin notifications ...` on a real (SQLite) database."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from fcsbe.cli import app
from fcsbe.server.settings import Settings
from fcsbe.server.storage import migrations
from fcsbe.server.storage.engine import create_engine, create_session_factory
from fcsbe.server.storage.notifications import OutboxRow
from tests.support.factories import make_fo
from tests.support.webhooks import enqueue

runner = CliRunner()


async def _prepare(url: str) -> list[str]:
    engine = create_engine(Settings(database_url=url))
    try:
        factory = create_session_factory(engine)
        await make_fo(factory, "FO-A")
        ids = await enqueue(factory, "FO-A", 2)
        async with factory() as session:
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.notification_id == ids[0])
                .values(status="DEAD", attempts=30, last_error="HTTP 500")
            )
            await session.commit()
        return ids
    finally:
        await engine.dispose()


def test_list_dead_attempts_and_redeliver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    migrations.upgrade(url)
    ids = asyncio.run(_prepare(url))
    monkeypatch.setenv("FCSBE_DATABASE_URL", url)

    listed = runner.invoke(app, ["admin", "notifications", "list"])
    assert listed.exit_code == 0, listed.output
    assert ids[0] in listed.output
    assert ids[1] in listed.output
    assert "HTTP 500" in listed.output

    dead = runner.invoke(app, ["admin", "notifications", "dead", "--json"])
    assert dead.exit_code == 0, dead.output
    rows = [json.loads(line) for line in dead.output.splitlines()]
    assert [(r["notification_id"], r["status"]) for r in rows] == [(ids[0], "DEAD")]

    pending = runner.invoke(app, ["admin", "notifications", "list", "--status", "PENDING"])
    assert ids[0] not in pending.output
    assert ids[1] in pending.output

    attempts = runner.invoke(app, ["admin", "notifications", "attempts", ids[0]])
    assert attempts.exit_code == 0
    assert "no attempts yet" in attempts.output
    unknown = runner.invoke(app, ["admin", "notifications", "attempts", "nope"])
    assert unknown.exit_code == 1

    assert runner.invoke(app, ["admin", "notifications", "redeliver"]).exit_code == 2
    redone = runner.invoke(app, ["admin", "notifications", "redeliver", "--dead"])
    assert redone.exit_code == 0, redone.output
    assert json.loads(redone.output) == {"redelivered": 1}
    assert "no notifications" in runner.invoke(app, ["admin", "notifications", "dead"]).output
