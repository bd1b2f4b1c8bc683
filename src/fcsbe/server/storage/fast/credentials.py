"""The credential of a request, and whether its contract requires signed requests.

Every request asks for its credential (one indexed query); a request of the FS path also asks
whether the contract wants signed requests, and a keyed one for its stored idempotency key. On
PostgreSQL the credential query folds the others in (the party's signature-requiring contracts,
the key's advisory lock, the stored key), and concurrent accepts read theirs in groups
(`group_read.py`); on SQLite one statement reads the same beside the writer. What is read on
the way is kept for the transaction only (`transaction_memo`), never on the principal: a
cached fact outliving its transaction could be stale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import and_, bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.server.storage.contracts import ContractRow, contract_scope
from fcsbe.server.storage.fast.driver import (
    LiteStatement,
    lite_connection,
    outside_transaction,
    pg_connection,
    transaction_memo,
)
from fcsbe.server.storage.fast.keys import (
    KEY_COLUMNS_READ,
    LOCK_PREFIX,
    LOCK_SEPARATOR,
    StoredKey,
    prefetch_key,
    remember_lock,
)
from fcsbe.server.storage.fast.twin import Twin
from fcsbe.server.storage.idempotency import IdempotencyKeyRow
from fcsbe.server.storage.parties import CredentialRow, EnrolmentRow

if TYPE_CHECKING:
    from fcsbe.server.security.principal import Principal

__all__ = [
    "CREDENTIAL",
    "CREDENTIAL_LOCKING",
    "CREDENTIAL_QUERY",
    "CREDENTIAL_WITH_KEY",
    "LITE_CREDENTIAL_WITH_KEY",
    "SIGNATURE_REQUIRED",
    "SIGNED_CONTRACTS",
    "Credential",
    "GroupedReads",
    "find_credential",
    "read_in_groups",
    "requires_signature",
    "signed_contracts",
]

_SIGNED = "fcsbe.signed_contracts"
"""`transaction_memo` key: party id -> fsc_ids of its contracts requiring signed requests."""
_GROUPED = "fcsbe.grouped_reads"
"""`session.info` key: the group reader of this session's credential look-up."""

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


@dataclass(slots=True)
class Credential:
    """A credential as the request edge needs it (the columns `CREDENTIAL_QUERY` selects, in
    its order)."""

    credential_id: str
    role: str
    party_id: str
    enrolment_id: str | None
    expires_at: datetime | None
    revoked_at: datetime | None
    status: str | None
    scopes: list[str] | None


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
    prefetch_key(session, credential.party_id, idempotency_key, stored)
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
