"""The FS accept's queries: the fast statements of the path and their plain twins.

Every request of the path asks for its credential, most ask whether the contract wants signed
requests and whether the idempotency key was used, and the accept writes the received FS with
its first transition, its event-log entry and the key row. On PostgreSQL each of these is one
round trip on the driver connection of the session's transaction (`driver`), folding work into
it where it can (the credential query also reads the party's signature-requiring contracts and
tries the key's advisory lock; the accept is one statement of data-modifying CTEs). The plain
twin of each (`Twin.plain`) runs on SQLite and wherever the session says `use_plain`.

Facts read on the way are kept for the transaction only (`transaction_memo`), never on the
principal: a cached fact outliving its transaction could be stale.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import and_, bindparam, func, insert, literal, null, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.server.storage.contracts import ContractRow, contract_scope
from fcsbe.server.storage.event_log import EventLogRow
from fcsbe.server.storage.fast.driver import (
    LiteStatement,
    lite_connection,
    outside_transaction,
    pg_connection,
    transaction_memo,
)
from fcsbe.server.storage.fast.twin import Twin
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow, FsTransitionRow
from fcsbe.server.storage.idempotency import IdempotencyKeyRow
from fcsbe.server.storage.parties import CredentialRow, EnrolmentRow
from fcsbe.server.storage.wakeup import WORK_CHANNEL, mark_woken, wake_workers

if TYPE_CHECKING:
    from fcsbe.server.security.principal import Principal

__all__ = [
    "CREDENTIAL",
    "CREDENTIAL_LOCKING",
    "CREDENTIAL_QUERY",
    "CREDENTIAL_WITH_KEY",
    "EVENT_COLUMNS",
    "FIND_KEY",
    "INSERT_FIRST_TRANSITION",
    "INSERT_FS_ROW",
    "INSERT_RECEIVED",
    "INSERT_RECEIVED_KEYED",
    "KEY_COLUMNS",
    "KEY_COLUMNS_READ",
    "LITE_CREDENTIAL_WITH_KEY",
    "LOCK_KEY",
    "LOCK_PREFIX",
    "LOCK_SEPARATOR",
    "SIGNATURE_REQUIRED",
    "SIGNED_CONTRACTS",
    "STORE_KEY",
    "TWINS",
    "GroupedReads",
    "find_credential",
    "find_key",
    "insert_received_fs",
    "lock_name",
    "read_in_groups",
    "remember_lock",
    "requires_signature",
    "signed_contracts",
    "store_key",
    "try_lock_key",
]

LOCK_PREFIX = "idempotency\x1f"
LOCK_SEPARATOR = "\x1f"
_SIGNED = "fcsbe.signed_contracts"
"""`transaction_memo` key: party id -> fsc_ids of its contracts requiring signed requests."""
_GROUPED = "fcsbe.grouped_reads"
"""`session.info` key: the group reader of this session's credential look-up."""
_KEYS = "fcsbe.prefetched_keys"
"""`transaction_memo` key: (party id, key) -> the stored key read with the credential."""


def lock_name(party_id: str, key: str) -> str:
    """The text whose hash names the key's advisory lock (`CREDENTIAL_LOCKING` builds it in SQL
    from the same parts)."""
    return f"{LOCK_PREFIX}{party_id}{LOCK_SEPARATOR}{key}"


# --- credentials --------------------------------------------------------------------------

CREDENTIAL_QUERY = (
    select(
        CredentialRow.credential_id,
        CredentialRow.role,
        CredentialRow.party_id,
        CredentialRow.enrolment_id,
        CredentialRow.expires_at,
        CredentialRow.revoked_at,
        EnrolmentRow.status,
        EnrolmentRow.scopes,
    )
    .outerjoin(EnrolmentRow, EnrolmentRow.enrolment_id == CredentialRow.enrolment_id)
    .where(CredentialRow.token_hash == bindparam("token_hash"))
)
SIGNED_CONTRACTS = text(
    "(SELECT coalesce(array_agg(c.fsc_id), '{}') FROM contracts AS c"
    " WHERE c.fo_party_id = credentials.party_id AND c.signature_required)"
)
"""The fsc_ids of the party's contracts that require signed requests: the FS accept needs
that flag, and asking here saves it a round trip."""
_KEY_LOCK = text(
    "pg_try_advisory_xact_lock(hashtextextended("
    "CAST(:lock_prefix AS text) || credentials.party_id || CAST(:lock_suffix AS text), 0))"
)

