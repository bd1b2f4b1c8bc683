"""The demo's loopback webhook receiver: verifies signatures, keeps each `seq` once, and makes
the server retry until it knows the endpoint's secret."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

from fcsbe.demo.receiver import LocalReceiver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _push(receiver: LocalReceiver, seq: int, secret: str = SECRET) -> int:
    notification_id = f"n-{seq}"
    body = json.dumps(
        {
            "notification_id": notification_id,
            "seq": seq,
            "type": "FS_STATE_CHANGED",
            "fs_id": "fs-1",
            "occurred_at": "2026-03-02T17:00:00Z",
            "data": {"revision": 1, "to_state": "ACTIVE"},
        }
    )
    now = datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "webhook-id": notification_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(notification_id, now, body),
    }
    answer = httpx.post(f"{receiver.base_url}/notifications", content=body, headers=headers)
    return answer.status_code


def test_pushes_are_verified_and_kept_once() -> None:
    with LocalReceiver() as receiver:
        assert _push(receiver, 1) == 503  # no secret yet: the server retries later
        receiver.use_secret(SECRET)
        assert _push(receiver, 1) == 204
        assert _push(receiver, 1) == 204  # a repeat is acknowledged, kept once
        assert _push(receiver, 2, secret="whsec_" + "A" * 32) == 400  # signed with another key
        assert list(receiver.received()) == [1]
        assert (receiver.duplicates, receiver.rejected) == (1, 1)
        assert httpx.post(f"{receiver.base_url}/elsewhere", content=b"{}").status_code == 404
