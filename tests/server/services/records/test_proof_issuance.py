"""Proofs of work are issued by one replica at a time (PostgreSQL advisory lock)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from fcsbe.server.security.keys import ServerKeys
from fcsbe.server.services.records.records import PROOFS_LOCK, issue_proofs
from fcsbe.server.storage.locks import try_advisory_lock


async def test_a_second_replica_skips_the_pass_while_one_issues(app: FastAPI) -> None:
    if app.state.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's single writer serialises the passes")
    keys = ServerKeys.load_or_create(app.state.settings.data_dir)
    factory = app.state.session_factory
    async with factory() as first, factory() as second:
        assert await try_advisory_lock(first, PROOFS_LOCK)  # the first replica's pass
        assert not await try_advisory_lock(second, PROOFS_LOCK)
        await second.rollback()
        assert await issue_proofs(second, keys) == 0  # skipped, not racing the first
        await second.rollback()
        await first.rollback()
    async with factory() as third:
        assert await try_advisory_lock(third, PROOFS_LOCK)  # released with the transaction
