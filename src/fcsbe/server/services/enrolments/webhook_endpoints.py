"""The FO's webhook endpoint: registering it, rotating its signing secret, disabling it.

The FO chooses how deliveries are signed: `v1` (HMAC-SHA256 with a shared secret), `v1a`
(Ed25519 with the server's own key, nothing shared), or both. For `v1` the server generates
the Standard Webhooks secret (`whsec_` + 32 random bytes, base64) and shows it to the FO once,
when it is created, rotated or `v1` is added. After a rotation the previous secret keeps
signing as a second `v1` signature for `webhook_secret_overlap_s`, so the FO can switch its
receiver without losing a notification.

Secrets are stored sealed under the server's secret-sealing key (`security.secret_keyring`),
never in clear; `reseal_secrets` brings every stored secret under the active key (at start-up,
after a rotation, and for secrets an older release stored in clear).
"""

from __future__ import annotations

import base64
import logging
import secrets
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    FieldError,
    WebhookEndpoint,
    WebhookEndpointStatus,
    WebhookSignatureScheme,
)
from fcsbe.server.errors import NotFound, UnprocessableContent
from fcsbe.server.notifications.endpoints import V1, V1A, disable_endpoint, signing_secrets
from fcsbe.server.security.address_policy import Resolver, system_resolver
from fcsbe.server.security.secret_keyring import SecretKeyring, SecretKeyringError
from fcsbe.server.security.urls import callback_url_problem
from fcsbe.server.settings import Settings
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.webhook_endpoints import WebhookEndpointRow, all_endpoints

__all__ = [
    "SECRET_PREFIX",
    "check_callback_url",
    "disable_endpoint",
    "endpoint_model",
    "get_endpoint",
    "new_webhook_secret",
    "register_endpoint",
    "reseal_secrets",
    "rotate_secret",
    "signing_secrets",
]

log = logging.getLogger("fcsbe.webhooks")

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret


def new_webhook_secret() -> str:
    """A fresh Standard Webhooks symmetric secret (256 bits)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


async def check_callback_url(
    url: str, settings: Settings, pointer: str, resolver: Resolver = system_resolver
) -> None:
    """Refuse a callback URL the server must not call (S4), naming the field; a name is
    resolved and judged by the address policy, as it will be before every delivery."""
    problem = await callback_url_problem(
        url,
        allow_loopback=settings.webhook_allow_loopback,
        require_https=settings.webhook_require_https,
        resolver=resolver,
    )
    if problem is not None:
        raise UnprocessableContent(
            f"The callback URL is refused: {problem}.",
            slug="callback-url-refused",
            errors=[FieldError(pointer=pointer, detail=problem, code="callback_url")],
        )


async def register_endpoint(
    session: AsyncSession,
    fo_party_id: str,
    callback_base_url: str,
    *,
    settings: Settings,
    enrolment_id: str | None = None,
    schemes: list[WebhookSignatureScheme] | None = None,
    pointer: str = "/body/callback_base_url",
    resolver: Resolver = system_resolver,
) -> str | None:
    """Create or update the FO's endpoint and (re-)activate it; `schemes` None keeps them
    (`v1` for a new endpoint).

    Returns the secret when the FO must learn it: the endpoint was created signing with `v1`,
    or `v1` was added (a fresh secret). None otherwise (rotate it with `rotate_secret`).
    """
    await check_callback_url(callback_base_url, settings, pointer, resolver)
    keyring = SecretKeyring.load_or_create(settings.data_dir)
    now = utcnow()
    chosen = " ".join(schemes) if schemes else None
    row = await session.get(WebhookEndpointRow, fo_party_id)
    if row is None:
        secret = new_webhook_secret()
        row = WebhookEndpointRow(
            fo_party_id=fo_party_id,
            enrolment_id=enrolment_id,
            callback_base_url=callback_base_url.rstrip("/"),
            secret=keyring.seal(secret),
            secret_rotated_at=now,
            signature_schemes=chosen or V1,
            status=WebhookEndpointStatus.ACTIVE.value,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        await session.flush()
        return secret if V1 in row.schemes else None
    shown: str | None = None
    if chosen is not None:
        if V1 in chosen.split() and V1 not in row.schemes:
            shown = new_webhook_secret()
            row.secret = keyring.seal(shown)
            row.previous_secret = row.previous_secret_expires_at = None
            row.secret_rotated_at = now
        row.signature_schemes = chosen
    row.callback_base_url = callback_base_url.rstrip("/")
    row.enrolment_id = enrolment_id or row.enrolment_id
    row.status = WebhookEndpointStatus.ACTIVE.value
    row.disabled_reason = None
    row.disabled_at = None
    row.paused_until = None
    row.updated_at = now
    return shown


async def get_endpoint(session: AsyncSession, fo_party_id: str) -> WebhookEndpointRow:
    """The FO's endpoint, or 404."""
    row = await session.get(WebhookEndpointRow, fo_party_id)
    if row is None:
        raise NotFound(
            "No webhook endpoint is registered; PUT /v1/webhook-endpoint first.",
            slug="webhook-endpoint-not-found",
        )
    return row


