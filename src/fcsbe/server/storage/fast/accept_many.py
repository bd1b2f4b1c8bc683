"""The received FS of many accepts written together: a group commit's batch (`group_commit.py`).

On PostgreSQL the whole batch is one statement: every accept's values go as one array per
column (`unnest ... WITH ORDINALITY`), and data-modifying CTEs insert the FS rows, their first
transitions, their event-log entries and the key rows set-wise, as `accept.INSERT_RECEIVED`
does for one accept. Sent as that statement once per accept (pipelined), the batch cost the
server a bind and execute of a four-insert statement per row, on both sides of the link: about
a tenth of the server's CPU per accept. The plain twins (SQLite, `use_plain`) write one
multi-row statement per table.

Either way the batch is written whole or not at all: a conflict of any row (an fs_id or a key
already used) raises IntegrityError, and the group committer then writes the batch's accepts
one by one to find whose it was.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Text, bindparam, func, insert, literal, null, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

from fcsbe.server.storage.contracts import ContractRow
from fcsbe.server.storage.event_log import EventLogRow
from fcsbe.server.storage.fast.accept import EVENT_COLUMNS, INSERT_FIRST_TRANSITION, INSERT_FS_ROW
from fcsbe.server.storage.fast.driver import PgStatement, lite_connection, pg_connection
from fcsbe.server.storage.fast.keys import KEY_COLUMNS, STORE_KEY
from fcsbe.server.storage.fast.lite_write import LiteStatements, LiteWrite
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow, FsTransitionRow
from fcsbe.server.storage.idempotency import IdempotencyKeyRow
from fcsbe.server.storage.wakeup import WORK_CHANNEL, mark_woken, wake_workers

__all__ = [
    "INSERT_RECEIVED_MANY",
    "LITE_INSERT_EVENT",
    "LITE_INSERT_FS",
    "LITE_INSERT_TRANSITION",
    "LITE_STORE_KEY",
    "Received",
    "insert_received_many",
    "lite_statements",
]

Received = tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]
"""One accept's rows for `insert_received_many`: FS values, event, key row (or None)."""

_FS = FlexibilityServiceRow.__table__.c
_FS_COLUMNS = (
    "fo_party_id",
    "fs_id",
    "fsc_id",
    "fs_type",
    "window_start",
    "window_end",
    "response_deadline",
    "request",
    "correlation_id",
    "created_at",
)
"""The values of an accept's FS row (`requests.submit_fs`)."""
_EVENT = EventLogRow.__table__.c
_KEY = IdempotencyKeyRow.__table__.c
_COLUMNS: tuple[tuple[str, TypeEngine[Any]], ...] = (
    *((name, Text() if name == "fsc_id" else _FS[name].type) for name in _FS_COLUMNS),
    *((f"event_{name}", _EVENT[name].type) for name in EVENT_COLUMNS),
    *((f"key_{name}", _KEY[name].type) for name in KEY_COLUMNS),
)
"""Every array of the statement: its name and the type of its elements."""
_JSON = ("request", "key_response_headers")
"""Arrays of JSON documents (asyncpg takes each document as text)."""


def _insert_received_many() -> Any:
    arrays = (
        func.unnest(*(bindparam(name, type_=ARRAY(kind)) for name, kind in _COLUMNS))
        .table_valued(*(name for name, _ in _COLUMNS), with_ordinality="position")
        .render_derived(name="arrays")
    )
    given = select(arrays).cte("given")  # unpacked once, read by each insert
    c = given.c
    contract = (
        select(ContractRow.id)
        .where(ContractRow.fo_party_id == c.fo_party_id, ContractRow.fsc_id == c.fsc_id)
        .scalar_subquery()
    )
    columns = {
        "fo_party_id": c.fo_party_id,
        "fs_id": c.fs_id,
        "revision": literal(1),
        "contract_id": contract,
        "fs_type": c.fs_type,
        "state": literal("RECEIVED"),
        "window_start": c.window_start,
        "window_end": c.window_end,
        "response_deadline": c.response_deadline,
        "request": c.request,
        "correlation_id": c.correlation_id,
        "created_at": c.created_at,
        "updated_at": c.created_at,
    }
    fs = (
        insert(FlexibilityServiceRow)
        .from_select(list(columns), select(*columns.values()).order_by(c.position))
        .returning(FlexibilityServiceRow.id, FlexibilityServiceRow.created_at)
        .cte("new_fs")
    )
    transition = (
        insert(FsTransitionRow)
        .from_select(
            ["fs_pk", "revision", "from_state", "to_state", "at"],
            select(fs.c.id, literal(1), null(), literal("RECEIVED"), fs.c.created_at),
        )
        .cte("new_transitions")
    )
    event = (
        insert(EventLogRow)
        .from_select(
            list(EVENT_COLUMNS),
            select(*(c[f"event_{name}"] for name in EVENT_COLUMNS)).order_by(c.position),
        )
        .cte("new_events")
    )
    key = (
        insert(IdempotencyKeyRow)
        .from_select(
            list(KEY_COLUMNS),
            select(*(c[f"key_{name}"] for name in KEY_COLUMNS))
            .where(c.key_key.is_not(None))
            .order_by(c.position),
        )
        .cte("new_keys")
    )
    # pg_notify in the same round trip wakes the deciders of every replica (storage/wakeup.py).
    written = select(func.count()).select_from(fs).scalar_subquery()
    return select(written, func.pg_notify(WORK_CHANNEL, "")).add_cte(transition, event, key)


