"""The contract pages over HTTP on loopback, with real sessions: a steward drafts a contract from
a real file, edits a column in the table, previews and submits it; the welfare secretariat
approves it from 검토할 계약 and the dataset exists at once; a rejection needs a reason the
steward then reads; a draft is saved and sent later; breaking changes show in the preview;
viewers of other sectors see nothing; English with `?lang=en`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from xml.etree.ElementTree import Element

import httpx
import pytest

from catalog.access.principal import Role
from catalog.contract_reviews import ReviewError, ReviewState
from contracts.loader import parse_contract
from tests.api.web_session import form_token, parse, sign_in, table, text
from tests.api.world import OTHER_SECTOR, OWNER, SAME_SECTOR, World, world
from tests.conftest import data_file

POLICE = "welfare_safety/police_drunk_driving_detections_202207.csv"
SECRETARIAT = SAME_SECTOR  # nhis leads the welfare sector
AGE = "운전자 나이 (만 나이, 불명은 NULL)"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("web-contracts")) as w:
        yield w


@pytest.fixture(scope="module")
def clients(served: World) -> Iterator[dict[tuple[str, Role], httpx.Client]]:
    """A signed-in browser-like client per (agency, role) the tests use."""
    made = {
        who: sign_in(served.url, served.keys[who])
        for who in [
            (OWNER, Role.steward),
            (OWNER, Role.analyst),
            (SECRETARIAT, Role.secretariat),
            (OTHER_SECTOR, Role.analyst),
            (OTHER_SECTOR, Role.steward),
        ]
    }
    yield made
    for client in made.values():
        client.close()


def form_values(page: Element, form_id: str) -> dict[str, str]:
    """What a browser would post from the form, its buttons left out."""
    form = page.find(f".//form[@id='{form_id}']")
    assert form is not None, f"no form #{form_id}"
    values: dict[str, str] = {}
    for field in form.iter():
        name = field.get("name")
        if not name or field.tag == "button":
            continue
        if field.tag == "input" and field.get("type") == "checkbox":
            if field.get("checked") is not None:
                values[name] = field.get("value") or "on"
        elif field.tag == "input":
            values[name] = field.get("value", "")
        elif field.tag == "select":
            chosen = field.find("./option[@selected]")
            chosen = chosen if chosen is not None else field.find("./option")
            values[name] = chosen.get("value", "") if chosen is not None else ""
        elif field.tag == "textarea":
            values[name] = field.text or ""
    return values


def draft(client: httpx.Client, dataset: str, sector: str = "welfare_safety") -> httpx.Response:
    """Upload the police sample at /contracts/new."""
    path = data_file(POLICE)
    token = form_token(client.get("/contracts/new").text, "draft-upload")
    fields = {"csrf_token": token, "dataset": dataset, "sector": sector, "cadence": "month"}
    with path.open("rb") as f:
        return client.post(
            "/contracts/new", data=fields, files={"file": (path.name, f, "text/csv")}
        )


def column(page: Element, physical: str) -> int:
    """The editor's row index of the column read from the source header `physical`."""
    for row in page.iterfind(".//table[@id='columns']/tbody/tr"):
        if text(row.find("./td[@class='physical-name']")) == physical:
            return int(row.attrib["id"].removeprefix("col-"))
    raise AssertionError(f"no row for {physical}")


def press(client: httpx.Client, html: str, action: str, **changes: str) -> httpx.Response:
    """Post the editor with `changes` made to its fields, as the button `action` does."""
    values = form_values(parse(html), "editor") | changes | {"action": action}
    return client.post("/contracts/edit", data=values)


def post_step(client: httpx.Client, href: str, form_id: str, **fields: str) -> httpx.Response:
    """Post one of a version page's forms with the page's own token."""
    token = form_token(client.get(href).text, form_id)
    step = {"approve": "approve", "reject": "reject", "send": "submit"}[form_id]
    return client.post(f"{href}/{step}", data={"csrf_token": token, **fields})


def audited(served: World, agency: str, statement: str) -> tuple[str, ...]:
    """The datasets of the newest audit record of `statement` (written just after the page)."""
    deadline = time.monotonic() + 5
    while True:
        for record in served.platform.audit.records(agency=agency, limit=50):
            if record.statement == statement:
                return record.datasets
        assert time.monotonic() < deadline, f"no audit record {statement}"
        time.sleep(0.01)


