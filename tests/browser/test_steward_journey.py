"""The whole steward's loop in headless Chromium, in Korean, over a real `gongyu serve` with its
delivery worker: the police steward registers a new dataset from a sample, the welfare
secretariat approves its contract, the steward uploads the month's file and sees it published
within the issue's bound, then uploads a broken file and reads why it was quarantined.

The bound is timed from the upload button's click to the steward page showing 발행, through the
page's own reload (every 5 s while a delivery is under way), as the steward would see it."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from catalog.access.principal import Role
from catalog.deliveries import DeliveryState
from tests.api.deliveries.test_steward_loop import group
from tests.api.served_process import Process, served_process
from tests.api.world import OWNER, SAME_SECTOR
from tests.browser.conftest import Screenshot, console_errors
from tests.browser.test_flows import shown, sign_in, wait
from tests.conftest import data_file

POLICE = "welfare_safety/police_drunk_driving_detections_202207.csv"  # UTF-16, tabs, CRLF
DATASET = "drunk_driving_loop"
TITLE = "경찰청 음주운전 적발 (월별, 공유 루프)"
BOUND_SECONDS = 10.0  # issue 16: upload → published, as the steward sees it
HANGUL = re.compile("[\uac00-\ud7a3]")


def sign_out(driver: WebDriver) -> None:
    """Sign out with the header's button; lands on the sign-in page."""
    driver.find_element(By.CSS_SELECTOR, "form#signout button[type=submit]").click()
    shown(driver, "form#signin")


def worker_ready(root: Path, seconds: float = 120) -> None:
    """Wait for serve's delivery worker to say it is warm (imports, suite, Definitions done)."""
    log = root / "server.log"
    deadline = time.monotonic() + seconds
    while "delivery worker ready" not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"no worker: {log.read_text(errors='replace')[-2000:]}"
        time.sleep(0.2)


def broken(src: Path, dst: Path) -> Path:
    """The police file (UTF-16 with BOM, tab-separated, CRLF) with the detection count (an
    integer column) of its 5th record replaced by words."""
    lines = src.read_bytes().decode("utf-16").split("\r\n")
    header = lines[0].split("\t")
    cells = lines[5].split("\t")
    cells[header.index("적발횟수")] = "두 번"
    lines[5] = "\t".join(cells)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes("\r\n".join(lines).encode("utf-16"))  # BOM first, as in the source
    return dst


def upload(driver: WebDriver, file: Path) -> tuple[str, float]:
    """Upload `file` for DATASET from the steward page; the delivery's id and when the button
    was clicked (monotonic)."""
    form = shown(driver, "form#upload")
    Select(form.find_element(By.NAME, "dataset")).select_by_value(DATASET)
    form.find_element(By.NAME, "file").send_keys(str(file))
    clicked = time.monotonic()
    form.find_element(By.CSS_SELECTOR, "button#upload-submit").click()
    wait(driver).until(ec.url_contains("delivery="))
    assert DATASET in shown(driver, "#landed").text
    (delivery_id,) = parse_qs(urlparse(driver.current_url).query)["delivery"]
    return delivery_id, clicked


def until_state(driver: WebDriver, delivery_id: str, state: DeliveryState) -> None:
    """Wait, never reloading, for the steward page's own refresh to show the delivery in
    `state` (or any end state: a wrong end fails at once, not after the timeout)."""
    ends = {f"state-{DeliveryState.published}", f"state-{DeliveryState.quarantined}"}

    def shows_end(d: WebDriver) -> str | None:
        row = d.find_element(By.CSS_SELECTOR, f"#delivery-{delivery_id}")
        css = row.get_attribute("class")
        return css if css in ends else None

    ended = WebDriverWait(
        driver,
        90,  # generous: a loaded machine is timed, not failed, here; the bound is asserted after
        poll_frequency=0.1,
        ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
    ).until(shows_end)
    assert ended == f"state-{state}", driver.find_element(By.ID, f"delivery-{delivery_id}").text


def ledger_seconds(w: Process, delivery_id: str, clicked_at: datetime) -> float:
    """Seconds from the click to the ledger's last change of the delivery (its end); the ledger
    keeps UTC, read back naive from SQLite."""
    ended = w.platform.deliveries.get(delivery_id).updated_at
    return (ended.replace(tzinfo=ended.tzinfo or UTC) - clicked_at).total_seconds()


