"""`/docs` and `/redoc` render in a browser that cannot reach the internet (an air-gapped CSO
network): every name but the server's loopback address resolves to nothing, so a page that
needed a CDN stays blank and the test fails. Skipped without Chromium, except in CI."""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from fcsbe.server.app import create_app
from fcsbe.server.settings import Settings
from fcsbe.server.storage import migrations

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    if IN_CI:
        pytest.fail(f"CI needs {CHROMIUM} and {CHROMEDRIVER}")
    pytest.skip("Chromium is not installed", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"
DECORATION = {"https://cdn.redoc.ly/redoc/logo-mini.svg"}
"""ReDoc's "API docs by Redocly" logo: an image that removes itself when it cannot load."""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = int(listener.getsockname()[1])
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'docs.db'}",
        data_dir=tmp_path / "var",
        simulator_enabled=False,
        workers_enabled=False,
        log_level="WARNING",
    )
    migrations.upgrade(settings.database_url)
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(timeout=10)
    listener.close()


@pytest.fixture
def offline_browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
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
        OFFLINE,
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


def _resources(driver: webdriver.Chrome) -> list[str]:
    names = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    return [str(name) for name in names]


@pytest.mark.parametrize(
    ("page", "rendered"),
    [
        ("/docs", ".swagger-ui .info .title"),
        ("/redoc", ".api-content h1"),
    ],
)
def test_api_docs_render_without_the_internet(
    server: str, offline_browser: webdriver.Chrome, page: str, rendered: str
) -> None:
    offline_browser.get(server + page)
    title = WebDriverWait(offline_browser, 60).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, rendered))
    )
    assert "fcsbe" in title.text
    outside = [
        url
        for url in _resources(offline_browser)
        if not url.startswith(server) and url not in DECORATION
    ]
    assert outside == []
