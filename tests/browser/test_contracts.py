"""The contract lifecycle in headless Chromium, in Korean: a steward uploads a sample, edits a
column in the table, previews and submits the draft; the welfare secretariat reviews and
approves it; with screenshots of the editor and of the review page."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.select import Select

from catalog.access.principal import Role
from catalog.contract_reviews import ReviewState
from tests.api.world import OWNER, SAME_SECTOR, World
from tests.browser.conftest import Screenshot, console_errors
from tests.browser.test_flows import shown, sign_in, wait
from tests.conftest import data_file

POLICE = "welfare_safety/police_drunk_driving_detections_202207.csv"
DATASET = "drunk_driving_browser"
AGE = "운전자 나이 (만 나이, 불명은 NULL)"
TITLE = "경찰청 음주운전 적발 (월별)"


def overflow(driver: WebDriver) -> int:
    """How far the page scrolls sideways (0: it fits)."""
    return int(
        driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
    )


def test_draft_edit_submit_and_approve(page: WebDriver, site: World, screenshot: Screenshot):
    # 1. The steward uploads a sample and gets the editor: the table beside the YAML.
    sign_in(page, site, OWNER, Role.steward, then="/steward")
    page.find_element(By.CSS_SELECTOR, "#contract-links a[href='/contracts/new']").click()
    form = shown(page, "form#draft-upload")
    form.find_element(By.NAME, "dataset").send_keys(DATASET)
    Select(form.find_element(By.NAME, "cadence")).select_by_value("month")
    form.find_element(By.NAME, "file").send_keys(str(data_file(POLICE)))
    form.find_element(By.CSS_SELECTOR, "button#draft-submit").click()
    table = shown(page, "table#columns")
    assert "원본 헤더" in table.text and "나이" in table.text
    yaml = shown(page, "textarea#yaml")
    assert f"id: {DATASET}" in (yaml.get_attribute("value") or "")
    columns, text = table.rect, yaml.rect
    assert text["x"] > columns["x"] + columns["width"] - 1, "the YAML is not beside the table"

    # 2. The title and a column's description edited in the form go into the YAML on preview.
    title = page.find_element(By.CSS_SELECTOR, "form#editor input[name=title]")
    title.clear()
    title.send_keys(TITLE)
    age = next(
        row
        for row in page.find_elements(By.CSS_SELECTOR, "table#columns tbody tr")
        if row.find_element(By.CSS_SELECTOR, "td.physical-name").text == "나이"
    )
    described = age.find_element(By.CSS_SELECTOR, "textarea[name$='.description']")
    described.clear()
    described.send_keys(AGE)
    page.find_element(By.CSS_SELECTOR, "button#preview-button").click()
    assert "오류가 없습니다" in shown(page, "#preview-ok").text
    shown_yaml = shown(page, "textarea#yaml").get_attribute("value") or ""
    assert AGE in shown_yaml and f"name: {TITLE}" in shown_yaml
    assert overflow(page) <= 0, "the editor scrolls sideways"
    page.execute_script("document.querySelector('#preview').scrollIntoView({block: 'start'})")
    screenshot(page, "contract-draft-ko")
    assert console_errors(page) == []

    # 3. Submitted for review: the version page says so.
    page.find_element(By.CSS_SELECTOR, "button#submit-button").click()
    wait(page).until(ec.url_contains("done=submitted"))
    assert "검토 중" in shown(page, "#contract-state").text
    assert site.platform.contract_reviews.get(DATASET, "1.0.0").state == ReviewState.in_review
    page.delete_all_cookies()

    # 4. The welfare secretariat finds it under 검토할 계약 and approves it.
    sign_in(page, site, SAME_SECTOR, Role.secretariat, then="/contracts")
    waiting = shown(page, f"table#waiting tr#waiting-{DATASET}")
    assert "경찰청" in waiting.text
    waiting.find_element(By.CSS_SELECTOR, "a.open").click()
    shown(page, "form#approve")
    assert AGE in shown(page, "pre#contract-yaml").text
    assert "새 데이터셋의 첫 버전" in shown(page, "#changes").text
    assert overflow(page) <= 0, "the review page scrolls sideways"
    screenshot(page, "contract-review-ko")
    page.find_element(By.CSS_SELECTOR, "button#approve-button").click()
    wait(page).until(ec.url_contains("done=approved"))
    assert "승인됨(활성)" in shown(page, "#contract-state").text
    page.find_element(By.CSS_SELECTOR, f"#contract-done a[href='/datasets/{DATASET}']").click()
    wait(page).until(ec.url_contains(f"/datasets/{DATASET}"))
    assert TITLE in shown(page, "main h1").text
    assert console_errors(page) == []
