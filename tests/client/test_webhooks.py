"""The FO's webhook receiver helper: authentic, fresh, typed, de-duplicated (S5)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from fcsbe.client.webhooks import MemorySeenStore, WebhookReceiver, WebhookVerificationError
from fcsbe.model import FsStateChangedData, generate_signing_key, public_jwk
from fcsbe.model.webhook_signatures import webhook_public_key, webhook_signing_key
from fcsbe.server.notifications.sender import webhook_headers
from fcsbe.server.services.enrolments.webhook_endpoints import new_webhook_secret

NOW = 1_790_000_000.0
SECRET = new_webhook_secret()


def _body(notification_id: str = "n-1", seq: int = 7) -> str:
    return json.dumps(
        {
            "notification_id": notification_id,
            "seq": seq,
            "type": "FS_STATE_CHANGED",
            "fs_id": "fs-1",
            "occurred_at": "2026-09-21T10:00:00Z",
            "data": {"revision": 1, "from_state": "SCHEDULED", "to_state": "ACTIVE"},
        }
    )


def _signed(body: str, *, notification_id: str = "n-1", at: float = NOW, secrets=(SECRET,)):
    return webhook_headers(notification_id, datetime.fromtimestamp(at, UTC), body, secrets)


def _receiver(*secrets: str, **kwargs: object) -> WebhookReceiver:
    return WebhookReceiver(list(secrets or [SECRET]), clock=lambda: NOW, **kwargs)  # type: ignore[arg-type]


def test_verifies_and_parses_a_typed_notification() -> None:
    body = _body()
    notification = _receiver().verify(body.encode(), _signed(body))
    assert notification.seq == 7
    data = notification.typed_data()
    assert isinstance(data, FsStateChangedData)
    assert data.to_state == "ACTIVE"


def test_header_names_are_case_insensitive() -> None:
    body = _body()
    headers = {k.upper(): v for k, v in _signed(body).items()}
    assert _receiver().verify(body, headers).notification_id == "n-1"


@pytest.mark.parametrize("index", [0, 10, 50, -3])
def test_any_tampered_byte_is_rejected(index: int) -> None:
    body = _body()
    headers = _signed(body)
    raw = bytearray(body.encode())
    raw[index] ^= 0x01
    with pytest.raises(WebhookVerificationError):
        _receiver().verify(bytes(raw), headers)


def test_tampered_id_timestamp_or_signature_is_rejected() -> None:
    body = _body()
    headers = _signed(body)
    for name, value in [
        ("webhook-id", "n-2"),
        ("webhook-timestamp", str(int(NOW) + 1)),
        ("webhook-signature", "v1,AAAA"),
        ("webhook-signature", "v1a,whatever"),
    ]:
        with pytest.raises(WebhookVerificationError):
            _receiver().verify(body, {**headers, name: value})


@pytest.mark.parametrize("skew", [-301, 301])
def test_stale_or_future_timestamps_are_rejected(skew: float) -> None:
    body = _body()
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        _receiver().verify(body, _signed(body, at=NOW + skew))
    assert _receiver(tolerance_s=400).verify(body, _signed(body, at=NOW + skew))


def test_missing_headers_wrong_secret_and_non_notifications_are_rejected() -> None:
    body = _body()
    headers = _signed(body)
    for missing in headers:
        partial = {k: v for k, v in headers.items() if k != missing}
        with pytest.raises(WebhookVerificationError, match="missing"):
            _receiver().verify(body, partial)
    with pytest.raises(WebhookVerificationError, match="signature"):
        _receiver(new_webhook_secret()).verify(body, headers)
    junk = '{"hello": 1}'
    with pytest.raises(WebhookVerificationError, match="not a notification"):
        _receiver().verify(junk, _signed(junk))
    other = _body("n-9")
    with pytest.raises(WebhookVerificationError, match="differ"):
        _receiver().verify(other, _signed(other, notification_id="n-1"))


def test_rotation_either_secret_verifies() -> None:
    new = new_webhook_secret()
    body = _body()
    both = _signed(body, secrets=(new, SECRET))
    assert _receiver(SECRET).verify(body, both)
    assert _receiver(new).verify(body, both)
    assert _receiver(new, SECRET).verify(body, _signed(body))


def test_duplicates_are_reported_and_forget_lets_a_retry_through() -> None:
    receiver = _receiver()
    body = _body()
    assert receiver.receive(body, _signed(body)).duplicate is False
    assert receiver.receive(body, _signed(body)).duplicate is True
    receiver.forget("n-1")
    assert receiver.receive(body, _signed(body)).duplicate is False


def test_the_seen_store_is_bounded() -> None:
    store = MemorySeenStore(max_size=3)
    assert all(store.add(f"id-{i}") for i in range(5))
    assert len(store) == 3
    assert store.add("id-0") is True, "the oldest were forgotten"
    assert store.add("id-4") is False
    with pytest.raises(ValueError, match="max_size"):
        MemorySeenStore(0)
    with pytest.raises(ValueError, match="secret"):
        WebhookReceiver([])


# v1a: Ed25519 with the FCSBE's own key, verified with its public key (whpk_ or the JWKS).
SERVER_KEY = generate_signing_key()
SIGNING_KEY = webhook_signing_key(SERVER_KEY)
PUBLIC_KEY = webhook_public_key(SERVER_KEY)


def _v1a_receiver(*keys: object, **kwargs: object) -> WebhookReceiver:
    chosen = keys[0] if len(keys) == 1 else list(keys or [PUBLIC_KEY])
    return WebhookReceiver(public_keys=chosen, clock=lambda: NOW, **kwargs)  # type: ignore[arg-type]


def test_v1a_signature_verifies_with_the_public_key_or_the_jwks() -> None:
    body = _body()
    headers = _signed(body, secrets=(SIGNING_KEY,))
    assert headers["webhook-signature"].startswith("v1a,")
    assert PUBLIC_KEY.startswith("whpk_")
    assert _v1a_receiver().verify(body, headers).seq == 7
    jwks = {"keys": [public_jwk(generate_signing_key()), public_jwk(SERVER_KEY)]}
    assert _v1a_receiver(jwks).verify(body.encode(), headers).notification_id == "n-1"


@pytest.mark.parametrize("part", ["body", "timestamp", "id"])
def test_v1a_rejects_a_tampered_body_timestamp_or_id(part: str) -> None:
    body = _body()
    headers = _signed(body, secrets=(SIGNING_KEY,))
    if part == "body":
        body = body.replace("ACTIVE", "ABORTED")
    elif part == "timestamp":
        headers["webhook-timestamp"] = str(int(NOW) + 1)
    else:
        headers["webhook-id"] = "n-2"
    with pytest.raises(WebhookVerificationError, match="no valid signature"):
        _v1a_receiver().verify(body, headers)


def test_v1a_rejects_another_key_and_a_v1_receiver_ignores_v1a() -> None:
    body = _body()
    headers = _signed(body, secrets=(SIGNING_KEY,))
    stranger = webhook_public_key(generate_signing_key())
    with pytest.raises(WebhookVerificationError, match="no valid signature"):
        _v1a_receiver(stranger).verify(body, headers)
    forged = _signed(body, secrets=(webhook_signing_key(generate_signing_key()),))
    with pytest.raises(WebhookVerificationError, match="no valid signature"):
        _v1a_receiver().verify(body, forged)
    with pytest.raises(WebhookVerificationError, match="no valid signature"):
        _receiver().verify(body, headers)  # an HMAC secret cannot vouch for a v1a token


def test_both_schemes_in_one_header_each_verifies_alone() -> None:
    body = _body()
    headers = _signed(body, secrets=(SECRET, SIGNING_KEY))
    assert [t.partition(",")[0] for t in headers["webhook-signature"].split()] == ["v1", "v1a"]
    assert _receiver().verify(body, headers).seq == 7
    assert _v1a_receiver().verify(body, headers).seq == 7
    both = WebhookReceiver(SECRET, public_keys=PUBLIC_KEY, clock=lambda: NOW)
    assert both.verify(body, headers).seq == 7


def test_a_receiver_needs_a_secret_or_a_public_key() -> None:
    with pytest.raises(ValueError, match="secret or public key"):
        WebhookReceiver()
    with pytest.raises(ValueError, match="whpk_"):
        WebhookReceiver(public_keys="whsec_abc")
