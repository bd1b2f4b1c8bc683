"""The webhook delivery step: sequence, claim due notifications with a lease, send, record.

`DeliveryWorker.step()` is what the background loop calls and what tests call directly, with an
injected clock. Each phase is its own short transaction; no transaction is open while waiting
on the network. Claiming uses `FOR UPDATE SKIP LOCKED` on PostgreSQL, so replicas take disjoint
rows; on SQLite the claim runs under the single write lock. A claim is a lease: a worker that
dies after claiming (before or after sending) loses nothing, because the rows become due again
when the lease ends, and the results of a worker that outlived its lease are ignored. Delivery
is therefore at least once, duplicates always carrying the same `webhook-id`.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fcsbe.model import DeliveryOutcome, DeliveryStatus, WebhookEndpointStatus
from fcsbe.server.notifications.endpoints import disable_endpoint, signing_secrets
from fcsbe.server.notifications.policy import RetryPolicy, parse_retry_after
from fcsbe.server.notifications.sender import SendResult, WebhookSender
from fcsbe.server.notifications.sequencer import assign_sequence
from fcsbe.server.security.secret_keyring import SecretKeyring, SecretKeyringError
from fcsbe.server.settings import Settings
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.notifications import DeliveryAttemptRow, due_rows, settle_leased
from fcsbe.server.storage.webhook_endpoints import WebhookEndpointRow, endpoints_of

__all__ = ["Claimed", "DeliveryWorker", "notification_body"]

UNSEALABLE_RETRY_S = 300.0
"""How long a notification waits when its endpoint's secret cannot be opened."""

Clock = Callable[[], datetime]
Attempt = tuple[datetime, SendResult]


