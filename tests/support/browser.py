"""What the browser tests share: the real server on a loopback port in a thread, and a
headless Debian Chromium driven by chromedriver (no browser download)."""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from fcsbe.server.app import create_app
from fcsbe.server.settings import Settings
from fcsbe.server.storage import migrations

__all__ = ["CHROMEDRIVER", "CHROMIUM", "headless_chrome", "loopback_listener", "served_in_thread"]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@contextmanager
def served_in_thread(settings: Settings, listener: socket.socket) -> Iterator[str]:
    """Serve the app on `listener` until the block ends; yields its base URL.

    The database is migrated first (a test may write to it while the server is starting), and
    the socket listens before the server starts: a browser's first connection waits in its
    backlog until the app accepts it, so there is nothing to poll for."""
    migrations.upgrade(settings.database_url)
    port = int(listener.getsockname()[1])
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(timeout=10)
        listener.close()


def loopback_listener() -> socket.socket:
    """A listening socket on a free loopback port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    return listener


@contextmanager
def headless_chrome(profile: Path, *flags: str) -> Iterator[webdriver.Chrome]:
    """Headless Chromium with a throw-away profile in `profile`, plus `flags`."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        *flags,
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
