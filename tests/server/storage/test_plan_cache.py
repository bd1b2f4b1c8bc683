"""A statement prepared while its table was small is planned again once the table has grown.

PostgreSQL's default switches a prepared statement to a generic plan after five runs and keeps
it until the table's statistics change; one made while the table was empty scans it, and went
on scanning as the table grew (the accept rate fell to a third within 40 s of a start). The
server's sessions plan each run for the table as it is (`storage/engine.py`,
PG_SESSION_SETTINGS).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from fcsbe.server.settings import Settings
from fcsbe.server.storage.engine import create_engine


async def test_a_plan_made_on_an_empty_table_does_not_outlive_its_growth(
    postgresql_url: str, tmp_path: Path
) -> None:
    engine = create_engine(Settings(database_url=postgresql_url, data_dir=tmp_path))
    try:
        async with engine.connect() as connection:
            run = connection.exec_driver_sql
            await run("CREATE TEMP TABLE keys (party text, key text, PRIMARY KEY (party, key))")
            await run("PREPARE find(text, text) AS SELECT 1 FROM keys WHERE party=$1 AND key=$2")
            for _ in range(8):  # past the five runs after which a generic plan may stick
                await run("EXECUTE find('p', 'k')")
            await run("INSERT INTO keys SELECT 'p', 'k' || n FROM generate_series(1, 20000) AS n")
            plan = "\n".join(row[0] for row in await run("EXPLAIN EXECUTE find('p', 'k17')"))
            assert "Seq Scan" not in plan, plan
            assert "Index" in plan, plan
            assert (await connection.scalar(text("SHOW plan_cache_mode"))) == "force_custom_plan"
    finally:
        await engine.dispose()