def test_draft_edit_submit_and_approve(served: World, clients) -> None:
    steward, dataset = clients[(OWNER, Role.steward)], "drunk_pages"
    drafted = draft(steward, dataset)
    assert drafted.status_code == 200, drafted.text[:3000]
    page = parse(drafted.text)
    header, rows = table(page, "columns")
    assert header[:3] == ["레이크하우스 열 이름", "원본 헤더", "형식"]
    assert len(rows) == 6 and rows[2][1] == "나이"
    age = column(page, "나이")
    chosen = page.find(f".//select[@name='c{age}.classification']/option[@selected]")
    assert chosen is not None and chosen.attrib["value"] == "quasi_identifier"
    assert "추정: a person's attribute" in text(page.find(f".//tr[@id='col-{age}']"))
    shown_yaml = text(page.find(".//textarea[@id='yaml']"))
    assert f"id: {dataset}" in shown_yaml and "# suggested:" in shown_yaml

    previewed = press(steward, drafted.text, "preview", **{f"c{age}.description": AGE})
    assert previewed.status_code == 200
    page = parse(previewed.text)
    assert page.find(".//*[@id='preview-errors']") is None
    assert "오류가 없습니다" in text(page.find(".//*[@id='preview-ok']"))
    assert AGE in (page.find(".//textarea[@id='yaml']").text or "")
    assert page.find(f".//textarea[@name='c{age}.description']").text == AGE
    # The drafter's notes stay beside the table after the YAML is written anew.
    assert "추정: a person's attribute" in text(page.find(f".//tr[@id='col-{age}']"))

    submitted = press(steward, previewed.text, "submit")
    assert submitted.status_code == 303, submitted.text[:3000]
    href = f"/contracts/{dataset}/versions/1.0.0"
    assert submitted.headers["location"] == f"{href}?done=submitted"
    stored = served.platform.contract_reviews.get(dataset, "1.0.0")
    assert stored.state == ReviewState.in_review
    assert parse_contract(stored.yaml, Path("c.yaml")).column("age").description == AGE
    mine = parse(steward.get("/contracts").text)
    row = mine.find(f".//tr[@id='mine-{dataset}-1.0.0']")
    assert row is not None and "검토 중" in text(row)
    own_view = parse(steward.get(submitted.headers["location"]).text)
    assert "검토를 요청했습니다" in text(own_view.find(".//*[@id='contract-done']"))
    assert own_view.find(".//form[@id='approve']") is None

    secretariat = clients[(SECRETARIAT, Role.secretariat)]
    listing = parse(secretariat.get("/contracts").text)
    assert text(listing.find(".//h2[@id='waiting-h']")).startswith("검토할 계약")
    waiting = listing.find(f".//table[@id='waiting']/tbody/tr[@id='waiting-{dataset}']")
    assert waiting is not None and "경찰청" in text(waiting)
    review = parse(secretariat.get(href).text)
    assert review.find(".//form[@id='reject']//textarea[@name='reason']") is not None
    assert "새 데이터셋의 첫 버전" in text(review.find(".//*[@id='changes']"))
    assert AGE in text(review.find(".//pre[@id='contract-yaml']"))
    for who in [(OTHER_SECTOR, Role.analyst), (OTHER_SECTOR, Role.steward)]:
        assert clients[who].get(href).status_code == 404
    # The steward may not decide (no form is offered; a post is refused all the same).
    token = form_token(steward.get(href).text, "signout")
    refused = steward.post(f"{href}/approve", data={"csrf_token": token})
    assert refused.status_code == 403
    assert parse(refused.text).find(".//*[@id='contract-error']") is not None

    approved = post_step(secretariat, href, "approve")
    assert approved.status_code == 303 and approved.headers["location"] == f"{href}?done=approved"
    assert served.platform.contract_reviews.get(dataset, "1.0.0").state == ReviewState.active
    done = parse(secretariat.get(approved.headers["location"]).text)
    assert done.find(f".//*[@id='contract-done']/a[@href='/datasets/{dataset}']") is not None
    assert "승인됨(활성)" in text(done.find(".//*[@id='contract-state']"))
    assert audited(served, SECRETARIAT, f"POST {href}/approve") == (dataset,)
    assert clients[(OTHER_SECTOR, Role.analyst)].get(f"/datasets/{dataset}").status_code == 200
    later = parse(secretariat.get("/contracts").text)
    assert later.find(f".//tr[@id='waiting-{dataset}']") is None


def test_a_saved_draft_is_sent_and_rejected_with_a_reason(served: World, clients) -> None:
    steward, secretariat = clients[(OWNER, Role.steward)], clients[(SECRETARIAT, Role.secretariat)]
    dataset = "drunk_refused"
    saved = press(steward, draft(steward, dataset).text, "draft")
    href = f"/contracts/{dataset}/versions/1.0.0"
    assert saved.status_code == 303 and saved.headers["location"] == f"{href}?done=saved"
    assert served.platform.contract_reviews.get(dataset, "1.0.0").state == ReviewState.draft
    view = parse(steward.get(href).text)
    assert "초안" in text(view.find(".//*[@id='contract-state']"))
    reopened = steward.get(f"{href}/edit")
    assert reopened.status_code == 200
    assert f"id: {dataset}" in (parse(reopened.text).find(".//textarea[@id='yaml']").text or "")
    assert secretariat.get(href).status_code == 200  # the sector's secretariat sees drafts
    assert parse(secretariat.get(href).text).find(".//form[@id='approve']") is None

    sent = post_step(steward, href, "send")
    assert sent.status_code == 303 and sent.headers["location"] == f"{href}?done=sent"
    blank = post_step(secretariat, href, "reject", reason="  ")
    assert blank.status_code == 400
    assert "rejection needs a reason" in text(parse(blank.text).find(".//*[@id='contract-error']"))
    assert served.platform.contract_reviews.get(dataset, "1.0.0").state == ReviewState.in_review
    reason = "나이는 5세 단위로 일반화하고 관할경찰서는 시·도로 바꿔 주세요."
    rejected = post_step(secretariat, href, "reject", reason=reason)
    assert rejected.status_code == 303 and rejected.headers["location"] == f"{href}?done=rejected"

    mine = parse(steward.get("/contracts").text)
    row = text(mine.find(f".//tr[@id='mine-{dataset}-1.0.0']"))
    assert "반려됨" in row and reason in row
    view = parse(steward.get(href).text)
    assert text(view.find(".//*[@id='contract-reason']")) == reason
    assert dataset not in served.platform.contracts


