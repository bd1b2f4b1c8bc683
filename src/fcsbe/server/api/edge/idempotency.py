"""Idempotency-Key handling for state-changing POST/PUT/PATCH routes (IETF httpapi semantics).

- missing key -> 400; same key + same request -> the stored response, byte for byte;
- same key + different request -> 422; same key while the first is still running -> 409.

The key row is written in the same transaction as the change it protects, so a crash can never
leave a key without its effect or an effect without its key. Keys are scoped per party and kept
for `idempotency_ttl_s` (24 h by default). A response that carries a new secret is stored sealed
(`sealer`), readable only by a caller presenting the same credential again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import FieldError
from fcsbe.server.deps import state_settings
from fcsbe.server.errors import BadRequest, Conflict, UnprocessableContent
from fcsbe.server.security.sealing import SecretSealer
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.fast.keys import StoredKey, find_key, store_key, try_lock_key
from fcsbe.server.storage.idempotency import delete_key

__all__ = [
    "IdempotencyKey",
    "KeyRecord",
    "Outcome",
    "run_idempotent",
    "run_idempotent_recorded",
]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"\S",
        description="Required. A unique key per intended change (UUID recommended); retries of "
        "the same request must reuse it. Kept for 24 h.",
    ),
]

Outcome = tuple[int, BaseModel, Mapping[str, str]]
"""What a protected handler returns: status code, body model, extra headers."""

_REPLAY_HEADERS = ("content-type", "location")


def _fingerprint(request: Request, body: bytes) -> str:
    h = hashlib.sha256()
    h.update(request.method.encode())
    h.update(b"\x1f")
    h.update(request.url.path.encode())
    h.update(b"\x1f")
    h.update(body)
    return h.hexdigest()


def _key_reused() -> UnprocessableContent:
    return UnprocessableContent(
        "This Idempotency-Key was used for a different request.",
        slug="idempotency-key-reused",
        errors=[
            FieldError(
                pointer="/header/idempotency-key",
                detail="key already used with another request body, path or credential",
                code="idempotency_key_reused",
            )
        ],
    )


def _replay(row: StoredKey, sealer: SecretSealer | None) -> Response:
    headers = dict(row.response_headers or {})
    headers["idempotent-replayed"] = "true"
    body = row.response_body or b""
    if sealer is not None:
        opened = sealer.open(body)
        if opened is None:
            raise _key_reused()
        body = opened
    return Response(content=body, status_code=row.response_status or 200, headers=headers)


class KeyRecord:
    """The key row of a request being handled, completed with its response.

    A handler that writes its change in one statement (the FS accept on PostgreSQL) asks for
    the row with `row()` and writes it in that statement; `run_idempotent` then stores nothing
    more. The stored response is the one `row()` was given, so it must be the handler's answer.
    """

    __slots__ = ("_prefix", "_sealer", "response", "taken")

    def __init__(self, prefix: dict[str, Any], sealer: SecretSealer | None) -> None:
        self._prefix = prefix
        self._sealer = sealer
        self.taken = False
        self.response: tuple[int, bytes, dict[str, str]] | None = None

    def row(
        self, status: int, model: BaseModel, extra_headers: Mapping[str, str]
    ) -> dict[str, Any]:
        """The complete key row for this answer; the caller promises to write it."""
        body = model.model_dump_json().encode()
        headers = {"content-type": "application/json", **extra_headers}
        self.taken = True
        self.response = (status, body, headers)
        return {
            **self._prefix,
            "status": "DONE",
            "response_status": status,
            "response_headers": {k: v for k, v in headers.items() if k.lower() in _REPLAY_HEADERS},
            "response_body": self._sealer.seal(body) if self._sealer is not None else body,
        }


async def run_idempotent(
    request: Request,
    session: AsyncSession,
    party_id: str,
    key: str | None,
    handler: Callable[[], Awaitable[Outcome]],
    *,
    sealer: SecretSealer | None = None,
) -> Response:
    """Run `handler` once per (party, key); replay its stored response on retries.

    With `sealer`, the stored body is encrypted with it (answers that carry a new secret).
    """

    async def recording(_: KeyRecord) -> Outcome:
        return await handler()

    return await run_idempotent_recorded(request, session, party_id, key, recording, sealer=sealer)


async def run_idempotent_recorded(
    request: Request,
    session: AsyncSession,
    party_id: str,
    key: str | None,
    handler: Callable[[KeyRecord], Awaitable[Outcome]],
    *,
    sealer: SecretSealer | None = None,
) -> Response:
    """`run_idempotent` for a handler that may write the key row with its change (`KeyRecord`):
    one round trip fewer when both go in one statement."""
    if not key or not key.strip():
        raise BadRequest(
            "This request changes state and needs an `Idempotency-Key` header.",
            slug="idempotency-key-missing",
            errors=[
                FieldError(
                    pointer="/header/idempotency-key", detail="header is required", code="missing"
                )
            ],
        )
    fingerprint = _fingerprint(request, await request.body())
    if not await try_lock_key(session, party_id, key):
        raise Conflict(
            "A request with this Idempotency-Key is still being processed; retry later.",
            slug="idempotency-key-in-use",
        )
    now = utcnow()
    existing = await find_key(session, party_id, key)
    if existing is not None and existing.expires_at > now:
        if existing.request_hash != fingerprint:
            raise _key_reused()
        if existing.status == "DONE":
            return _replay(existing, sealer)
        raise Conflict(
            "A request with this Idempotency-Key is still being processed; retry later.",
            slug="idempotency-key-in-use",
        )
    if existing is not None:
        await delete_key(session, party_id, key)
    record = KeyRecord(
        {
            "party_id": party_id,
            "key": key,
            "method": request.method,
            "path": request.url.path[:512],
            "request_hash": fingerprint,
            "created_at": now,
            "expires_at": now + timedelta(seconds=state_settings(request).idempotency_ttl_s),
        },
        sealer,
    )
    try:
        status, model, extra_headers = await handler(record)
    except Conflict:
        if not record.taken:
            raise
        # The key row was written with the change, and the change conflicted: perhaps with a
        # concurrent request with the same key (another replica, or one whose batch committed
        # first). Then its stored answer is this request's answer too.
        existing = await find_key(session, party_id, key)
        if existing is None or existing.expires_at <= now:
            raise
        if existing.request_hash != fingerprint:
            raise _key_reused() from None
        if existing.status != "DONE":
            raise
        return _replay(existing, sealer)
    if record.taken:
        assert record.response is not None
        status, body, headers = record.response
        return Response(content=body, status_code=status, headers=headers)
    # Written once, complete, with the change: concurrent use of the key is excluded by the
    # advisory lock (PostgreSQL) or the single writer (SQLite), and a crash leaves neither.
    values = record.row(status, model, extra_headers)
    await store_key(session, values)
    assert record.response is not None
    status, body, headers = record.response
    return Response(content=body, status_code=status, headers=headers)
