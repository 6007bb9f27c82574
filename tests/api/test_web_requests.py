"""The joint-use pages over HTTP on loopback, with real sessions: the 이용 신청 form on a dataset
page, the requests pages (inbox, our requests, notices, one request) and their forms, and the
공동 활용 board for each kind of viewer, in Korean and English."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from api.web.i18n import Lang, Translator, catalogue
from api.web.requests import DONE
from catalog.access.grants import korean_today
from catalog.access.principal import Role
from catalog.access.requests import LegalBasis, RequestState, Step
from contracts.model import ApprovalPolicy
from tests.api.web_session import form_token, parse, sign_in, table, text
from tests.api.world import GRANTEE, OTHER_SECTOR, OWNER, SAME_SECTOR, World, world

DATASET = "cases_restricted"  # knpa's; the default approval policy: knpa's steward decides
DRUNK = "police_drunk_driving_detections"  # knpa's too: owner_and_secretariat, 180 days
SECRETARIAT = SAME_SECTOR  # nhis leads the welfare sector
KO, EN = Translator(Lang.ko), Translator(Lang.en)
BASES = ("consent", "pseudonymised_research", "public_task", "statute", "other")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("web-requests")) as w:
        yield w


@pytest.fixture(scope="module")
def clients(served: World) -> Iterator[dict[tuple[str, Role], httpx.Client]]:
    """A signed-in browser-like client per (agency, role) the tests use."""
    made = {
        who: sign_in(served.url, served.keys[who])
        for who in [
            (OTHER_SECTOR, Role.analyst),
            (OTHER_SECTOR, Role.steward),
            (OWNER, Role.steward),
            (OWNER, Role.analyst),
            (OWNER, Role.operator),
            (SECRETARIAT, Role.secretariat),
            (SECRETARIAT, Role.analyst),
            (GRANTEE, Role.analyst),
        ]
    }
    yield made
    for client in made.values():
        client.close()


def ask(
    client: httpx.Client, dataset: str = DATASET, token: str | None = None, **fields: Any
) -> httpx.Response:
    """Post the dataset page's request form (with the page's own CSRF token unless given)."""
    if token is None:
        token = form_token(client.get(f"/datasets/{dataset}").text, "ask")
    data = {
        "csrf_token": token,
        "purpose": "음주운전 단속 효과 분석 (drink-driving study)",
        "legal_basis": "pseudonymised_research",
        "legal_basis_detail": "",
        "columns": ["amount", "sido"],
        "row_filter": "sido = '서울'",
        "until": "",
        **fields,
    }
    return client.post(f"/datasets/{dataset}/request", data=data)


def made_id(answer: httpx.Response) -> str:
    """The request id a successful form post redirects to."""
    assert answer.status_code == 303, answer.text[:2000]
    return answer.headers["location"].split("?")[0].rsplit("/", 1)[1]


def post(
    client: httpx.Client, page: str, form_id: str, action: str, **fields: Any
) -> httpx.Response:
    """Post one of a page's forms with its CSRF token."""
    token = form_token(client.get(page).text, form_id)
    return client.post(action, data={"csrf_token": token, **fields})


def error_text(answer: httpx.Response) -> str:
    found = parse(answer.text).find(".//div[@id='request-error']")
    assert found is not None, answer.text[:3000]
    return text(found)


