"""Steward pages over HTTP on loopback: my agency's deliveries, gate reports, and the upload form
that lands a file as `gongyu deliver` does, for my agency's datasets only, audited `upload`."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from catalog.access.principal import Role
from catalog.deliveries import DeliveryState
from gongyu.delivery.way import process_delivery
from tests.api.web_session import form_token, parse, sign_in, text
from tests.api.world import OTHER_SECTOR, OWNER, World, rows, world

LIMIT = 4096  # bytes: the test tables' files (~1.4 kB) pass, a larger upload does not


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("steward"), max_delivery_bytes=LIMIT) as w:
        yield w


@pytest.fixture
def steward(served: World) -> Iterator[httpx.Client]:
    with closing(sign_in(served.url, served.keys[(OWNER, Role.steward)])) as client:
        yield client


def cases_csv(bump: int, bad_row: int | None = None) -> bytes:
    """The public test table's rows with amounts raised by `bump` (new bytes, a new delivery);
    `bad_row` gets a count that is not a number (the gate quarantines it)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["person", "sido", "n", "amount"])
    writer.writeheader()
    for i, row in enumerate(rows("public")):
        n = "열" if i == bad_row else row["n"]
        writer.writerow({**row, "n": n, "amount": row["amount"] + bump})
    return out.getvalue().encode("utf-8")


def upload(
    client: httpx.Client, dataset: str, content: bytes, name: str = "cases.csv", **form: str
) -> httpx.Response:
    token = form_token(client.get("/steward").text, "upload")
    data = {"csrf_token": token, "dataset": dataset, **form}
    return client.post("/steward/upload", data=data, files={"file": (name, content, "text/csv")})


def test_upload_lands_a_delivery(served: World, steward: httpx.Client) -> None:
    answer = upload(steward, "cases_public", cases_csv(1), name="../../지역별 사건.csv")
    assert answer.status_code == 303
    landed = served.platform.deliveries.list("cases_public")[-1]
    assert answer.headers["location"] == f"/steward?delivery={landed.delivery_id}&new=true"
    assert landed.state == DeliveryState.received and landed.filename == "지역별 사건.csv"
    stored = served.platform.landing.path(landed.landing_key)
    assert stored.read_bytes() == cases_csv(1)
    page = parse(steward.get(answer.headers["location"]).text)
    assert landed.delivery_id in text(page.find(".//p[@id='landed']"))
    row = page.find(f".//tr[@id='delivery-{landed.delivery_id}']")
    assert row is not None and row.get("class") == "state-received"
    (record,) = [
        r for r in served.platform.audit.records(agency=OWNER, limit=20) if r.kind == "upload"
    ]
    assert record.datasets == ("cases_public",) and record.outcome == "ok"
    assert record.statement.endswith(f"as delivery {landed.delivery_id}")
    # The same bytes again are recognised, as `gongyu deliver` recognises them.
    again = upload(steward, "cases_public", cases_csv(1))
    assert again.headers["location"].endswith(f"delivery={landed.delivery_id}&new=false")


def test_a_quarantine_report_is_shown_to_its_agency_only(served: World, steward) -> None:
    upload(steward, "cases_sector", cases_csv(2, bad_row=3), name="broken.csv")
    landed = served.platform.deliveries.list("cases_sector")[-1]
    assert not process_delivery(served.platform, landed.delivery_id).published
    listing = parse(steward.get("/steward").text)
    row = listing.find(f".//tr[@id='delivery-{landed.delivery_id}']")
    assert row.get("class") == "state-quarantined"
    # The list words the reason in the page's language too.
    assert "정수로 읽을 수 없습니다" in text(row.find(".//td[@class='prose reasons']"))
    english_list = parse(steward.get("/steward?lang=en").text)
    row = english_list.find(f".//tr[@id='delivery-{landed.delivery_id}']")
    assert "is not a whole number" in text(row.find(".//td[@class='prose reasons']"))
    steward.get("/steward?lang=ko")
    report = steward.get(f"/steward/deliveries/{landed.delivery_id}")
    assert report.status_code == 200
    page = parse(report.text)
    # The raw text report stays on the page, folded away under the findings.
    shown = text(page.find(".//details/pre[@id='report']"))
    written = served.platform.results.path(f"cases_sector/{landed.delivery_id}/report.txt")
    assert shown == " ".join(written.read_text(encoding="utf-8").split())
    assert "열" in shown
    # In Korean by default: the reason, then each finding with its fix and the rows at fault.
    (reason,) = [text(li) for li in page.iterfind(".//ul[@id='reasons']/li")]
    assert (
        reason
        == "5행 'n' 열의 값 '열'을(를) 정수로 읽을 수 없습니다. 이 값은 빈 값으로 처리했습니다."
    )
    finding = page.find(".//ol[@id='findings']/li")
    assert "단위나 소수점 없이 정수로 고쳐 다시 제출하세요" in text(
        finding.find(".//p[@class='fix']")
    )
    assert [text(td) for td in finding.iterfind(".//tbody/tr/td")] == ["5", "n = 열"]
    english = parse(steward.get(f"/steward/deliveries/{landed.delivery_id}?lang=en").text)
    (reason,) = [text(li) for li in english.iterfind(".//ul[@id='reasons']/li")]
    assert (
        reason == "row 5: the value '열' in column 'n' is not a whole number; it was read as null"
    )
    with closing(sign_in(served.url, served.keys[(OTHER_SECTOR, Role.steward)])) as other:
        assert other.get(f"/steward/deliveries/{landed.delivery_id}").status_code == 404
        assert landed.delivery_id not in other.get("/steward").text