@pytest.mark.slow
def test_register_upload_publish_and_read_a_quarantine(
    page: WebDriver, screenshot: Screenshot, tmp_path: Path
) -> None:
    police = data_file(POLICE)
    bad = broken(police, tmp_path / "upload" / "drunk_driving_202207_bad.csv")
    with served_process(tmp_path / "serve", worker=True) as w:
        # 1. knpa's steward drafts a contract from the file and submits it for review.
        sign_in(page, w, OWNER, Role.steward, then="/steward")
        page.find_element(By.CSS_SELECTOR, "#contract-links a[href='/contracts/new']").click()
        form = shown(page, "form#draft-upload")
        form.find_element(By.NAME, "dataset").send_keys(DATASET)
        Select(form.find_element(By.NAME, "cadence")).select_by_value("month")
        form.find_element(By.NAME, "file").send_keys(str(police))
        form.find_element(By.CSS_SELECTOR, "button#draft-submit").click()
        assert "적발횟수" in shown(page, "table#columns").text
        title = page.find_element(By.CSS_SELECTOR, "form#editor input[name=title]")
        title.clear()
        title.send_keys(TITLE)
        page.find_element(By.CSS_SELECTOR, "button#submit-button").click()
        wait(page).until(ec.url_contains("done=submitted"))
        assert "검토 중" in shown(page, "#contract-state").text
        assert console_errors(page) == []
        sign_out(page)

        # 2. The welfare secretariat approves it.
        sign_in(page, w, SAME_SECTOR, Role.secretariat, then="/contracts")
        shown(page, f"table#waiting tr#waiting-{DATASET} a.open").click()
        shown(page, "form#approve")
        page.find_element(By.CSS_SELECTOR, "button#approve-button").click()
        wait(page).until(ec.url_contains("done=approved"))
        assert "승인됨(활성)" in shown(page, "#contract-state").text
        assert console_errors(page) == []
        sign_out(page)

        # 3. The steward uploads the month's file: published within the bound, unasked.
        sign_in(page, w, OWNER, Role.steward, then="/steward")
        worker_ready(tmp_path / "serve")  # serve's start is not the loop's: the bench skips it
        clicked_at = datetime.now(UTC)
        delivery_id, clicked = upload(page, police)
        until_state(page, delivery_id, DeliveryState.published)
        on_page = time.monotonic() - clicked
        in_ledger = ledger_seconds(w, delivery_id, clicked_at)
        print(f"\nupload → published: ledger {in_ledger:.1f} s, on the page {on_page:.1f} s")
        row = shown(page, f"#delivery-{delivery_id}")
        assert "발행" in row.text and "12,021" in row.text, row.text
        assert on_page <= BOUND_SECONDS, (
            f"published on the page {on_page:.1f} s after the click (the ledger: {in_ledger:.1f} s)"
            f", over the {BOUND_SECONDS:.0f} s bound"
        )
        screenshot(page, "steward-loop-published-ko")
        assert console_errors(page) == []

        # 4. A broken file is quarantined; its report says why, in Korean.
        delivery_id, clicked = upload(page, bad)
        until_state(page, delivery_id, DeliveryState.quarantined)
        print(f"upload → quarantined, on the page: {time.monotonic() - clicked:.1f} s")
        page.find_element(By.CSS_SELECTOR, f"#delivery-{delivery_id} a.report").click()
        wait(page).until(ec.url_contains(f"/steward/deliveries/{delivery_id}"))
        assert "격리" in shown(page, "dl.facts").text
        reasons = [li.text for li in shown(page, "ul#reasons").find_elements(By.TAG_NAME, "li")]
        findings = [
            p.text for p in shown(page, "ol#findings").find_elements(By.CSS_SELECTOR, "p.what")
        ]
        assert reasons and findings
        for said in reasons + findings:
            assert HANGUL.search(said), f"not in Korean: {said!r}"
        blocking = " ".join(reasons)
        assert "적발횟수" in blocking or "detection_count" in blocking, blocking
        assert "두 번" in shown(page, "ol#findings").text  # the offending value, as a sample
        assert "Traceback" not in page.page_source
        page.execute_script("document.querySelector('#reasons').scrollIntoView({block: 'start'})")
        screenshot(page, "steward-loop-quarantine-ko")
        assert console_errors(page) == []
        sign_out(page)
        proc = w.proc
    assert proc is not None and proc.poll() is not None, "gongyu serve is still running"
    assert group(proc.pid) == [], "serve left its API or worker running"
    log = (tmp_path / "serve" / "server.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
