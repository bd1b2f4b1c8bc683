"""The FS accept's writes: the received FS, its first transition, its event-log entry and
its key row, and every fast statement of the accept path (`TWINS`).

On PostgreSQL the accept is one statement of data-modifying CTEs on the driver connection of
the session's transaction (`driver`); the plain twin of each statement (`Twin.plain`) runs on
SQLite and wherever the session says `use_plain`. The reads before it are in `credentials.py`
and `keys.py`; a group commit's batch of accepts in `accept_many.py`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, insert, literal, null, select
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.server.storage.contracts import ContractRow
from fcsbe.server.storage.event_log import EventLogRow
from fcsbe.server.storage.fast.credentials import (
    CREDENTIAL,
    CREDENTIAL_LOCKING,
    CREDENTIAL_WITH_KEY,
    SIGNATURE_REQUIRED,
)
from fcsbe.server.storage.fast.driver import pg_connection
from fcsbe.server.storage.fast.keys import FIND_KEY, KEY_COLUMNS, LOCK_KEY, STORE_KEY, store_key
from fcsbe.server.storage.fast.twin import Twin
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow, FsTransitionRow
from fcsbe.server.storage.idempotency import IdempotencyKeyRow
from fcsbe.server.storage.wakeup import WORK_CHANNEL, mark_woken, wake_workers

__all__ = [
    "EVENT_COLUMNS",
    "INSERT_FIRST_TRANSITION",
    "INSERT_FS_ROW",
    "INSERT_RECEIVED",
    "INSERT_RECEIVED_KEYED",
    "TWINS",
    "insert_received_fs",
]

INSERT_FS_ROW = insert(FlexibilityServiceRow).values(
    fo_party_id=bindparam("fo_party_id"),
    fs_id=bindparam("fs_id"),
    revision=1,
    contract_id=select(ContractRow.id)
    .where(
        ContractRow.fo_party_id == bindparam("fo_party_id"),
        ContractRow.fsc_id == bindparam("fsc_id"),
    )
    .scalar_subquery(),
    fs_type=bindparam("fs_type"),
    state="RECEIVED",
    window_start=bindparam("window_start"),
    window_end=bindparam("window_end"),
    response_deadline=bindparam("response_deadline"),
    request=bindparam("request"),
    correlation_id=bindparam("correlation_id"),
    created_at=bindparam("created_at"),
    updated_at=bindparam("created_at"),
)
_INSERT_FS = INSERT_FS_ROW.returning(FlexibilityServiceRow.id)
"""A new FS (revision 1, RECEIVED), its contract resolved inside the INSERT."""
INSERT_FIRST_TRANSITION = insert(FsTransitionRow).from_select(
    ["fs_pk", "revision", "from_state", "to_state", "at"],
    select(
        FlexibilityServiceRow.id, literal(1), null(), literal("RECEIVED"), bindparam("created_at")
    ).where(
        FlexibilityServiceRow.fo_party_id == bindparam("fo_party_id"),
        FlexibilityServiceRow.fs_id == bindparam("fs_id"),
    ),
)
"""The first transition of a new FS found by its party and fs_id (for many FS at once)."""

EVENT_COLUMNS = (
    "time",
    "source",
    "type",
    "severity",
    "party_id",
    "fs_id",
    "object_ref",
    "summary",
    "payload_digest",
)


def _insert_received(*, keyed: bool) -> Any:
    """FS, first transition and event in one statement (data-modifying CTEs, PostgreSQL);
    `keyed`: with the request's idempotency-key row too (bound as `key_<column>`)."""
    fs = _INSERT_FS.cte("new_fs")
    transition = (
        insert(FsTransitionRow)
        .from_select(
            ["fs_pk", "revision", "from_state", "to_state", "at"],
            select(fs.c.id, literal(1), null(), literal("RECEIVED"), bindparam("created_at")),
        )
        .cte("new_transition")
    )
    event = (
        insert(EventLogRow)
        .values({c: bindparam(f"event_{c}") for c in EVENT_COLUMNS})
        .cte("new_event")
    )
    ctes = [transition, event]
    if keyed:
        ctes.append(
            insert(IdempotencyKeyRow)
            .values({c: bindparam(f"key_{c}") for c in KEY_COLUMNS})
            .cte("new_key")
        )
    # pg_notify in the same round trip wakes the deciders of every replica (storage/wakeup.py).
    return select(fs.c.id, func.pg_notify(WORK_CHANNEL, "")).add_cte(*ctes)


INSERT_RECEIVED = Twin("received FS", _INSERT_FS, _insert_received(keyed=False), json=("request",))
"""Plain: the FS row (its transition, event and key follow in statements of their own)."""
INSERT_RECEIVED_KEYED = Twin(
    "received FS with its key",
    _INSERT_FS,
    _insert_received(keyed=True),
    json=("request", "key_response_headers"),
)


async def insert_received_fs(
    session: AsyncSession,
    values: dict[str, Any],
    event: dict[str, Any],
    key_row: dict[str, Any] | None = None,
) -> int:
    """Store a new FS as RECEIVED with its first transition and its event-log entry; returns
    its primary key. Raises IntegrityError when the party already has this fs_id (or the key
    row exists: a concurrent request with the same key).

    `values`: fo_party_id, fs_id, fsc_id, fs_type, window_start, window_end,
    response_deadline, request (document), correlation_id, created_at; `event`: the entry's
    columns (services/event_log.event_values); `key_row`: the request's idempotency-key row,
    written with them. One round trip on PostgreSQL, three or four for the plain twins.
    """
    driver = await pg_connection(session)
    if driver is not None:
        document = {**values, **{f"event_{c}": event[c] for c in EVENT_COLUMNS}}
        twin = INSERT_RECEIVED
        if key_row is not None:
            twin = INSERT_RECEIVED_KEYED
            document.update({f"key_{c}": v for c, v in key_row.items()})
        row = await twin.fast.fetchrow(driver, twin.encoded(document))
        assert row is not None  # INSERT ... RETURNING of one row
        mark_woken(session)
        fs_pk: int = row[0]
        return fs_pk
    # Core statements on the session's connection: the ORM's bulk-insert layer costs about a
    # quarter of each statement here, and nothing of it is used.
    connection = await session.connection()
    fs_pk = (await connection.execute(_INSERT_FS, values)).scalar_one()
    await connection.execute(
        insert(FsTransitionRow),
        [
            {
                "fs_pk": fs_pk,
                "revision": 1,
                "from_state": None,
                "to_state": "RECEIVED",
                "at": values["created_at"],
            }
        ],
    )
    await connection.execute(insert(EventLogRow), [event])
    if key_row is not None:
        await store_key(session, key_row)
    await wake_workers(session)
    return fs_pk


TWINS: tuple[Twin, ...] = (
    CREDENTIAL,
    CREDENTIAL_LOCKING,
    CREDENTIAL_WITH_KEY,
    SIGNATURE_REQUIRED,
    FIND_KEY,
    STORE_KEY,
    LOCK_KEY,
    INSERT_RECEIVED,
    INSERT_RECEIVED_KEYED,
)
"""Every fast statement of the path (the fast-path test runs each beside its plain twin)."""
