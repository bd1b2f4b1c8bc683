"""`fcsbe serve` in a child process on a free loopback port, as a user starts it.

It gets its own SQLite database and data folder, and the settings of `sh scripts/dev.sh serve`
(callbacks to 127.0.0.1 allowed, meters read every 5 s), so tests can talk to it over real HTTP
in real time and receive its webhooks. Used by the demo test and the documentation snippets.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Served", "free_port", "serve"]


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Served:
    """The running server: its URL, the settings it runs with, and its log file."""

    url: str
    env: dict[str, str]
    log: Path


@contextmanager
def serve(folder: Path, **settings: str) -> Iterator[Served]:
    """Run `fcsbe serve` in `folder` until the block ends (`settings`: extra FCSBE_* values)."""
    port = free_port()
    env = {
        "FCSBE_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'fcsbe.db'}",
        "FCSBE_DATA_DIR": str(folder / "var"),
        "FCSBE_ALLOW_LOOPBACK_CALLBACKS": "true",
        "FCSBE_WEBHOOK_ALLOW_LOOPBACK": "true",
        "FCSBE_WEBHOOK_REQUIRE_HTTPS": "false",
        "FCSBE_SIMULATOR_METER_RESOLUTION_S": "5",
        # Records wait for late meter readings (30 s by default); the simulator sends none late.
        "FCSBE_RECORD_DELAY_S": "3",
        "FCSBE_LOG_LEVEL": "WARNING",
        **settings,
    }
    log = folder / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "fcsbe.cli", "serve", "--port", str(port)],
            cwd=folder,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/readyz", timeout=1) as answer:
                        if answer.status == 200:
                            break
                except OSError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start:\n{log.read_text()}")
                time.sleep(0.1)
            yield Served(url, env, log)
        finally:
            process.terminate()
            process.wait(timeout=15)