def test_the_form_shows_where_the_viewer_cannot_read_and_not_for_the_owner(clients) -> None:
    outsider = clients[(OTHER_SECTOR, Role.analyst)].get(f"/datasets/{DATASET}")
    page = parse(outsider.text)
    form = page.find(".//form[@id='ask']")
    assert form is not None and form.get("action") == f"/datasets/{DATASET}/request"
    assert form.find("./input[@name='csrf_token']") is not None
    assert form.find(".//textarea[@name='purpose']").get("required") is not None
    options = form.findall(".//select[@name='legal_basis']/option")
    assert [o.get("value") for o in options] == ["", *BASES]
    assert [text(o) for o in options[1:]] == [
        "정보주체 동의",
        "가명정보 통계·연구(개인정보 보호법 제28조의2)",
        "소관 업무 수행",
        "법령 근거(조항 기재)",
        "기타(설명 기재)",
    ]
    boxes = form.findall(".//input[@name='columns']")
    assert [b.get("value") for b in boxes] == ["person", "sido", "n", "amount"]
    sensitive = form.findall(".//label[@class='check sensitive']/input")
    assert [b.get("value") for b in sensitive] == ["amount"]
    until = form.find(".//input[@name='until']")
    longest = korean_today() + timedelta(days=365)  # the contract's default maxDays
    assert (until.get("type"), until.get("max")) == ("date", str(longest))
    hint = text(page.find(".//p[@id='until-hint']"))
    assert "제공 기관 승인" in hint and "365일" in hint and str(longest) in hint
    assert "sido = '" in text(form)  # an example filter over one of its own columns
    # Nobody is told to write to a steward or to the secretariat's desk any more.
    access = text(page.find(".//section[@id='access']"))
    assert "문의" not in access and "mailto" not in outsider.text.split('id="access"')[1]
    assert "ask the steward" not in outsider.text

    for viewer in [(OWNER, Role.steward), (OWNER, Role.analyst), (GRANTEE, Role.analyst)]:
        own = parse(clients[viewer].get(f"/datasets/{DATASET}").text)
        assert own.find(".//form[@id='ask']") is None, viewer  # reads it whole already
    operator = parse(clients[(OWNER, Role.operator)].get(f"/datasets/{DATASET}").text)
    assert operator.find(".//form[@id='ask']") is None
    assert KO("ask.operator") in text(operator.find(".//section[@id='access']"))
    # Readable but with the sensitive column masked: the form offers to ask for it.
    member = parse(clients[(SECRETARIAT, Role.analyst)].get("/datasets/cases_sector").text)
    assert member.find(".//form[@id='ask']") is not None
    assert KO("ask.lead_masked") in text(member.find(".//section[@id='access']"))


def test_the_form_refuses_a_foreign_token_and_says_what_is_missing(served: World, clients) -> None:
    client = clients[(OTHER_SECTOR, Role.steward)]
    before = len(served.platform.requests.all())
    forged = ask(client, "cases_sector", token="not-the-session-token")
    assert forged.status_code == 403
    assert KO("error.csrf") in forged.text
    assert len(served.platform.requests.all()) == before

    empty = ask(client, "cases_sector", purpose="  ")
    assert empty.status_code == 400
    assert KO("requests.error_400") in error_text(empty) and "purpose" in error_text(empty)
    statute = ask(client, "cases_sector", legal_basis="statute", purpose="통계 작성")
    assert statute.status_code == 400 and "statute" in error_text(statute)
    # The form comes back as it was filled in.
    refilled = parse(statute.text).find(".//form[@id='ask']")
    assert text(refilled.find(".//textarea[@name='purpose']")) == "통계 작성"
    chosen = refilled.find(".//select[@name='legal_basis']/option[@selected]")
    assert chosen.get("value") == "statute"
    ticked = [b.get("value") for b in refilled.findall(".//input[@name='columns'][@checked]")]
    assert ticked == ["sido", "amount"]
    too_long = ask(client, "cases_sector", until=str(korean_today() + timedelta(days=400)))
    assert too_long.status_code == 400 and "365 days" in error_text(too_long)
    assert len(served.platform.requests.all()) == before


