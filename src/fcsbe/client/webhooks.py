"""Receiving the FCSBE's webhooks on the FO side: verify, parse, de-duplicate.

Framework-neutral: give `WebhookReceiver.receive` the raw body bytes and the request headers from
any ASGI or WSGI framework. It checks the Standard Webhooks signature, `v1` (HMAC-SHA256, computed
with the `standardwebhooks` library) against one or more secrets (several during a rotation) and/or
`v1a` (Ed25519) against the FCSBE's public keys (`whpk_...`, or its JWKS); one valid signature is
enough. It refuses timestamps outside a tolerance (replays), parses the typed `Notification` and
reports repeats of a `webhook-id` (delivery is at least once). Answer 2xx quickly once the
notification is stored; a non-2xx makes the FCSBE retry.
"""

from __future__ import annotations

import hmac
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError
from standardwebhooks import Webhook

from fcsbe.client.errors import FcsbeError
from fcsbe.model import Notification, parse_notification
from fcsbe.model.webhook_signatures import (
    WEBHOOK_PUBLIC_KEY_PREFIX,
    verify_v1a,
    webhook_public_keys,
)

__all__ = [
    "DEFAULT_TOLERANCE_S",
    "MemorySeenStore",
    "ReceivedWebhook",
    "SeenStore",
    "WebhookReceiver",
    "WebhookVerificationError",
]

DEFAULT_TOLERANCE_S = 300.0
"""How far a `webhook-timestamp` may be from the receiver's clock (Standard Webhooks: 5 min)."""


class WebhookVerificationError(FcsbeError):
    """The request is not an authentic, fresh FCSBE webhook: answer 400 and drop it."""


class SeenStore(Protocol):
    """Remembers webhook ids already processed (plug in Redis or a table for several workers)."""

    def add(self, webhook_id: str) -> bool:
        """Remember `webhook_id`; True when it was new."""

    def discard(self, webhook_id: str) -> None:
        """Forget `webhook_id` (its processing failed, so the retry must be let through)."""


class MemorySeenStore:
    """A bounded in-process store: the newest `max_size` ids, oldest forgotten first.

    Size it above the notifications you receive in the retry window of a duplicate (a
    redelivery comes at the latest ~24 h later); the feed's `seq` covers the rest.
    """

    def __init__(self, max_size: int = 100_000) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._max_size = max_size

    def add(self, webhook_id: str) -> bool:
        if webhook_id in self._ids:
            self._ids.move_to_end(webhook_id)
            return False
        self._ids[webhook_id] = None
        if len(self._ids) > self._max_size:
            self._ids.popitem(last=False)
        return True

    def discard(self, webhook_id: str) -> None:
        self._ids.pop(webhook_id, None)

    def __len__(self) -> int:
        return len(self._ids)


@dataclass(frozen=True, slots=True)
class ReceivedWebhook:
    """A verified webhook: the notification, and whether its id was already seen."""

    webhook_id: str
    notification: Notification
    duplicate: bool