async def rotate_secret(
    session: AsyncSession, fo_party_id: str, *, settings: Settings
) -> tuple[WebhookEndpointRow, str]:
    """Make a new secret; the old one keeps co-signing for the overlap window."""
    row = await get_endpoint(session, fo_party_id)
    keyring = SecretKeyring.load_or_create(settings.data_dir)
    now = utcnow()
    secret = new_webhook_secret()
    try:
        keyring.open(row.secret)
        row.previous_secret = row.secret
    except SecretKeyringError:  # its key is gone: it cannot co-sign any more
        row.previous_secret = None
    row.previous_secret_expires_at = now + timedelta(seconds=settings.webhook_secret_overlap_s)
    row.secret = keyring.seal(secret)
    row.secret_rotated_at = now
    row.updated_at = now
    return row, secret


async def reseal_secrets(session: AsyncSession, keyring: SecretKeyring) -> int:
    """Seal every stored secret under the active key (clear ones from an older release, and
    those sealed under a rotated key); returns how many endpoints changed.

    A secret whose key is no longer in the ring is left as it is and logged: the server still
    starts, and that FO's deliveries wait until it sets a new secret (`PUT` with `v1` again or
    `POST /v1/webhook-endpoint/secret`).
    """
    changed = 0
    for row in await all_endpoints(session):
        before = (row.secret, row.previous_secret)
        try:
            if not keyring.is_current(row.secret):
                row.secret = keyring.seal(keyring.open(row.secret))
            if row.previous_secret and not keyring.is_current(row.previous_secret):
                row.previous_secret = keyring.seal(keyring.open(row.previous_secret))
        except SecretKeyringError as exc:
            log.error("webhook secret of %s cannot be re-sealed: %s", row.fo_party_id, exc)
            row.secret, row.previous_secret = before
            continue
        changed += (row.secret, row.previous_secret) != before
    return changed


def endpoint_model(
    row: WebhookEndpointRow,
    secret: str | None = None,
    now: datetime | None = None,
    *,
    public_key: str | None = None,
) -> WebhookEndpoint:
    """The wire view of an endpoint (`secret` only when just created or rotated; the server's
    `public_key` when it signs with `v1a`)."""
    now = now or utcnow()
    expires = row.previous_secret_expires_at
    return WebhookEndpoint(
        callback_base_url=row.callback_base_url,
        url=row.url,
        status=WebhookEndpointStatus(row.status),
        disabled_reason=row.disabled_reason,
        disabled_at=row.disabled_at,
        paused_until=row.paused_until if row.paused_until and row.paused_until > now else None,
        secret=secret,
        secret_rotated_at=row.secret_rotated_at,
        previous_secret_valid_until=expires if expires and expires > now else None,
        signature_schemes=[s for s in (V1, V1A) if s in row.schemes],
        public_key=public_key if V1A in row.schemes else None,
    )
