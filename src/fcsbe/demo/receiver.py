"""A webhook receiver on the loopback interface, for the demo's own notifications.

It is a plain standard-library HTTP server in a thread (the demo must not need a web framework)
that hands every `POST /notifications` to the client's `WebhookReceiver`, which checks the
Standard Webhooks signature and timestamp and de-duplicates by `webhook-id`, exactly as an
aggregator's production receiver would. Until the endpoint's secret is known (it comes back
from `PUT /v1/webhook-endpoint`), it answers 503 so that the server simply retries.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

from fcsbe.client.webhooks import WebhookReceiver, WebhookVerificationError
from fcsbe.model import Notification

__all__ = ["LocalReceiver"]

_MAX_BODY = 1_048_576


class LocalReceiver:
    """Receives the FCSBE's pushes on `http://127.0.0.1:<port>` and keeps what it verified."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.Lock()
        self._verifier: WebhookReceiver | None = None
        self._received: dict[int, Notification] = {}
        self.rejected = 0
        self.duplicates = 0
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fcsbe-demo-webhooks", daemon=True
        )

    @property
    def base_url(self) -> str:
        """The callback base URL to register (the server posts to `{base_url}/notifications`)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def use_secret(self, secret: str) -> None:
        """Start verifying with the endpoint's `whsec_...` secret."""
        with self._lock:
            self._verifier = WebhookReceiver(secret)

    def received(self) -> dict[int, Notification]:
        """The verified notifications so far, by `seq`."""
        with self._lock:
            return dict(self._received)

    def differences(self, feed: list[Notification]) -> str | None:
        """Why the pushes do not match the feed (a differing notification, a failed
        verification), or None when every pushed notification equals its feed item."""
        pushed = self.received()
        if any(pushed.get(n.seq) != n for n in feed):
            return "a pushed notification differs from the feed"
        if self.rejected:
            return f"{self.rejected} pushes failed verification"
        return None

    def _accept(self, body: bytes, headers: dict[str, str]) -> int:
        """Verify one push; the HTTP status to answer."""
        with self._lock:
            verifier = self._verifier
        if verifier is None:
            return 503
        try:
            received = verifier.receive(body, headers)
        except WebhookVerificationError:
            with self._lock:
                self.rejected += 1
            return 400
        with self._lock:
            if received.duplicate:
                self.duplicates += 1
            else:
                self._received[received.notification.seq] = received.notification
        return 204

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if self.path.rstrip("/") != "/notifications" or not 0 <= length <= _MAX_BODY:
                    self.send_response(404)
                    self.end_headers()
                    return
                body = self.rfile.read(length)
                status = owner._accept(body, dict(self.headers.items()))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return  # the demo's console shows what matters

        return Handler

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