class WebhookReceiver:
    """Verifies and de-duplicates the FCSBE's webhooks.

    Example:
        >>> receiver = WebhookReceiver("whsec_...")              # v1 (HMAC)
        >>> receiver = WebhookReceiver(public_keys=details.jwks)  # v1a (Ed25519)
        >>> received = receiver.receive(body, headers)   # raises WebhookVerificationError
        >>> if not received.duplicate:
        ...     handle(received.notification)
    """

    def __init__(
        self,
        secrets: str | Sequence[str] = (),
        *,
        public_keys: str | Sequence[str] | Mapping[str, Any] = (),
        tolerance_s: float = DEFAULT_TOLERANCE_S,
        store: SeenStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Create a receiver.

        Args:
            secrets: The endpoint's `whsec_...` secret, or several (old and new) while rotating;
                they verify `v1` signatures.
            public_keys: The FCSBE's `whpk_...` key(s), or its JWKS (`GET /v1` `jwks`: every
                Ed25519 key in it, retired ones included); they verify `v1a` signatures.
            tolerance_s: Largest accepted distance between `webhook-timestamp` and now.
            store: Where seen webhook ids are kept (default: bounded, in memory).
            clock: Seconds since the epoch (tests inject one).
        """
        names = [secrets] if isinstance(secrets, str) else list(secrets)
        if isinstance(public_keys, str):
            keys = [public_keys]
        elif isinstance(public_keys, Mapping):
            keys = webhook_public_keys(public_keys)
        else:
            keys = list(public_keys)
        if not names and not keys:
            raise ValueError("at least one webhook secret or public key is needed")
        if any(not key.startswith(WEBHOOK_PUBLIC_KEY_PREFIX) for key in keys):
            raise ValueError(f"public keys start with {WEBHOOK_PUBLIC_KEY_PREFIX!r}")
        self._signers = [Webhook(secret) for secret in names]
        self._public_keys = keys
        self._tolerance_s = tolerance_s
        self._clock = clock
        self.store: SeenStore = store if store is not None else MemorySeenStore()

    def verify(self, body: bytes | str, headers: Mapping[str, str]) -> Notification:
        """Check signature and timestamp, then parse the notification.

        Args:
            body: The raw request body, exactly as received.
            headers: The request headers (any case).

        Returns:
            The typed notification.

        Raises:
            WebhookVerificationError: missing headers, stale or future timestamp, no valid
                signature, or a body that is not a notification.
        """
        lowered = {key.lower(): value for key, value in headers.items()}
        webhook_id = lowered.get("webhook-id")
        stamp = lowered.get("webhook-timestamp")
        signatures = lowered.get("webhook-signature")
        if not (webhook_id and stamp and signatures):
            raise WebhookVerificationError("missing webhook-id, -timestamp or -signature header")
        try:
            timestamp = int(stamp)
        except ValueError:
            raise WebhookVerificationError("webhook-timestamp is not an integer") from None
        if abs(self._clock() - timestamp) > self._tolerance_s:
            raise WebhookVerificationError("webhook-timestamp is outside the tolerance")
        try:
            text = body if isinstance(body, str) else body.decode("utf-8")
        except UnicodeDecodeError:
            raise WebhookVerificationError("the body is not UTF-8") from None
        if not self._signed(webhook_id, timestamp, text, signatures):
            raise WebhookVerificationError("no valid signature")
        try:
            notification = parse_notification(text)
        except ValidationError as exc:
            raise WebhookVerificationError(f"the body is not a notification: {exc}") from None
        if notification.notification_id != webhook_id:
            raise WebhookVerificationError("webhook-id and notification_id differ")
        return notification

    def receive(self, body: bytes | str, headers: Mapping[str, str]) -> ReceivedWebhook:
        """Verify, parse and mark the webhook id as seen.

        If processing then fails, call `forget(webhook_id)` before answering non-2xx so that
        the retry is not taken for a duplicate.

        Raises:
            WebhookVerificationError: as `verify`.
        """
        notification = self.verify(body, headers)
        webhook_id = notification.notification_id
        return ReceivedWebhook(webhook_id, notification, duplicate=not self.store.add(webhook_id))

    def forget(self, webhook_id: str) -> None:
        """Let the next delivery of `webhook_id` through (its processing failed)."""
        self.store.discard(webhook_id)

    def _signed(self, webhook_id: str, timestamp: int, body: str, header: str) -> bool:
        presented = []
        asymmetric = []
        for token in header.split():
            version, _, signature = token.partition(",")
            if version == "v1" and signature:
                presented.append(signature.encode())
            elif version == "v1a" and signature:
                asymmetric.append(signature)
        for key in self._public_keys:
            if any(verify_v1a(key, webhook_id, timestamp, body, s) for s in asymmetric):
                return True
        if not presented or not self._signers:
            return False
        when = datetime.fromtimestamp(timestamp, UTC)
        for signer in self._signers:
            expected = signer.sign(webhook_id, when, body).partition(",")[2].encode()
            if any(hmac.compare_digest(expected, candidate) for candidate in presented):
                return True
        return False
