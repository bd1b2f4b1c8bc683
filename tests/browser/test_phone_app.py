"""The EV user's phone app in a real browser: Debian's headless Chromium at phone width.

A real uvicorn server (embedded SQLite) runs on a free loopback port; the browser opens the
personal link, saves a new limit, withdraws consent, and the effect is checked through the API.
Reusing the link afterwards shows the "already used" message and changes nothing. Skipped when
Chromium is not installed, except in CI (`CI=true`), where it must run.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fcsbe.server.security.pseudonyms import Pseudonymizer
from fcsbe.server.services.ev_users import access as ev_user_access
from fcsbe.server.settings import Settings
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.engine import create_engine, create_session_factory

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "phone-app.png"

if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    if IN_CI:
        pytest.fail(
            f"CI needs {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)"
        )
    pytest.skip(
        "Chromium is not installed (apt-get install -y chromium chromium-driver)",
        allow_module_level=True,
    )

from selenium import webdriver  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from tests.support.browser import (  # noqa: E402
    headless_chrome,
    loopback_listener,
    served_in_thread,
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    """The real server on a loopback port, in a thread, over an SQLite file."""
    listener = loopback_listener()
    port = int(listener.getsockname()[1])
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'app.db'}",
        data_dir=tmp_path / "var",
        simulator_enabled=False,
        workers_enabled=False,
        public_base_url=f"http://127.0.0.1:{port}",
        log_level="WARNING",
    )
    with served_in_thread(settings, listener) as url:
        yield url, settings


def _invite(settings: Settings) -> str:
    async def main() -> str:
        engine = create_engine(settings)
        try:
            async with create_session_factory(engine)() as db:
                link, _ = await ev_user_access.invite(
                    db,
                    "NL-CSP-C87654321",
                    expires_in_s=600,
                    base_url=settings.public_base_url or "",
                    pseudonyms=Pseudonymizer.load_or_create(settings.data_dir),
                    now=utcnow(),
                )
                await db.commit()
                return link.invite_url
        finally:
            await engine.dispose()

    return asyncio.run(main())


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    with headless_chrome(tmp_path / "chromium-profile", "--window-size=360,800") as driver:
        # Headless windows have a minimum width above a phone's: emulate the phone's viewport.
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", _viewport(800))
        yield driver


def _viewport(height: int) -> dict[str, object]:
    return {"width": 360, "height": height, "deviceScaleFactor": 1, "mobile": True}


def _screenshot(driver: webdriver.Chrome) -> None:
    """The whole page at 360 px wide (docs/phone-app.png)."""
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", _viewport(height))
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(SCREENSHOT))
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", _viewport(800))


def _status(driver: webdriver.Chrome, text: str) -> None:
    WebDriverWait(driver, 15).until(ec.text_to_be_present_in_element((By.ID, "status"), text))


def test_invite_limit_and_withdrawal_in_a_real_browser(
    server: tuple[str, Settings], browser: webdriver.Chrome
) -> None:
    base, settings = server
    link = _invite(settings)
    browser.get(link)
    WebDriverWait(browser, 15).until(ec.visibility_of_element_located((By.ID, "signed-in")))
    assert "#invite=" not in browser.current_url, "the code must leave the address bar"
    assert browser.execute_script("return window.innerWidth") == 360
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 360
    token = browser.execute_script("return localStorage.getItem('fcsbe-ev-user-token')")
    assert token
    assert token.startswith("fcsbe_ev_")

    # A floor above the departure target is refused, naming the field; nothing is stored.
    floor = browser.find_element(By.ID, "soc_floor_pct")
    floor.clear()
    floor.send_keys("90")
    browser.find_element(By.CSS_SELECTOR, "#limits-form button[type=submit]").click()
    _status(browser, "Not saved")
    assert floor.get_attribute("aria-invalid") == "true"
    assert "soc_floor_pct" in browser.find_element(By.ID, "soc_floor_pct-error").text
    headers = {"authorization": f"Bearer {token}"}
    assert (
        httpx.get(f"{base}/v1/ev-user/self", headers=headers).json()["limits"]["soc_floor_pct"]
        == 20.0
    )

    for field, value in (("soc_floor_pct", "30"), ("max_energy_to_grid_kwh_per_day", "12.5")):
        element = browser.find_element(By.ID, field)
        element.clear()
        element.send_keys(value)
    browser.find_element(By.CSS_SELECTOR, "#limits-form button[type=submit]").click()
    _status(browser, "Your limits are saved")
    _screenshot(browser)

    browser.find_element(By.ID, "withdraw").click()
    _status(browser, "Consent withdrawn")
    profile = httpx.get(f"{base}/v1/ev-user/self", headers=headers).json()
    assert profile["consent_level"] == "NONE"
    assert profile["limits"]["soc_floor_pct"] == 30.0
    assert profile["limits"]["max_energy_to_grid_kwh_per_day"] == 12.5

    # The link works once: opened again it says so, and the token in use keeps working.
    browser.execute_script("localStorage.clear()")
    browser.get("about:blank")  # else only the fragment changes and the page does not reload
    browser.get(link)
    _status(browser, "already used")
    assert httpx.get(f"{base}/v1/ev-user/self", headers=headers).status_code == 200
