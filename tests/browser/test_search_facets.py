"""The search page's facets, marked columns and starter query in headless Chromium, on a desktop
and an upright tablet, with screenshots; the console the starter query opens waits to be run."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from catalog.access.principal import Role
from tests.api.world import OTHER_SECTOR, World
from tests.browser.conftest import DESKTOP, TABLET, Screenshot, console_errors, viewport
from tests.browser.test_flows import AIR_QUALITY, shown, sign_in, wait


def test_facets_marks_and_the_starter_query(
    page: WebDriver, site: World, screenshot: Screenshot
) -> None:
    sign_in(page, site, OTHER_SECTOR, Role.analyst, then="/search?q=서울+미세먼지")
    facets = shown(page, "aside#facets")
    assert facets.location["x"] < shown(page, "div.hits").location["x"]  # beside the hits
    hit = page.find_element(By.XPATH, f"//li[@class='dataset'][.//code[.='{AIR_QUALITY}']]")
    marks = hit.find_elements(By.CSS_SELECTOR, "table.matched-columns mark")
    assert marks and all(m.is_displayed() for m in marks)
    screenshot(page, "search-facets-ko")

    viewport(page, TABLET, touch=True)
    page.refresh()
    facets = shown(page, "aside#facets")
    assert facets.location["y"] < shown(page, "div.hits").location["y"]  # one column
    screenshot(page, "search-facets-tablet-ko")
    viewport(page, DESKTOP)

    page.get(f"{site.url}/search?q=seoul+fine+dust&lang=en")
    shown(page, "aside#facets")
    screenshot(page, "search-facets-en")
    page.get(f"{site.url}/search?q=서울+미세먼지&lang=ko")
    hit = page.find_element(By.XPATH, f"//li[@class='dataset'][.//code[.='{AIR_QUALITY}']]")
    link = hit.find_element(By.CSS_SELECTOR, "a.open-console")
    link.click()
    wait(page).until(lambda d: "/console" in d.current_url)
    editor = shown(page, "textarea#sql")
    assert AIR_QUALITY in editor.get_attribute("value")
    assert not page.find_element(By.ID, "results").is_displayed()  # filled in, not run
    assert console_errors(page) == []
    screenshot(page, "console-starter-ko")
