"""Chromium, its driver and the served app work together: the offline API docs render."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.wait import WebDriverWait

from tests.api.world import World
from tests.browser.conftest import Screenshot, console_errors


def test_api_docs_render_from_shipped_files(page: WebDriver, site: World, screenshot: Screenshot):
    page.get(f"{site.url}/docs")
    title = WebDriverWait(page, 30).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, ".swagger-ui .info .title"))
    )
    assert "Gongyu API" in title.text
    assert "/api/v1/sql" in page.find_element(By.CSS_SELECTOR, ".swagger-ui").text
    assert console_errors(page) == []  # every script and stylesheet came from the app
    screenshot(page, "api-docs")