CREDENTIAL = Twin("credential", CREDENTIAL_QUERY, CREDENTIAL_QUERY.add_columns(SIGNED_CONTRACTS))
"""The credential with this token hash and its enrolment's status and scopes; the fast twin
also reads the party's signature-requiring contracts."""
CREDENTIAL_LOCKING = Twin(
    "credential, locking the idempotency key",
    CREDENTIAL_QUERY,
    CREDENTIAL_QUERY.add_columns(SIGNED_CONTRACTS, _KEY_LOCK),
)
"""The same, trying the advisory lock of the request's idempotency key on the way (the name
is `lock_name`'s, built with the credential's party)."""
KEY_COLUMNS_READ = (
    IdempotencyKeyRow.request_hash,
    IdempotencyKeyRow.status,
    IdempotencyKeyRow.response_status,
    IdempotencyKeyRow.response_headers,
    IdempotencyKeyRow.response_body,
    IdempotencyKeyRow.expires_at,
)
CREDENTIAL_WITH_KEY = Twin(
    "credential, reading the idempotency key",
    CREDENTIAL_QUERY,
    CREDENTIAL_QUERY.add_columns(SIGNED_CONTRACTS, _KEY_LOCK, *KEY_COLUMNS_READ).outerjoin(
        IdempotencyKeyRow,
        and_(
            IdempotencyKeyRow.party_id == CredentialRow.party_id,
            IdempotencyKeyRow.key == bindparam("key"),
        ),
    ),
)
"""The same, also reading the request's stored key: for a request whose reads run outside a
transaction (`driver.reads_outside_transaction`), so that the key's lock is only tried (a
request holding it elsewhere is refused, 409) and released with the statement; between
concurrent requests with the key, the unique key row of the write decides (the
group-committed accept)."""

_LITE_SIGNED = (
    select(func.group_concat(ContractRow.fsc_id, LOCK_SEPARATOR))
    .where(ContractRow.fo_party_id == CredentialRow.party_id, ContractRow.signature_required)
    .scalar_subquery()
)
LITE_CREDENTIAL_WITH_KEY = LiteStatement(
    CREDENTIAL_QUERY.add_columns(_LITE_SIGNED, *KEY_COLUMNS_READ).outerjoin(
        IdempotencyKeyRow,
        and_(
            IdempotencyKeyRow.party_id == CredentialRow.party_id,
            IdempotencyKeyRow.key == bindparam("key"),
        ),
    )
)
"""`CREDENTIAL_WITH_KEY` on SQLite, without the lock (SQLite's writer is single, the key
row's unique constraint decides): the credential, its party's signature-requiring contracts
(their fsc_ids joined by LOCK_SEPARATOR, which no fsc_id holds) and the stored key, in one
read instead of three."""


class Credential:
    """A credential as the request edge needs it (the columns `CREDENTIAL_QUERY` selects)."""

    __slots__ = (
        "credential_id",
        "enrolment_id",
        "expires_at",
        "party_id",
        "revoked_at",
        "role",
        "scopes",
        "status",
    )

    def __init__(
        self,
        credential_id: str,
        role: str,
        party_id: str,
        enrolment_id: str | None,
        expires_at: datetime | None,
        revoked_at: datetime | None,
        status: str | None,
        scopes: list[str] | None,
    ) -> None:
        self.credential_id = credential_id
        self.role = role
        self.party_id = party_id
        self.enrolment_id = enrolment_id
        self.expires_at = expires_at
        self.revoked_at = revoked_at
        self.status = status
        self.scopes = scopes


class GroupedReads(Protocol):
    """What `find_credential` needs of `group_read.CredentialReads`."""

    async def find(self, token_hash: str, key: str) -> Sequence[Any] | None: ...


def read_in_groups(session: AsyncSession, reads: GroupedReads | None) -> None:
    """Let this session's keyed credential look-up (made outside a transaction:
    `driver.reads_outside_transaction`) be read in a group with other requests' (`reads`; None:
    on its own)."""
    if reads is not None:
        session.info[_GROUPED] = reads


