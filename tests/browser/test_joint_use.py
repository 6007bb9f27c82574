"""Joint use in headless Chromium: an analyst of another agency asks for a restricted dataset
from its page, the owner's steward approves it from the inbox, the sector's secretariat reads
the board; with screenshots of each page in Korean."""

from __future__ import annotations

from datetime import timedelta

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.select import Select

from catalog.access.grants import korean_today
from catalog.access.principal import Principal, Role
from catalog.access.requests import LegalBasis, RequestState
from tests.api.world import OTHER_SECTOR, OWNER, SAME_SECTOR, World, table
from tests.browser.conftest import DESKTOP, TABLET, Screenshot, console_errors, viewport
from tests.browser.test_flows import shown, sign_in, wait

DATASET = "cases_restricted"
PURPOSE = "2025년 지역별 교통안전 정책 효과 분석 (시·도별 통계 작성)"


def principal(agency: str, role: Role) -> Principal:
    return Principal(subject=f"{agency}-{role.value}", agency=agency, role=role, via="api_key")


def a_denied_request(site: World) -> None:
    """Another agency's earlier request, denied with a reason (the board shows denials)."""
    platform = site.platform
    made = platform.requests.create(
        principal(SAME_SECTOR, Role.analyst),
        platform.contract(DATASET),
        purpose="건강보험 연계 연구",
        legal_basis=LegalBasis.consent,
        columns=("amount",),
    )
    platform.requests.deny(
        principal(OWNER, Role.steward),
        made.request_id,
        "정보주체 동의서 사본이 없습니다. 동의 범위를 확인할 수 있게 다시 신청해 주십시오.",
    )


def scroll_to(driver: WebDriver, css: str) -> None:
    driver.execute_script(
        "document.querySelector(arguments[0]).scrollIntoView({block: 'start'})", css
    )


def test_request_decide_and_see_the_board(page: WebDriver, site: World, screenshot: Screenshot):
    a_denied_request(site)

    # 1. An analyst of another sector's agency asks from the dataset page.
    sign_in(page, site, OTHER_SECTOR, Role.analyst, then=f"/datasets/{DATASET}")
    page.find_element(By.CSS_SELECTOR, "a#go-request").click()
    form = shown(page, "form#ask")
    form.find_element(By.NAME, "purpose").send_keys(PURPOSE)
    basis = Select(form.find_element(By.NAME, "legal_basis"))
    assert [o.text for o in basis.options][3] == "소관 업무 수행"
    basis.select_by_value("pseudonymised_research")
    form.find_element(By.CSS_SELECTOR, "input[name=columns][value=amount]").click()
    form.find_element(By.NAME, "row_filter").send_keys("sido = '서울'")
    until = form.find_element(By.NAME, "until")
    assert until.get_attribute("max") == str(korean_today() + timedelta(days=365))
    scroll_to(page, "section#request")
    screenshot(page, "request-form-ko")
    page.find_element(By.CSS_SELECTOR, "button#ask-submit").click()
    assert "이용 신청을 보냈습니다" in shown(page, "#request-done").text
    request_id = page.current_url.split("?")[0].rsplit("/", 1)[1]
    assert site.platform.requests.get(request_id).state == RequestState.pending
    assert console_errors(page) == []
    page.delete_all_cookies()

    # 2. The owner's steward finds it in the inbox and approves it as asked.
    sign_in(page, site, OWNER, Role.steward, then="/requests")
    item = shown(page, f"#inbox-{request_id}")
    assert "한국교통안전공단" in item.text and PURPOSE in item.text
    screenshot(page, "requests-inbox-ko")
    viewport(page, TABLET, touch=True)
    page.refresh()
    shown(page, f"#inbox-{request_id}")
    overflow = page.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, "the requests page scrolls sideways on a tablet"
    screenshot(page, "requests-inbox-tablet-ko")
    viewport(page, DESKTOP)
    item = shown(page, f"#inbox-{request_id}")
    item.find_element(By.CSS_SELECTOR, "form.approve button[type=submit]").click()
    wait(page).until(ec.url_contains("done=approved"))
    assert request_id in shown(page, "#request-done").text
    found = site.platform.requests.get(request_id)
    assert found.state == RequestState.approved and found.grant_id
    assert console_errors(page) == []
    page.delete_all_cookies()

    # The grantee reads what it was granted; another agency waits for a decision elsewhere.
    for _ in range(3):
        assert site.sql(OTHER_SECTOR, f"SELECT sido, amount FROM {table('restricted')}").is_success
    site.platform.requests.create(
        principal(OTHER_SECTOR, Role.steward),
        site.platform.contract("cases_sector"),
        purpose="시·도별 사건 통계",
        legal_basis=LegalBasis.public_task,
    )

    # 3. The welfare sector's secretariat sees who uses whose data, and the denial's reason.
    sign_in(page, site, SAME_SECTOR, Role.secretariat, then="/joint-use")
    matrix = shown(page, "table#matrix")
    assert "경찰청" in matrix.text and "한국교통안전공단" in matrix.text
    assert "정보주체 동의서 사본이 없습니다" in shown(page, "table#denials").text
    assert "cases at sector" in shown(page, "table#waiting").text
    screenshot(page, "joint-use-ko")
    assert console_errors(page) == []
