"""The catalog's main flows in headless Chromium: sign in, search in Korean and English, open a
dataset, run a query in the console, upload a delivery, switch to English; with screenshots."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from api.auth import SESSION_COOKIE
from catalog.access.principal import Role
from catalog.deliveries import DeliveryState
from gongyu.delivery.way import process_delivery
from tests.api.world import OTHER_SECTOR, OWNER, World, rows, table
from tests.browser.conftest import TABLET, Screenshot, console_errors, viewport

AIR_QUALITY = "seoul_daily_air_quality"
INSPECTION = "kotsa_car_inspection_centers"


def wait(driver: WebDriver, seconds: float = 30) -> WebDriverWait:
    """Waits for what a page shows after a load or a script."""
    return WebDriverWait(driver, seconds)


def shown(driver: WebDriver, css: str) -> WebElement:
    """The element once it is visible."""
    return wait(driver).until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def sign_in(driver: WebDriver, site: World, agency: str, role: Role, then: str = "/") -> None:
    """Sign in through the form with the caller's API key; lands on `then`."""
    driver.get(f"{site.url}{then}")
    form = shown(driver, "form#signin")  # any page sends a stranger to sign in first
    form.find_element(By.NAME, "credential").send_keys(site.keys[(agency, role)])
    form.submit()
    wait(driver).until(lambda d: "/signin" not in d.current_url)
    shown(driver, "header .who")


def search(driver: WebDriver, words: str) -> list[str]:
    """Search through the form; the ids of the datasets found."""
    box = shown(driver, "form#search input[name=q]")
    box.clear()
    box.send_keys(words)
    box.submit()
    wait(driver).until(ec.url_contains("q="))
    shown(driver, "#found")
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, "li.dataset code.id")]


def test_sign_in_with_an_api_key(page: WebDriver, site: World, screenshot: Screenshot) -> None:
    page.get(f"{site.url}/")
    form = shown(page, "form#signin")
    assert "/signin" in page.current_url
    form.find_element(By.NAME, "credential").send_keys("gyk_not_a_key")
    form.submit()
    assert shown(page, "#signin-error").text
    assert [e.split(" - ")[-1] for e in console_errors(page)] == [
        "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
    ]
    screenshot(page, "signin-refused-ko")

    sign_in(page, site, OWNER, Role.steward)
    assert page.find_element(By.CSS_SELECTOR, "html").get_attribute("lang") == "ko"
    cookie = page.get_cookie(SESSION_COOKIE)
    assert cookie and cookie["httpOnly"], "the session cookie must be HttpOnly"
    assert SESSION_COOKIE not in page.execute_script("return document.cookie")
    assert console_errors(page) == []
    screenshot(page, "home-ko")


def test_search_in_korean_and_english(page: WebDriver, site: World, screenshot: Screenshot):
    sign_in(page, site, OTHER_SECTOR, Role.analyst, then="/search")
    assert AIR_QUALITY in search(page, "미세먼지")
    screenshot(page, "search-ko")
    assert AIR_QUALITY in search(page, "미세")  # part of a word
    assert INSPECTION in search(page, "inspection")
    assert console_errors(page) == []


def test_open_a_dataset(page: WebDriver, site: World, screenshot: Screenshot) -> None:
    sign_in(page, site, OTHER_SECTOR, Role.analyst, then="/search")
    assert "cases_public" in search(page, "cases")
    page.find_element(By.CSS_SELECTOR, 'a.dataset-title[href="/datasets/cases_public"]').click()
    wait(page).until(ec.url_contains("/datasets/cases_public"))
    assert "cases at public" in shown(page, "main h1").text
    assert console_errors(page) == []
    screenshot(page, "dataset-ko")
    viewport(page, TABLET, touch=True)
    page.refresh()
    shown(page, "main h1")
    overflow = page.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, "the dataset page scrolls sideways on a tablet"
    screenshot(page, "dataset-tablet-ko")


def test_open_a_dataset_found_in_korean(page: WebDriver, site: World) -> None:
    # Seoul's air quality has a contract but no delivery in this world: its page must still show.
    sign_in(page, site, OTHER_SECTOR, Role.analyst, then="/search")
    search(page, "미세먼지")
    page.find_element(By.CSS_SELECTOR, f'a.dataset-title[href="/datasets/{AIR_QUALITY}"]').click()
    wait(page).until(ec.url_contains(f"/datasets/{AIR_QUALITY}"))
    assert "대기" in shown(page, "main h1").text
    assert console_errors(page) == []


def test_run_a_query_in_the_console(page: WebDriver, site: World, screenshot: Screenshot):
    sign_in(page, site, OTHER_SECTOR, Role.analyst, then="/console")
    sql = shown(page, "form#console textarea[name=sql]")
    sql.clear()
    sql.send_keys(f"SELECT sido, n FROM {table('public')} ORDER BY n LIMIT 5")
    page.find_element(By.CSS_SELECTOR, "form#console button[type=submit]").click()
    results = shown(page, "table#results")
    wait(page).until(lambda d: len(results.find_elements(By.CSS_SELECTOR, "tbody tr")) == 5)
    header = [th.text for th in results.find_elements(By.CSS_SELECTOR, "thead th")]
    assert header == ["sido", "n"]
    first = [td.text for td in results.find_elements(By.CSS_SELECTOR, "tbody tr:first-child td")]
    assert first == ["서울", "1"]
    assert console_errors(page) == []
    screenshot(page, "console-ko")


def test_upload_a_delivery(
    page: WebDriver, site: World, screenshot: Screenshot, tmp_path: Path
) -> None:
    upload = tmp_path / "cases_public_resent.csv"
    with upload.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["person", "sido", "n", "amount"])
        writer.writeheader()
        writer.writerows({**r, "amount": r["amount"] + 1} for r in rows("public"))
    sign_in(page, site, OWNER, Role.steward, then="/steward")
    form = shown(page, "form#upload")
    Select(form.find_element(By.NAME, "dataset")).select_by_value("cases_public")
    form.find_element(By.NAME, "file").send_keys(str(upload))
    form.submit()
    assert "cases_public" in shown(page, "#landed").text
    (delivery,) = [
        d for d in site.platform.deliveries.list("cases_public") if d.filename == upload.name
    ]
    row = shown(page, f"#delivery-{delivery.delivery_id}")
    assert row.get_attribute("class") == f"state-{DeliveryState.received}"
    screenshot(page, "steward-upload-ko")

    # The landed file goes the way of any delivery: the gate runs and the page shows the end.
    assert process_delivery(site.platform, delivery.delivery_id).published
    page.refresh()
    row = shown(page, f"#delivery-{delivery.delivery_id}")
    assert row.get_attribute("class") == f"state-{DeliveryState.published}"
    assert console_errors(page) == []


@pytest.mark.parametrize("start", ["/", "/search?q=air"])
def test_switch_to_english(page: WebDriver, site: World, screenshot: Screenshot, start: str):
    sign_in(page, site, OTHER_SECTOR, Role.analyst, then=start)
    korean = shown(page, "main h1").text
    page.find_element(By.CSS_SELECTOR, "a.lang-en").click()
    wait(page).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "html").get_attribute("lang") == "en"
    )
    assert shown(page, "main h1").text != korean
    name = "home-en" if start == "/" else "search-en"
    screenshot(page, name)
    page.get(f"{site.url}{start}")  # the choice is remembered
    assert page.find_element(By.CSS_SELECTOR, "html").get_attribute("lang") == "en"
    page.find_element(By.CSS_SELECTOR, "a.lang-ko").click()
    wait(page).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "html").get_attribute("lang") == "ko"
    )
