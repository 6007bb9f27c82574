"""The operator's console in headless Chromium: an operator signs in with their key, opens the
tokens page and revokes an analyst's token; the next API call with that token gets 401, and
the audit log names the operator who did it."""

from __future__ import annotations

import httpx
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.wait import WebDriverWait

from catalog.access.principal import Role
from tests.api.world import OTHER_SECTOR, OWNER, World
from tests.browser.conftest import Screenshot, console_errors


def shown(driver: WebDriver, css: str) -> WebElement:
    """The element once it is visible."""
    return WebDriverWait(driver, 30).until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def test_the_console_revokes_a_token(page: WebDriver, site: World, screenshot: Screenshot):
    key, token = site.platform.keys.create(OTHER_SECTOR, Role.analyst, "analyst laptop")
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{site.url}/api/v1/catalog", headers=bearer).status_code == 200

    page.get(f"{site.url}/admin/tokens")
    form = shown(page, "form#signin")  # the console sends a stranger to sign in first
    form.find_element(By.NAME, "credential").send_keys(site.keys[(OWNER, Role.operator)])
    form.submit()
    WebDriverWait(page, 30).until(ec.url_contains("/admin/tokens"))
    assert shown(page, "a#nav-admin").get_attribute("aria-current") == "page"
    row = shown(page, f"tr#token-{key.key_id}")
    assert "analyst laptop" in row.text
    screenshot(page, "admin-tokens-ko")

    row.find_element(By.CSS_SELECTOR, "form.revoke-token button").click()
    assert shown(page, "#admin-done").text
    row = shown(page, f"tr#token-{key.key_id}")
    assert row.find_elements(By.CSS_SELECTOR, "form.revoke-token") == []
    assert httpx.get(f"{site.url}/api/v1/catalog", headers=bearer).status_code == 401
    screenshot(page, "admin-token-revoked-ko")

    operator = site.platform.keys.verify(site.keys[(OWNER, Role.operator)])
    assert operator is not None
    acts = site.platform.audit.records(kind="admin", person=operator.person, limit=5)
    revoked = f"POST /admin/tokens/{key.key_id}/revoke revoked token {key.key_id}"
    assert any(r.statement.startswith(revoked) for r in acts)

    page.get(f"{site.url}/admin/audit?person={operator.person}")
    assert operator.person in shown(page, "table#audit tbody tr td.person").text
    assert console_errors(page) == []
    screenshot(page, "admin-audit-ko")
