"""`/docs` and `/redoc` render in a browser that cannot reach the internet (an air-gapped CSO
network): every name but the server's loopback address resolves to nothing, so a page that
needed a CDN stays blank and the test fails. Skipped without Chromium, except in CI."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from fcsbe.server.settings import Settings

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    if IN_CI:
        pytest.fail(f"CI needs {CHROMIUM} and {CHROMEDRIVER}")
    pytest.skip("Chromium is not installed", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from tests.support.browser import headless_chrome, loopback_listener, served_in_thread  # noqa: E402

OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"
DECORATION = {"https://cdn.redoc.ly/redoc/logo-mini.svg"}
"""ReDoc's "API docs by Redocly" logo: an image that removes itself when it cannot load."""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'docs.db'}",
        data_dir=tmp_path / "var",
        simulator_enabled=False,
        workers_enabled=False,
        log_level="WARNING",
    )
    with served_in_thread(settings, loopback_listener()) as url:
        yield url


@pytest.fixture
def offline_browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    with headless_chrome(tmp_path / "chromium-profile", OFFLINE) as driver:
        yield driver


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