def test_the_preview_shows_errors_and_breaking_changes(served: World, clients) -> None:
    steward, dataset = clients[(OWNER, Role.steward)], "cases_public"
    href = f"/contracts/{dataset}/versions/1.0.0"
    assert steward.get(href).status_code == 404  # a file's version, never submitted here
    drafted = draft(steward, "drunk_checked")
    age = column(parse(drafted.text), "나이")
    # Age is generalised: it must stay a quasi-identifier.
    wrong = press(steward, drafted.text, "preview", **{f"c{age}.classification": "none"})
    errors = text(parse(wrong.text).find(".//*[@id='preview-errors']"))
    assert "generalise.age" in errors
    refused = press(steward, wrong.text, "submit")
    assert refused.status_code == 422
    assert "generalise.age" in text(parse(refused.text).find(".//*[@id='contract-error']"))
    with pytest.raises(ReviewError):
        served.platform.contract_reviews.get("drunk_checked", "1.0.0")

    # A new minor version of the approved dataset: the YAML's version raised by hand, a
    # column renamed in the table: breaking (readers lose `sex`), so it needs a major version.
    reopened = steward.get("/contracts/drunk_pages/versions/1.0.0/edit")
    page = parse(reopened.text)
    sex = column(page, "성별")
    yaml_text = (page.find(".//textarea[@id='yaml']").text or "").replace(
        "version: 1.0.0", "version: 1.1.0"
    )
    changed = {"yaml": yaml_text, f"c{sex}.name": "gender"}
    minor = parse(press(steward, reopened.text, "preview", **changed).text)
    shown = minor.find(".//textarea[@id='yaml']").text or ""
    assert "version: 1.1.0" in shown and "name: gender" in shown  # both edits kept
    assert "2.0.0" in text(minor.find(".//*[@id='preview-errors']"))
    changes = minor.find(".//ul[@id='preview-changes']")
    assert changes is not None and "호환 불가" in text(changes) and "sex" in text(changes)
    major = {**changed, "yaml": yaml_text.replace("version: 1.1.0", "version: 2.0.0")}
    ready = parse(press(steward, reopened.text, "preview", **major).text)
    assert ready.find(".//*[@id='preview-ok']") is not None, text(ready.find(".//*[@id='preview']"))


def test_english_and_refusals(served: World, clients) -> None:
    steward = clients[(OWNER, Role.steward)]
    english = parse(steward.get("/contracts", params={"lang": "en"}).text)
    assert english.find(".//html").attrib["lang"] == "en"
    assert text(english.find(".//h1")).startswith("Data contracts")
    new = parse(steward.get("/contracts/new", params={"lang": "en"}).text)
    assert text(new.find(".//h1")) == "New contract draft"
    assert "monthly" in text(new.find(".//select[@name='cadence']"))
    rejected = steward.get("/contracts/drunk_refused/versions/1.0.0", params={"lang": "en"})
    assert "rejected" in text(parse(rejected.text).find(".//*[@id='contract-state']"))
    steward_page = parse(steward.get("/steward").text)
    assert steward_page.find(".//a[@href='/contracts/new']") is not None
    nav = parse(clients[(SECRETARIAT, Role.secretariat)].get("/").text).find(".//nav")
    assert nav is not None and nav.find("./a[@href='/contracts']") is not None

    analyst = clients[(OWNER, Role.analyst)]
    assert analyst.get("/contracts/new").status_code == 403
    token = form_token(analyst.get("/").text, "signout")
    assert analyst.post("/contracts/edit", data={"csrf_token": token}).status_code == 403
    assert steward.post("/contracts/edit", data={"yaml": "id: x"}).status_code == 403  # no token
    # Another sector's steward drafts for its own agency only: not a welfare member.
    other = draft(clients[(OTHER_SECTOR, Role.steward)], "drunk_elsewhere")
    assert other.status_code == 422
    assert "welfare_safety" in text(parse(other.text).find(".//*[@id='draft-error']"))