async def find_credential(
    session: AsyncSession, token_hash: str, idempotency_key: str | None = None
) -> Credential | None:
    """The credential with this token hash and its enrolment's status and scopes (every
    request asks: one indexed query).

    On PostgreSQL the same round trip reads the party's signature-requiring contracts (kept for
    the transaction: `signed_contracts`) and, with `idempotency_key` (a state-changing request
    carrying one), tries the key's advisory lock (kept for the transaction: `remember_lock`).
    """
    values: dict[str, Any] = {"token_hash": token_hash}
    grouped: GroupedReads | None = session.info.get(_GROUPED)
    if grouped is not None and idempotency_key is not None and outside_transaction(session):
        found_keyed = await grouped.find(token_hash, idempotency_key)
        return _keyed_credential(session, found_keyed, idempotency_key)
    driver = await pg_connection(session)
    if driver is None:
        if idempotency_key is not None and outside_transaction(session):
            lite = await lite_connection(session)
            if lite is not None:
                values["key"] = idempotency_key
                read = await LITE_CREDENTIAL_WITH_KEY.fetchrow(lite, values)
                if read is None:
                    return None
                signed = read[8].split(LOCK_SEPARATOR) if read[8] else ()
                unlocked = (*read[:8], signed, True, *read[9:])  # no lock to try on SQLite
                return _keyed_credential(session, unlocked, idempotency_key)
        found = await CREDENTIAL.first(session, values)
        return None if found is None else Credential(*found)
    if idempotency_key is not None and outside_transaction(session):
        values.update(
            key=idempotency_key,
            lock_prefix=LOCK_PREFIX,
            lock_suffix=LOCK_SEPARATOR + idempotency_key,
        )
        keyed = await CREDENTIAL_WITH_KEY.fast.fetchrow(driver, values)
        return _keyed_credential(session, keyed, idempotency_key)
    if idempotency_key is None:
        row: Sequence[Any] | None = await CREDENTIAL.fast.fetchrow(driver, values)
    else:
        values.update(lock_prefix=LOCK_PREFIX, lock_suffix=LOCK_SEPARATOR + idempotency_key)
        row = await CREDENTIAL_LOCKING.fast.fetchrow(driver, values)
    if row is None:
        return None
    credential = Credential(*row[:8])
    memo = transaction_memo(session)
    memo.setdefault(_SIGNED, {})[credential.party_id] = frozenset(row[8])
    if idempotency_key is not None:
        remember_lock(session, credential.party_id, idempotency_key, bool(row[9]))
    return credential


def _keyed_credential(
    session: AsyncSession, keyed: Sequence[Any] | None, idempotency_key: str
) -> Credential | None:
    """The credential of a `CREDENTIAL_WITH_KEY` row, what else it read kept for the request
    (the signature-requiring contracts, the stored key, whether the key's lock was free)."""
    if keyed is None:
        return None
    credential = Credential(*keyed[:8])
    memo = transaction_memo(session)
    memo.setdefault(_SIGNED, {})[credential.party_id] = frozenset(keyed[8])
    stored = None if keyed[10] is None else StoredKey(*keyed[10:16])
    memo.setdefault(_KEYS, {})[(credential.party_id, idempotency_key)] = stored
    remember_lock(session, credential.party_id, idempotency_key, bool(keyed[9]))
    return credential


# --- contracts requiring signed requests ---------------------------------------------------

SIGNATURE_REQUIRED = Twin(
    "signature required",
    select(ContractRow.signature_required).where(
        ContractRow.fo_party_id == bindparam("party_id"), ContractRow.fsc_id == bindparam("fsc_id")
    ),
)


def signed_contracts(session: AsyncSession, party_id: str) -> frozenset[str] | None:
    """The fsc_ids of `party_id`'s contracts requiring signed requests, when this transaction
    read them with the credential (None: not read)."""
    known: dict[str, frozenset[str]] = transaction_memo(session).get(_SIGNED, {})
    return known.get(party_id)


