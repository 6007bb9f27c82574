"""Headless Chromium from Debian's packages (`chromium`, `chromium-driver`) driven by Selenium,
and the folder its screenshots are kept in as test artifacts."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from tests.api.world import World, world

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
DESKTOP = (1280, 900)
TABLET = (820, 1180)  # a 10.9" tablet held upright
ARTIFACTS = Path(
    os.environ.get("GONGYU_BROWSER_ARTIFACTS") or Path(__file__).with_name("artifacts")
)

Screenshot = Callable[[WebDriver, str], Path]


def chromium_options(lang: str = "ko-KR") -> Options:
    """Headless Chromium in a container (no sandbox, no /dev/shm), Korean first, 1280×900."""
    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
        "--force-device-scale-factor=1",
        f"--lang={lang}",
    ):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"intl.accept_languages": f"{lang},ko,en"})
    # Console messages, to catch pages that fail to load a script or a stylesheet.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return options


@pytest.fixture(scope="session")
def browser() -> Iterator[WebDriver]:
    """One headless Chromium for the session; fails (never skips) when it is not installed."""
    if os.environ.get("GONGYU_BROWSER_TESTS") == "0":
        pytest.skip("browser tests switched off by GONGYU_BROWSER_TESTS=0")
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} not found: install Debian's chromium and chromium-driver "
            "(`./dev test` does it on Debian), or set GONGYU_BROWSER_TESTS=0 to skip browser tests",
            pytrace=False,
        )
    # An explicit driver path: Selenium Manager never downloads anything (air-gapped CI).
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=chromium_options())
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def viewport(driver: WebDriver, size: tuple[int, int], *, touch: bool = False) -> None:
    """Make the page's viewport exactly `size` (the window's own size includes its frame);
    `touch` emulates a tablet (touch, mobile viewport rules)."""
    width, height = size
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": touch}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": touch})


@pytest.fixture
def page(browser: WebDriver) -> Iterator[WebDriver]:
    """The browser at desktop size with no cookies, whatever the previous test left."""
    viewport(browser, DESKTOP)
    console_errors(browser)  # read, so each test sees only its own pages' messages
    yield browser
    browser.delete_all_cookies()


@pytest.fixture(scope="session")
def screenshot() -> Screenshot:
    """Save the browser's viewport as `<artifacts>/<name>.png` and return the path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def save(driver: WebDriver, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        assert driver.save_screenshot(str(path)), f"no screenshot {path}"
        assert path.stat().st_size > 1000, f"empty screenshot {path}"
        return path

    return save


def console_errors(driver: WebDriver) -> list[str]:
    """Severe console messages since the last call (failed loads, script errors)."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The API test world (knpa's four tables, keys for every caller) served on loopback."""
    with world(tmp_path_factory.mktemp("browser")) as w:
        yield w