def test_a_request_goes_from_the_dataset_page_to_the_owners_inbox_and_is_approved(
    served: World, clients
) -> None:
    requester = clients[(OTHER_SECTOR, Role.analyst)]
    request_id = made_id(ask(requester))
    made = served.platform.requests.get(request_id)
    assert (made.state, made.requester_agency, made.columns) == (
        RequestState.pending,
        OTHER_SECTOR,
        ("amount", "sido"),
    )
    shown = parse(requester.get(f"/requests/{request_id}?done=created").text)
    assert KO("requests.done_created") in text(shown.find(".//p[@id='request-done']"))
    assert "대기 중" in text(shown.find(".//dl[@id='request-facts']"))
    # The dataset page now shows the waiting request instead of a second form.
    page = parse(requester.get(f"/datasets/{DATASET}").text)
    assert page.find(".//form[@id='ask']") is None
    pending = page.find(".//p[@id='ask-pending']")
    assert pending.find(".//a").get("href") == f"/requests/{request_id}"

    steward = clients[(OWNER, Role.steward)]
    inbox = parse(steward.get("/requests").text)
    item = inbox.find(f".//article[@id='inbox-{request_id}']")
    assert item is not None
    shown_text = text(item)
    assert "한국교통안전공단" in shown_text  # the requester by its Korean name
    assert "음주운전 단속 효과 분석" in shown_text and "가명정보 통계·연구" in shown_text
    assert "sido = '서울'" in shown_text and "amount" in shown_text
    assert KO("request.waited") in shown_text
    # An analyst of the owning agency sees it but has nothing to decide.
    analyst = parse(clients[(OWNER, Role.analyst)].get("/requests").text)
    assert analyst.find(f".//article[@id='inbox-{request_id}']") is None
    token = form_token(clients[(OWNER, Role.analyst)].get("/requests").text, "signout")
    refused = clients[(OWNER, Role.analyst)].post(
        f"/requests/{request_id}/approve", data={"csrf_token": token}
    )
    assert refused.status_code == 403 and "waits for a steward of knpa" in error_text(refused)

    # A denial needs a reason; nothing changes without one.
    empty = post(
        steward, "/requests", f"deny-{request_id}", f"/requests/{request_id}/deny", reason=" "
    )
    assert empty.status_code == 400 and "reason" in error_text(empty)
    assert served.platform.requests.get(request_id).state == RequestState.pending

    # Unticking every column is no approval: the page says so and nothing changes.
    nothing = post(
        steward,
        "/requests",
        f"approve-{request_id}",
        f"/requests/{request_id}/approve",
        columns_offered="1",
    )
    assert nothing.status_code == 400 and "column list is empty" in error_text(nothing)
    assert served.platform.requests.get(request_id).state == RequestState.pending

    # The steward narrows: one column of the two, an earlier end.
    until = korean_today() + timedelta(days=20)
    approved = post(
        steward,
        "/requests",
        f"approve-{request_id}",
        f"/requests/{request_id}/approve",
        columns_offered="1",
        columns=["amount"],
        until=str(until),
        note="20일만 승인",
    )
    assert approved.status_code == 303
    assert approved.headers["location"] == f"/requests?done=approved&request={request_id}"
    done = parse(steward.get(approved.headers["location"]).text)
    assert request_id in text(done.find(".//p[@id='request-done']"))
    [grant] = served.platform.grants.list(dataset_id=DATASET, agency=OTHER_SECTOR)
    assert (grant.expires, grant.columns, grant.row_filter) == (until, ("amount",), "sido = '서울'")
    # Deciding again is refused as a conflict, shown on the page.
    again = post(
        steward,
        f"/requests/{request_id}",
        f"revoke-{request_id}",
        f"/requests/{request_id}/approve",
    )
    assert again.status_code == 409 and KO("requests.error_409") in error_text(again)

    mine = parse(requester.get("/requests").text)
    row = mine.find(f".//li[@id='mine-{request_id}']")
    assert "승인" in text(row.find(".//span[@class='badge rstate-approved']"))
    assert grant.grant_id in text(row) and str(until) in text(row)
    history = table(parse(requester.get(f"/requests/{request_id}").text), "history")[1]
    assert [r[1] for r in history] == ["신청", "승인 (제공 기관 단계)"]
    assert "20일만 승인" in history[1][3]
    # The requester's notices tell of the approval, rendered in the page's language.
    notices = text(mine.find(".//section[@id='notices']"))
    assert "이용 신청 승인" in notices
    english = parse(requester.get("/requests?lang=en").text)
    assert "Access request approved" in text(english.find(".//section[@id='notices']"))