async def requires_signature(session: AsyncSession, principal: Principal, fsc_id: str) -> bool:
    """Whether the caller's visible contract `fsc_id` requires signed requests (False when
    there is none). Asked on every FS request: for an FO, answered from what the credential
    query read in this transaction, else one constant statement."""
    if principal.role.value != "FO":
        statement = select(ContractRow.signature_required).where(
            contract_scope(principal), ContractRow.fsc_id == fsc_id
        )
        return bool((await session.execute(statement)).scalars().first())
    known = signed_contracts(session, principal.party_id)
    if known is not None:
        return fsc_id in known
    row = await SIGNATURE_REQUIRED.first(
        session, {"party_id": principal.party_id, "fsc_id": fsc_id}
    )
    return bool(row[0]) if row is not None else False


# --- idempotency keys ----------------------------------------------------------------------

FIND_KEY = Twin(
    "find idempotency key",
    select(
        IdempotencyKeyRow.request_hash,
        IdempotencyKeyRow.status,
        IdempotencyKeyRow.response_status,
        IdempotencyKeyRow.response_headers,
        IdempotencyKeyRow.response_body,
        IdempotencyKeyRow.expires_at,
    ).where(
        IdempotencyKeyRow.party_id == bindparam("party_id"),
        IdempotencyKeyRow.key == bindparam("key"),
    ),
)
STORE_KEY = Twin(
    "store idempotency key",
    insert(IdempotencyKeyRow).values(
        {column.key: bindparam(column.key) for column in IdempotencyKeyRow.__table__.c}
    ),
    json=("response_headers",),
)
LOCK_KEY = Twin(
    "lock idempotency key",
    text("SELECT pg_try_advisory_xact_lock(hashtextextended(:lock_key, 0))"),
    select(func.pg_try_advisory_xact_lock(func.hashtextextended(bindparam("lock_key"), 0))),
)


class StoredKey:
    """The stored outcome of a key (the columns `FIND_KEY` selects)."""

    __slots__ = (
        "expires_at",
        "request_hash",
        "response_body",
        "response_headers",
        "response_status",
        "status",
    )

    def __init__(
        self,
        request_hash: str,
        status: str,
        response_status: int | None,
        response_headers: dict[str, Any] | None,
        response_body: bytes | None,
        expires_at: datetime,
    ) -> None:
        self.request_hash = request_hash
        self.status = status
        self.response_status = response_status
        self.response_headers = response_headers
        self.response_body = response_body
        self.expires_at = expires_at


async def find_key(session: AsyncSession, party_id: str, key: str) -> StoredKey | None:
    """The stored outcome of a key (one indexed query, or none when the credential query read
    it for this request: `CREDENTIAL_WITH_KEY`; asked again, it is read afresh)."""
    prefetched: dict[tuple[str, str], StoredKey | None] = transaction_memo(session).get(_KEYS, {})
    if (party_id, key) in prefetched:
        return prefetched.pop((party_id, key))
    row = await FIND_KEY.first(session, {"party_id": party_id, "key": key})
    return None if row is None else StoredKey(*row)


async def store_key(session: AsyncSession, values: dict[str, Any]) -> None:
    """Store a completed key with its response (in the transaction of the change)."""
    await STORE_KEY.run(session, values)


def remember_lock(session: AsyncSession, party_id: str, key: str, locked: bool) -> None:
    """Record that this transaction tried the key's lock (taken early, in a statement run
    anyway), so that `try_lock_key` needs no round trip of its own."""
    transaction_memo(session)[lock_name(party_id, key)] = locked


async def try_lock_key(session: AsyncSession, party_id: str, key: str) -> bool:
    """Take a transaction-scoped lock on the key; False when another request holds it.

    PostgreSQL uses an advisory lock (released at commit). SQLite transactions are already
    serialised by `BEGIN IMMEDIATE`, so the lock is always free there. A lock tried earlier in
    the same transaction (`remember_lock`) answers at once; a commit since forgets it.
    """
    if session.get_bind().dialect.name != "postgresql":
        return True
    tried: bool | None = transaction_memo(session).get(lock_name(party_id, key))
    if tried is not None:
        return tried
    row = await LOCK_KEY.first(session, {"lock_key": lock_name(party_id, key)})
    return bool(row[0]) if row is not None else False


# --- the received FS -----------------------------------------------------------------------

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
KEY_COLUMNS = tuple(c.key for c in IdempotencyKeyRow.__table__.c)


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