def test_upload_is_refused_for_another_agencys_dataset(served: World) -> None:
    before = len(served.platform.deliveries.list("cases_public"))
    with closing(sign_in(served.url, served.keys[(OTHER_SECTOR, Role.steward)])) as other:
        options = parse(other.get("/steward").text).iterfind(".//select[@name='dataset']/option")
        assert "cases_public" not in {o.attrib["value"] for o in options}
        answer = upload(other, "cases_public", cases_csv(3))
        assert answer.status_code == 403
    assert len(served.platform.deliveries.list("cases_public")) == before
    (record,) = [
        r
        for r in served.platform.audit.records(agency=OTHER_SECTOR, limit=20)
        if r.kind == "upload"
    ]
    assert record.outcome == "denied" and record.datasets == ("cases_public",)


def test_upload_needs_the_forms_token(served: World, steward: httpx.Client) -> None:
    before = len(served.platform.deliveries.list("cases_public"))
    for token in ({}, {"csrf_token": "forged"}):
        answer = steward.post(
            "/steward/upload",
            data={"dataset": "cases_public", **token},
            files={"file": ("x.csv", cases_csv(4), "text/csv")},
        )
        assert answer.status_code == 403
    assert len(served.platform.deliveries.list("cases_public")) == before


@pytest.mark.parametrize("role", [Role.analyst, Role.secretariat, Role.operator])
def test_steward_pages_are_for_stewards(served: World, role: Role) -> None:
    with closing(sign_in(served.url, served.keys[(OWNER, role)])) as client:
        assert client.get("/steward").status_code == 403
        nav = {a.attrib["href"] for a in parse(client.get("/").text).iterfind(".//nav/a")}
        assert "/steward" not in nav
        token = form_token(client.get("/").text, "signout")  # a valid session token
        answer = client.post(
            "/steward/upload",
            data={"csrf_token": token, "dataset": "cases_public"},
            files={"file": ("x.csv", cases_csv(5), "text/csv")},
        )
        assert answer.status_code == 403


def test_a_file_over_the_limit_is_refused(served: World, steward: httpx.Client) -> None:
    before = len(served.platform.deliveries.list("cases_public"))
    over = cases_csv(6) * 4  # over LIMIT, under LIMIT + the form's allowance: copied, then refused
    answer = upload(steward, "cases_public", over)
    assert answer.status_code == 413
    assert "GONGYU_MAX_DELIVERY_BYTES" in text(parse(answer.text).find(".//p[@id='upload-error']"))
    far_over = b"x" * (LIMIT + 128 * 1024)  # refused from its Content-Length, before reading
    assert upload(steward, "cases_public", far_over).status_code == 413
    assert len(served.platform.deliveries.list("cases_public")) == before


def test_a_missing_file_is_asked_for(steward: httpx.Client) -> None:
    token = form_token(steward.get("/steward").text, "upload")
    answer = steward.post(
        "/steward/upload",
        data={"csrf_token": token, "dataset": "cases_public"},
        files={"file": ("", b"", "application/octet-stream")},
    )
    assert answer.status_code == 400
    assert parse(answer.text).find(".//p[@id='upload-error']") is not None


def test_upload_form_offers_my_datasets(served: World, steward: httpx.Client) -> None:
    page = parse(steward.get("/steward").text)
    offered = {o.attrib["value"] for o in page.iterfind(".//form[@id='upload']//option")}
    mine = {c.id for c in served.platform.contracts.values() if c.agency == OWNER}
    assert offered == mine
    assert page.find(".//form[@id='upload']//input[@type='file'][@name='file']") is not None
    assert Path(page.find(".//form[@id='upload']").attrib["action"]).as_posix() == "/steward/upload"


def test_the_page_follows_a_delivery_until_it_ends(served: World, steward: httpx.Client) -> None:
    upload(steward, "cases_restricted", cases_csv(3))
    landed = served.platform.deliveries.list("cases_restricted")[-1]

    def refresh() -> list[str]:
        page = parse(steward.get("/steward").text)
        return [m.get("content", "") for m in page.iterfind(".//meta[@http-equiv='refresh']")]

    assert refresh() == ["5"]  # received: the page reloads itself
    process_delivery(served.platform, landed.delivery_id)
    for other in served.platform.deliveries.list():  # earlier tests' deliveries too
        if other.agency == OWNER and other.state == DeliveryState.received:
            process_delivery(served.platform, other.delivery_id)
    assert refresh() == []  # every delivery ended: the page stays put