def test_a_denial_reaches_the_requester_with_its_reason(served: World, clients) -> None:
    requester = clients[(SECRETARIAT, Role.analyst)]
    request_id = made_id(ask(requester, columns=["amount"], row_filter=""))
    steward = clients[(OWNER, Role.steward)]
    reason = "개인 단위 자료는 통계 목적에 필요하지 않습니다"
    denied = post(
        steward,
        f"/requests/{request_id}",
        f"deny-{request_id}",
        f"/requests/{request_id}/deny",
        reason=reason,
        back="detail",
    )
    assert denied.status_code == 303
    assert denied.headers["location"] == f"/requests/{request_id}?done=denied"
    row = parse(requester.get("/requests").text).find(f".//li[@id='mine-{request_id}']")
    assert "거절" in text(row.find(".//span[@class='badge rstate-denied']"))
    assert reason in text(row.find(".//dd[@class='prose reason']"))
    assert row.find(f".//form[@id='renew-{request_id}']") is not None
    english = parse(requester.get("/requests?lang=en").text)
    assert "denied" in text(english.find(f".//li[@id='mine-{request_id}']"))

    # Asking again makes a new pending request with the same terms.
    renewed = post(requester, "/requests", f"renew-{request_id}", f"/requests/{request_id}/renew")
    new_id = made_id(renewed)
    assert new_id != request_id
    again = served.platform.requests.get(new_id)
    assert (again.state, again.renewal_of, again.columns) == (
        RequestState.pending,
        request_id,
        ("amount",),
    )
    withdrawn = post(
        requester,
        f"/requests/{new_id}",
        f"withdraw-{new_id}",
        f"/requests/{new_id}/withdraw",
        back="detail",
    )
    assert withdrawn.status_code == 303
    assert served.platform.requests.get(new_id).state == RequestState.withdrawn
    assert "철회" in text(parse(requester.get(f"/requests/{new_id}").text).find(".//h1/.."))


def test_steps_the_viewer_may_not_take_are_refused_on_the_page(served: World, clients) -> None:
    requester = clients[(OTHER_SECTOR, Role.steward)]
    request_id = made_id(ask(requester, "cases_sector", columns=[], row_filter=""))
    # The requester's own agency cannot decide it, even by posting the form by hand.
    token = form_token(requester.get("/requests").text, f"withdraw-{request_id}")
    own = requester.post(
        f"/requests/{request_id}/approve", data={"csrf_token": token, "back": "detail"}
    )
    assert own.status_code == 403
    assert KO("requests.error_403") in error_text(own) and "own agency" in error_text(own)
    # Another agency does not even see it: 404, as for an id that does not exist.
    grantee = clients[(GRANTEE, Role.analyst)]
    assert grantee.get(f"/requests/{request_id}").status_code == 404
    assert grantee.get("/requests/nope").status_code == 404
    token = form_token(grantee.get("/requests").text, "signout")
    unseen = grantee.post(f"/requests/{request_id}/withdraw", data={"csrf_token": token})
    assert unseen.status_code == 404 and KO("requests.error_404") in error_text(unseen)
    forged = requester.post(f"/requests/{request_id}/withdraw", data={"csrf_token": "x"})
    assert forged.status_code == 403 and KO("error.csrf") in forged.text
    assert served.platform.requests.get(request_id).state == RequestState.pending
    post(requester, "/requests", f"withdraw-{request_id}", f"/requests/{request_id}/withdraw")
    assert served.platform.requests.get(request_id).state == RequestState.withdrawn


def test_the_owner_revokes_a_grant_from_the_request_page(served: World, clients) -> None:
    requester = clients[(OTHER_SECTOR, Role.analyst)]
    steward = clients[(OWNER, Role.steward)]
    request_id = made_id(ask(requester, "cases_public", columns=["amount"], row_filter=""))
    post(steward, "/requests", f"approve-{request_id}", f"/requests/{request_id}/approve")
    assert served.platform.requests.get(request_id).state == RequestState.approved
    page = parse(requester.get(f"/requests/{request_id}").text)
    assert page.find(f".//form[@id='revoke-{request_id}']") is None  # not the grantee's to do
    revoked = post(
        steward,
        f"/requests/{request_id}",
        f"revoke-{request_id}",
        f"/requests/{request_id}/revoke",
        reason="연구 종료",
        back="detail",
    )
    assert revoked.status_code == 303
    found = served.platform.requests.get(request_id)
    assert (found.state, found.reason) == (RequestState.revoked, "연구 종료")
    row = parse(requester.get("/requests").text).find(f".//li[@id='mine-{request_id}']")
    assert "회수" in text(row) and "연구 종료" in text(row)
    assert row.find(f".//form[@id='renew-{request_id}']") is not None