INSERT_RECEIVED_MANY = PgStatement(_insert_received_many())
"""Many accepts' FS rows, first transitions, events and key rows in one statement; answers the
number of FS rows written."""
LITE_INSERT_FS = LiteWrite(INSERT_FS_ROW)
LITE_INSERT_TRANSITION = LiteWrite(INSERT_FIRST_TRANSITION)
LITE_INSERT_EVENT = LiteWrite(insert(EventLogRow), EVENT_COLUMNS)
LITE_STORE_KEY = LiteWrite(STORE_KEY.plain)
"""The same rows on SQLite: a multi-row INSERT per table, each one hop (`lite_write`)."""
_PLAIN: dict[LiteWrite, Any] = {
    LITE_INSERT_FS: INSERT_FS_ROW,
    LITE_INSERT_TRANSITION: INSERT_FIRST_TRANSITION,
    LITE_INSERT_EVENT: insert(EventLogRow),
    LITE_STORE_KEY: STORE_KEY.plain,
}
"""The SQLAlchemy statement of each, for the plain twins (`use_plain`)."""


def _arrays(accepts: list[Received]) -> dict[str, list[Any]]:
    """The statement's arrays: one per column, an element per accept (None for a key column of
    an accept without a key row)."""
    arrays: dict[str, list[Any]] = {name: [] for name, _ in _COLUMNS}
    for values, event, key_row in accepts:
        for name in _FS_COLUMNS:
            arrays[name].append(values[name])
        for name in EVENT_COLUMNS:
            arrays[f"event_{name}"].append(event[name])
        for name in KEY_COLUMNS:
            arrays[f"key_{name}"].append(None if key_row is None else key_row[name])
    for name in _JSON:
        arrays[name] = [None if v is None else json.dumps(v) for v in arrays[name]]
    return arrays


async def insert_received_many(session: AsyncSession, accepts: list[Received]) -> None:
    """`accept.insert_received_fs` for many accepts (a group commit's batch): on PostgreSQL in
    one statement (`INSERT_RECEIVED_MANY`), in the plain twins one multi-row statement per
    table. Raises IntegrityError when any of them conflicts (the caller then writes them one
    by one to find which)."""
    if not accepts:
        return
    driver = await pg_connection(session)
    if driver is not None:
        row = await INSERT_RECEIVED_MANY.fetchrow(driver, _arrays(accepts))
        assert row is not None
        assert row[0] == len(accepts)  # else a constraint would have refused the statement
        mark_woken(session)
        return
    lite = await lite_connection(session)
    if lite is not None:  # SQLite: one hop to aiosqlite's thread per statement (`lite_write`)
        for write, rows in _per_table(accepts):
            if rows:
                await write.executemany(lite, rows)
    else:
        connection = await session.connection()
        for write, rows in _per_table(accepts):
            if rows:
                await connection.execute(_PLAIN[write], rows)
    await wake_workers(session)


def _per_table(accepts: list[Received]) -> list[tuple[LiteWrite, list[dict[str, Any]]]]:
    """The rows of each table for `accepts`, in the order they are inserted (a transition
    finds its FS row)."""
    fs_rows = [values for values, _, _ in accepts]
    transitions = [
        {"fo_party_id": v["fo_party_id"], "fs_id": v["fs_id"], "created_at": v["created_at"]}
        for v in fs_rows
    ]
    return [
        (LITE_INSERT_FS, fs_rows),
        (LITE_INSERT_TRANSITION, transitions),
        (LITE_INSERT_EVENT, [event for _, event, _ in accepts]),
        (LITE_STORE_KEY, [key_row for _, _, key_row in accepts if key_row is not None]),
    ]


def lite_statements(accepts: list[Received]) -> LiteStatements:
    """`insert_received_many` on SQLite as statements and parameter rows, for the group
    committer's `LiteWriter` (the batch in one hop to its thread)."""
    return [(write.sql, write.rows(rows)) for write, rows in _per_table(accepts) if rows]
