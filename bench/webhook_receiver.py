"""A minimal FO webhook receiver for the P4 benchmark (raw ASGI, run under uvicorn).

It answers 204 at once and notes the wall-clock arrival time of every `webhook-id`;
`GET /stats` returns them. It runs in its own process so that it does not share the
server's event loop.
"""

from __future__ import annotations

import json
import time
from typing import Any

__all__ = ["app"]

_arrivals: dict[str, float] = {}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """ASGI entry point."""
    if scope["type"] != "http":
        return
    arrived = time.time()
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    if scope["method"] == "GET":
        body = json.dumps(_arrivals).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})
        return
    headers = dict(scope["headers"])
    webhook_id = headers.get(b"webhook-id", b"").decode()
    _arrivals.setdefault(webhook_id or f"plain-{len(_arrivals)}", arrived)
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})