def test_the_board_is_full_for_the_secretariat_and_counts_only_for_others(
    served: World, clients
) -> None:
    requester = clients[(OTHER_SECTOR, Role.analyst)]
    steward = clients[(OWNER, Role.steward)]
    pending = made_id(ask(requester, "cases_sector", columns=[], row_filter=""))
    denied_reason = "목적과 관계없는 컬럼입니다"
    other = made_id(ask(clients[(SECRETARIAT, Role.analyst)], columns=["amount"], row_filter=""))
    post(steward, "/requests", f"deny-{other}", f"/requests/{other}/deny", reason=denied_reason)

    secretariat = clients[(SECRETARIAT, Role.secretariat)].get("/joint-use")
    assert secretariat.status_code == 200
    page = parse(secretariat.text)
    assert KO("joint.title") in text(page.find(".//h1"))
    header, cells = table(page, "matrix")
    assert header[0] == KO("joint.provider")
    providers = [text(th) for th in page.iterfind(".//table[@id='matrix']/tbody/tr/th")]
    assert "경찰청" in providers  # agencies by their Korean names
    kotsa = header.index("한국교통안전공단") - 1  # kotsa uses knpa's data (its grant)
    assert int(cells[providers.index("경찰청")][kotsa]) >= 1
    uses = table(page, "uses")
    assert uses[0][-1] == KO("joint.datasets") and any("cases" in "".join(r) for r in uses[1])
    waiting = table(page, "waiting")[1]
    assert any(pending in a.get("href", "") for a in page.iterfind(".//table[@id='waiting']//a"))
    assert waiting and waiting[0][3] == KO("step.owner")
    assert denied_reason in text(page.find(".//table[@id='denials']"))
    links = {a.get("class"): a.get("href") for a in page.iterfind(".//p[@id='joint-data']/a")}
    assert links == {"json": "/api/v1/joint-use", "csv": "/api/v1/joint-use?format=csv"}

    commons = clients[(OTHER_SECTOR, Role.analyst)].get("/joint-use")
    page = parse(commons.text)
    assert commons.status_code == 200 and KO("joint.lead_counts") in commons.text
    assert page.find(".//table[@id='matrix']") is not None
    assert page.find(".//table[@id='denials']") is None
    assert page.find(".//table[@id='waiting']") is None
    assert denied_reason not in commons.text and "cases_" not in text(page.find(".//main"))
    assert table(page, "uses")[0][-1] == KO("joint.downloads")  # no datasets column

    # Operators see every sector and may narrow to one.
    operator = clients[(OWNER, Role.operator)]
    narrowed = parse(operator.get("/joint-use?sector=transport_logistics").text)
    assert narrowed.find(".//select[@name='sector']/option[@selected]").get("value") == (
        "transport_logistics"
    )
    assert narrowed.find(".//table[@id='denials']") is None or denied_reason not in text(
        narrowed.find(".//table[@id='denials']")
    )
    assert denied_reason in operator.get("/joint-use").text


@pytest.mark.parametrize("lang", list(Lang))
def test_the_pages_speak_the_viewers_language(clients, lang: Lang) -> None:
    t = Translator(lang)
    client = clients[(OTHER_SECTOR, Role.analyst)]
    for path, title in [
        ("/requests", "requests.title"),
        ("/joint-use", "joint.title"),
        (f"/datasets/{DATASET}", None),
    ]:
        answer = client.get(path, params={"lang": lang.value})
        assert answer.status_code == 200, path
        page = parse(answer.text)
        assert page.find(".//html").get("lang") == lang.value
        nav = {a.get("href"): text(a) for a in page.iterfind(".//nav[@class='nav']/a")}
        assert nav["/requests"] == t("nav.requests") and nav["/joint-use"] == t("nav.joint_use")
        if title:
            assert t(title) in text(page.find(".//h1"))
    # A member agency reads the sector dataset with its sensitive column masked: the form.
    member = clients[(SECRETARIAT, Role.secretariat)]
    dataset = parse(member.get("/datasets/cases_sector", params={"lang": lang.value}).text)
    assert text(dataset.find(".//section[@id='request']/h2")) == t("ask.title")
    basis = dataset.find(".//select[@name='legal_basis']/option[@value='consent']")
    assert text(basis) == t("basis.consent")
    assert t("policy.owner") in text(dataset.find(".//p[@id='until-hint']"))


