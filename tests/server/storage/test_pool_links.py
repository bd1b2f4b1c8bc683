"""A pooled PostgreSQL connection whose link is gone is never handed out again (R2).

Connections in steady use are not pinged at checkout (`storage/engine.py`, IDLE_PING_S), and a
fast statement that fails on a lost link runs on the driver connection, so SQLAlchemy does not
invalidate its pooled connection. Before the checkout looked at the link, a replica under
steady load kept handing out the connections the database had dropped, and answered 503 for
as long as the load lasted after the database was back.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from fcsbe.server.settings import Settings
from fcsbe.server.storage.engine import create_engine, create_session_factory
from fcsbe.server.storage.fast.credentials import CREDENTIAL
from fcsbe.server.storage.fast.driver import pg_connection, reads_outside_transaction


async def test_a_connection_dropped_under_steady_use_is_replaced(
    postgresql_url: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=postgresql_url, data_dir=tmp_path, db_pool_size=1)
    engine = create_engine(settings)
    factory = create_session_factory(engine)
    try:
        async with factory() as session:
            reads_outside_transaction(session)
            driver = await pg_connection(session)
            assert driver is not None
            driver.terminate()  # the link is lost while the connection is checked out
            with pytest.raises(Exception, match="closed"):
                await CREDENTIAL.fast.fetchrow(driver, {"token_hash": "x"})
        # At once (no idle ping is due): the pool's only connection is the dead one.
        async with factory() as session:
            assert (await session.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await engine.dispose()