def notification_body(payload: dict[str, Any], seq: int) -> str:
    """The webhook body: the stored notification with its feed position."""
    document = {"notification_id": payload["notification_id"], "seq": seq, **payload}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A notification leased to this worker for one attempt."""

    row_id: int
    notification_id: str
    fo_party_id: str
    attempt: int
    first_attempt_at: datetime
    url: str
    secrets: tuple[str, ...]
    body: str


class DeliveryWorker:
    """Delivers the outbox to the FOs' webhook endpoints, one bounded batch per step."""

    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        sender: WebhookSender,
        settings: Settings,
        *,
        clock: Clock = utcnow,
        rng: random.Random | None = None,
        signing_key: str | None = None,
    ) -> None:
        """`signing_key`: the server's `whsk_` key, for endpoints that chose `v1a`."""
        self._factory = factory
        self._signing_key = signing_key
        self._sender = sender
        self._settings = settings
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._policy = RetryPolicy.from_settings(settings)
        self._keyring = SecretKeyring.load_or_create(settings.data_dir)

    def _secrets(self, endpoint: WebhookEndpointRow, now: datetime) -> tuple[str, ...]:
        """The endpoint's signing keys; the key ring is read again once when a secret was
        sealed under a key this worker does not know yet (a rotation by another process)."""
        try:
            return tuple(signing_secrets(endpoint, now, self._signing_key, keyring=self._keyring))
        except SecretKeyringError:
            self._keyring = SecretKeyring.load_or_create(self._settings.data_dir)
            return tuple(signing_secrets(endpoint, now, self._signing_key, keyring=self._keyring))

    async def step(self) -> int:
        """One round: sequence new rows and claim a batch (one commit), send, record."""
        owner = uuid.uuid4().hex
        batch, settled = await self.claim(owner, sequence=True)
        if batch:
            results = await self.send(batch)
            await self.record(owner, batch, results)
        return len(batch) + settled

    async def sequence(self) -> int:
        """Give committed notifications their feed position (own transaction)."""
        async with self._factory() as session:
            done = await assign_sequence(session)
            await session.commit()
            return done

    async def claim(self, owner: str, *, sequence: bool = False) -> tuple[list[Claimed], int]:
        """Lease due rows to `owner`; returns them and how many rows changed otherwise.

        With `sequence`, new rows are sequenced first in the same transaction (one commit
        less between a change and its delivery).
        """
        now = self._clock()
        lease_until = now + timedelta(seconds=self._settings.notification_lease_s)
        async with self._factory() as session:
            settled = await assign_sequence(session) if sequence else 0
            rows = await due_rows(session, now, self._settings.notification_batch_size)
            endpoints = await endpoints_of(session, {row.fo_party_id for row in rows})
            claimed: list[Claimed] = []
            for row in rows:
                endpoint = endpoints.get(row.fo_party_id)
                if endpoint is None or endpoint.status != WebhookEndpointStatus.ACTIVE.value:
                    row.status = DeliveryStatus.PARKED.value
                    row.last_error = "no active webhook endpoint"
                    settled += 1
                    continue
                if endpoint.paused_until is not None and endpoint.paused_until > now:
                    row.next_attempt_at = endpoint.paused_until
                    settled += 1
                    continue
                try:
                    secrets = self._secrets(endpoint, now)
                except SecretKeyringError as exc:
                    # Its secret's key is gone (data folder restored without it): this
                    # endpoint waits, the others are delivered; the FO re-creates its secret.
                    row.last_error = f"cannot sign: {exc}"[:500]
                    row.next_attempt_at = now + timedelta(seconds=UNSEALABLE_RETRY_S)
                    settled += 1
                    continue
                row.lease_until = lease_until
                row.lease_owner = owner
                row.first_attempt_at = row.first_attempt_at or now
                assert row.seq is not None
                claimed.append(
                    Claimed(
                        row_id=row.id,
                        notification_id=row.notification_id,
                        fo_party_id=row.fo_party_id,
                        attempt=row.attempts + 1,
                        first_attempt_at=row.first_attempt_at,
                        url=endpoint.url,
                        secrets=secrets,
                        body=notification_body(row.payload, row.seq),
                    )
                )
            await session.commit()
        return claimed, settled

    async def send(self, batch: Sequence[Claimed]) -> list[Attempt]:
        """Send every claimed notification concurrently (bounded by the sender)."""

        async def one(item: Claimed) -> Attempt:
            started = self._clock()
            result = await self._sender.send(
                item.url, item.notification_id, item.body, item.secrets, started
            )
            return started, result

        return list(await asyncio.gather(*(one(item) for item in batch)))

    async def record(
        self, owner: str, batch: Sequence[Claimed], results: Sequence[Attempt]
    ) -> None:
        """Log every attempt and settle each row, unless this worker's lease was lost."""
        now = self._clock()
        changes: list[dict[str, Any]] = []
        attempts: list[DeliveryAttemptRow] = []
        gone: set[str] = set()
        paused: dict[str, datetime] = {}
        for item, (attempted_at, result) in zip(batch, results, strict=True):
            change = self._settle(item, result, now)
            changes.append(change)
            if result.outcome is DeliveryOutcome.GONE:
                gone.add(item.fo_party_id)
            retry_after = parse_retry_after(result.retry_after, now)
            if retry_after is not None and change["status"] == DeliveryStatus.PENDING.value:
                paused[item.fo_party_id] = max(
                    change["next_attempt_at"], paused.get(item.fo_party_id, now)
                )
            attempts.append(
                DeliveryAttemptRow(
                    outbox_id=item.row_id,
                    notification_id=item.notification_id,
                    fo_party_id=item.fo_party_id,
                    attempt=item.attempt,
                    attempted_at=attempted_at,
                    url=item.url[:2048],
                    outcome=result.outcome.value,
                    status_code=result.status_code,
                    duration_ms=result.duration_ms,
                    error=result.error,
                )
            )
        async with self._factory() as session:
            await settle_leased(session, owner, changes)
            session.add_all(attempts)
            endpoints = await endpoints_of(session, gone | set(paused))
            for party, endpoint in endpoints.items():
                if party in gone:
                    disable_endpoint(endpoint, "the receiver answered 410 Gone", now)
                elif party in paused:
                    current = endpoint.paused_until
                    endpoint.paused_until = max(paused[party], current or paused[party])
            await session.commit()

    def _settle(self, item: Claimed, result: SendResult, now: datetime) -> dict[str, Any]:
        change: dict[str, Any] = {
            "row_id": item.row_id,
            "attempts": item.attempt,
            "next_attempt_at": now,
            "delivered_at": None,
            "last_error": result.error,
        }
        if result.outcome is DeliveryOutcome.DELIVERED:
            change.update(status=DeliveryStatus.DELIVERED.value, delivered_at=now)
        elif result.outcome is DeliveryOutcome.GONE:
            change.update(status=DeliveryStatus.PARKED.value)
        elif self._policy.exhausted(item.first_attempt_at, now):
            change.update(status=DeliveryStatus.DEAD.value)
        else:
            advised = parse_retry_after(result.retry_after, now)
            retry_at = self._policy.next_attempt(item.attempt, now, advised, self._rng)
            change.update(status=DeliveryStatus.PENDING.value, next_attempt_at=retry_at)
        return change