def test_every_page_and_post_is_audited(served: World, clients) -> None:
    client = clients[(GRANTEE, Role.analyst)]
    last = max((r.seq for r in served.platform.audit.records(limit=1)), default=0)
    for path in ("/requests", "/joint-use"):
        assert client.get(path).status_code == 200
    made_id(ask(client, "cases_sector", columns=["amount"], row_filter=""))
    wanted = {"GET /requests", "GET /joint-use", "POST /datasets/cases_sector/request"}
    deadline = time.monotonic() + 5
    while True:
        found = {
            r.statement: r
            for r in served.platform.audit.records(agency=GRANTEE, limit=50)
            if r.seq > last and r.kind == "catalog"
        }
        if wanted <= set(found):
            break
        assert time.monotonic() < deadline, f"not audited: {wanted - set(found)}"
        time.sleep(0.01)
    assert found["POST /datasets/cases_sector/request"].datasets == ("cases_sector",)
    access = [
        r
        for r in served.platform.audit.records(agency=GRANTEE, limit=50)
        if r.seq > last and r.kind == "access"
    ]
    assert any("request: cases_sector" in r.statement for r in access)


@pytest.mark.parametrize(
    "who",
    [
        (OTHER_SECTOR, Role.analyst),
        (OTHER_SECTOR, Role.steward),
        (OWNER, Role.steward),
        (OWNER, Role.operator),
        (SECRETARIAT, Role.secretariat),
    ],
    ids=lambda w: f"{w[0]}-{w[1].value}",
)
def test_the_pages_render_for_every_role_from_our_origin_only(
    served: World, clients, who: tuple[str, Role]
) -> None:
    client = clients[who]
    for path in ("/requests", "/joint-use", "/joint-use?sector=welfare_safety"):
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.text[:500])
        assert "default-src 'self'" in answer.headers["content-security-policy"]
        assert "<script" not in answer.text  # no script at all: forms only
        for element in parse(answer.text).iter():
            for name in ("src", "href", "action"):
                value = element.get(name) or ""
                assert not value.startswith(("http:", "https:", "//")), (path, value)


def test_every_label_the_pages_build_exists_in_both_languages() -> None:
    """Labels named from values (states, bases, policies, steps) exist for every value."""
    keys = [
        *(f"request_state.{s.value}" for s in RequestState),
        *(f"basis.{b.value}" for b in LegalBasis),
        *(f"policy.{p.value}" for p in ApprovalPolicy),
        *(f"step.{s.value}" for s in Step),
        *(f"step_of.{s.value}" for s in Step),
        *(f"decision.{a}" for a in ("request", "approve", "deny", "withdraw", "revoke", "expire")),
        *(f"requests.error_{status}" for status in (400, 403, 404, 409)),
        *(f"requests.done_{d}" for d in DONE),
        "policy_help.automatic_member",
        "policy_help.automatic_other",
        "policy_help.secretariat_asks",
        *(f"policy_help.{p.value}" for p in ApprovalPolicy if p != ApprovalPolicy.automatic),
    ]
    messages = catalogue()
    missing = [k for k in keys if k not in messages]
    assert not missing, f"add to api/web/messages.yaml: {missing}"


def test_the_secretariat_asks_by_form_and_is_told_who_decides_in_its_stead(clients) -> None:
    """The issue's case: the secretariat's officer was told to e-mail the steward and its own
    desk. Now the page offers the form and says an operator approves in its stead."""
    answer = clients[(SECRETARIAT, Role.secretariat)].get(f"/datasets/{DRUNK}")
    assert answer.status_code == 200
    page = parse(answer.text)
    assert page.find(".//form[@id='ask']") is not None
    hint = text(page.find(".//p[@id='until-hint']"))
    assert KO("policy.owner_and_secretariat") in hint
    assert KO("policy_help.secretariat_asks") in hint and "180일" in hint
    assert "data@nhis.or.kr" not in answer.text  # never its own desk
    outsider = parse(clients[(OTHER_SECTOR, Role.analyst)].get(f"/datasets/{DRUNK}").text)
    assert KO("policy_help.owner_and_secretariat") in text(outsider.find(".//p[@id='until-hint']"))
