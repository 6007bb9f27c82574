"""The catalog's web pages over HTTP on loopback, from a workspace with real published data:
every page type for each role, what each may and may not see, search, language, no outside URL."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import closing
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from api.web.i18n import Lang, Translator
from catalog.access.principal import Role
from quality.privacy.pseudonyms import PSEUDONYM_PATTERN
from tests.api.catalog_world import AIR, DRUNK, KOTSA, catalog_world
from tests.api.web_session import parse, sign_in, table, text
from tests.api.world import AGENCIES, GRANTEE, OTHER_SECTOR, OWNER, SAME_SECTOR, World

# (agency, role) of the viewers; the owner of the test tables is knpa, KOTSA owns KOTSA's data.
VIEWERS = [
    (OWNER, Role.steward),
    (OWNER, Role.analyst),
    (SAME_SECTOR, Role.secretariat),
    (GRANTEE, Role.analyst),
    (OTHER_SECTOR, Role.steward),
    (OTHER_SECTOR, Role.analyst),
    (OWNER, Role.operator),
]
PAGES = (
    "/",
    "/sectors",
    "/sectors/welfare_safety",
    "/agencies/knpa",
    f"/datasets/{AIR}",
    f"/datasets/{KOTSA}",
    f"/datasets/{DRUNK}",
    "/datasets/cases_public",
    "/datasets/cases_sector",
    "/datasets/cases_restricted",
    "/search?q=미세먼지",
    "/search?q=air&sector=environment_energy&access=public",
    "/console",
)
OUTSIDE = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with catalog_world(tmp_path_factory.mktemp("web")) as w:
        yield w


@pytest.fixture(scope="module")
def clients(served: World) -> Iterator[dict[tuple[str, Role], httpx.Client]]:
    """A signed-in browser-like client per (agency, role)."""
    made = {
        (agency, role): sign_in(served.url, served.keys[(agency, role)])
        for agency in AGENCIES
        for role in Role
    }
    yield made
    for client in made.values():
        client.close()


def ids(html: str) -> set[str]:
    """Dataset ids listed on a page."""
    return {text(e) for e in parse(html).iterfind(".//li[@class='dataset']//code")}


@pytest.mark.parametrize(("agency", "role"), VIEWERS, ids=lambda v: getattr(v, "value", v))
def test_every_page_type_renders_for_each_role(clients, agency: str, role: Role) -> None:
    client = clients[(agency, role)]
    for path in PAGES:
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.text[:500])
        assert answer.headers["content-type"].startswith("text/html")
        page = parse(answer.text)
        assert page.find(".//html").attrib["lang"] == "ko"
        assert page.find(".//h1") is not None and text(page.find(".//h1"))
        who = page.find(".//span[@class='who']")
        assert who is not None and who.attrib["title"]  # the signed-in key's id
    steward = client.get("/steward")
    assert steward.status_code == (200 if role == Role.steward else 403)


@pytest.mark.parametrize("agency", AGENCIES)
@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_a_private_dataset_page_exists_only_for_its_agency(
    clients, agency: str, role: Role
) -> None:
    client = clients[(agency, role)]
    private = client.get("/datasets/cases_private")
    if agency == OWNER and role != Role.operator:
        assert private.status_code == 200
        assert "cases_private" in ids(client.get("/agencies/knpa").text)
        return
    unknown = client.get("/datasets/cases_nope")
    assert private.status_code == unknown.status_code == 404
    # The same page but for the address it names (and the per-session CSRF token).
    token = re.compile(r'content="[^"]*"|value="[^"]*"')
    same = token.sub("", private.text.replace("cases_private", "cases_nope"))
    assert same == token.sub("", unknown.text)
    assert "cases_private" not in ids(client.get("/agencies/knpa").text)
    assert "cases_private" not in ids(client.get("/search?q=cases").text)
    assert "cases_private" not in client.get("/").text


def sample(client: httpx.Client, dataset_id: str) -> dict[str, list[str]]:
    """The sample table of a dataset page, by column."""
    header, rows = table(parse(client.get(f"/datasets/{dataset_id}").text), "sample-rows")
    return {name: [row[i] for row in rows] for i, name in enumerate(header)}


def test_sample_rows_go_through_the_viewers_masking(clients) -> None:
    owner = sample(clients[(OWNER, Role.analyst)], "cases_sector")
    assert len(owner["amount"]) == 10 and all(owner["amount"])
    member = sample(clients[(SAME_SECTOR, Role.analyst)], "cases_sector")
    assert len(member["amount"]) == 10
    assert member["amount"] == [""] * 10, "a sensitive column is empty for another agency"
    assert all(member["sido"]) and all(member["n"])
    page = parse(clients[(SAME_SECTOR, Role.analyst)].get("/datasets/cases_sector").text)
    masked = [
        text(th)
        for th in page.iterfind(".//table[@id='sample-rows']/thead/tr/th")
        if th.get("class") == "masked"
    ]
    assert masked == ["amount"]
    # The grantee reads the granted sensitive column, through the grant's row filter.
    grantee = sample(clients[(GRANTEE, Role.analyst)], "cases_restricted")
    assert set(grantee["sido"]) == {"부산"} and all(grantee["amount"])


def test_no_access_shows_how_to_ask_and_no_rows(clients) -> None:
    answer = clients[(OTHER_SECTOR, Role.analyst)].get("/datasets/cases_restricted")
    page = parse(answer.text)
    assert page.find(".//table[@id='sample-rows']") is None
    assert page.find(".//form[@id='ask']") is not None  # the 이용 신청 form, not a mailbox
    assert page.find(".//a[@id='query-dataset']") is None
    assert page.find(".//a[@class='as-of']") is None


def test_a_published_dataset_page_shows_its_history(clients, served: World) -> None:
    client = clients[(OTHER_SECTOR, Role.analyst)]
    page = parse(client.get(f"/datasets/{AIR}").text)
    title = text(page.find(".//h1"))
    assert title == served.platform.contract(AIR).title  # Korean, as the contract writes it
    schema = page.find(".//table[@class='schema']")
    assert len(schema.findall("./tbody/tr")) == len(served.platform.contract(AIR).columns)
    assert page.find(".//svg[@class='quality-chart']//circle[@class='mark-ok']") is not None
    lineage = page.find(".//svg[@class='lineage-graph']")
    kinds = {g.get("class") for g in lineage.iterfind("./g")}
    assert {"node node-delivery", "node node-table"} <= kinds
    (as_of,) = page.iterfind(".//a[@class='as-of']")
    query = parse_qs(urlsplit(as_of.attrib["href"]).query)
    snapshot = served.platform.deliveries.list(AIR)[-1].snapshot_id
    assert query["as_of"] == [snapshot]
    assert query["sql"] == [f"SELECT * FROM environment_energy.{AIR} LIMIT 100"]
    assert page.find(".//section[@id='freshness']//span[@class='badge fresh-fresh']") is not None


def schema(client: httpx.Client, dataset_id: str, lang: Lang = Lang.ko) -> tuple[str, dict]:
    """A dataset page's HTML and its schema rows: column -> (published as, examples)."""
    html = client.get(f"/datasets/{dataset_id}", params={"lang": lang.value}).text
    rows = {}
    for tr in parse(html).iterfind(".//table[@class='schema']/tbody/tr"):
        cells = tr.findall("./td")
        examples = [text(c) for c in cells[-1].iterfind("./code[@class='example']")]
        rows[text(tr.find("./th/code"))] = (text(cells[-2]), examples)
    return html, rows


@pytest.mark.parametrize(("agency", "role"), VIEWERS, ids=lambda v: getattr(v, "value", v))
@pytest.mark.parametrize("lang", list(Lang))
def test_the_schema_shows_published_values_never_raw_examples(
    clients, agency: str, role: Role, lang: Lang
) -> None:
    t = Translator(lang)
    html, rows = schema(clients[(agency, role)], DRUNK, lang)
    # The contract's raw examples of generalised and withheld columns appear nowhere.
    assert "2022-07-09" not in html and "평택경찰서" not in html
    assert all("29" not in examples for _, examples in rows.values())
    generalised = t("published_as.generalised")
    assert rows["age"] == (f"{generalised} {t('generalisation.age_band_5')}", ["25-29"])
    assert rows["detected_at"] == (f"{generalised} {t('generalisation.month')}", ["2022-07"])
    assert rows["police_station"] == (t("published_as.withheld"), [])
    assert rows["sex"] == (t("published_as.as_delivered"), ["남자"])
    withheld = parse(html).find(".//p[@id='rows-withheld']")
    assert withheld is not None and "k=5" in text(withheld)


def test_pseudonymised_columns_show_a_pseudonyms_shape(clients) -> None:
    client = clients[(SAME_SECTOR, Role.analyst)]
    _, rows = schema(client, "cases_sector")
    published, [example] = rows["person"]
    assert published == Translator(Lang.ko)("published_as.pseudonymised")
    assert re.fullmatch(PSEUDONYM_PATTERN, example)
    assert example not in sample(client, "cases_sector")["person"]
    assert rows["amount"][1] == []  # masked for this viewer: no example
    _, air = schema(client, AIR)
    assert all(published == "원값 그대로" for published, _ in air.values())


def test_a_quarantined_delivery_shows_in_the_quality_chart(clients) -> None:
    page = parse(clients[(OTHER_SECTOR, Role.analyst)].get(f"/datasets/{KOTSA}").text)
    bars = page.findall(".//svg[@class='quality-chart']/g")
    assert [b.get("class") for b in bars] == ["bar state-quarantined", "bar state-published"]
    assert bars[0].find("./path[@class='mark-bad']") is not None


def test_quarantine_reasons_on_the_home_page_are_for_the_owning_agency(clients) -> None:
    def reasons(agency: str) -> list[str]:
        page = parse(clients[(agency, Role.analyst)].get("/").text)
        events = page.findall(".//li[@class='event quarantined']")
        assert events, "the quarantined KOTSA delivery is listed for everyone"
        return [text(r) for e in events for r in e.iterfind("./span[@class='reason']")]

    assert reasons(OTHER_SECTOR) and "3개" in reasons(OTHER_SECTOR)[0]
    assert reasons(OWNER) == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("미세먼지", AIR),
        ("미세", AIR),
        ("air quality", AIR),
        ("inspection", KOTSA),
        ("음주", DRUNK),
    ],
)
def test_search_in_korean_and_english(clients, query: str, expected: str) -> None:
    answer = clients[(OTHER_SECTOR, Role.analyst)].get("/search", params={"q": query})
    assert expected in ids(answer.text)
    page = parse(answer.text)
    assert page.find(".//form[@id='search']/div/input[@name='q']").attrib["value"] == query


def test_search_filters(clients) -> None:
    client = clients[(OWNER, Role.analyst)]
    public = ids(client.get("/search", params={"q": "cases", "access": "public"}).text)
    assert public == {"cases_public"}
    welfare = ids(client.get("/search", params={"sector": "welfare_safety"}).text)
    assert AIR not in welfare and {"cases_public", DRUNK} <= welfare
    assert ids(client.get("/search", params={"agency": "kotsa"}).text) == {KOTSA}
    page = parse(client.get("/search", params={"sector": "welfare_safety"}).text)
    chosen = page.find(".//select[@name='sector']/option[@selected]")
    assert chosen is not None and chosen.attrib["value"] == "welfare_safety"


def test_pages_are_audited_like_their_json_twins(clients, served: World) -> None:
    last = max((r.seq for r in served.platform.audit.records(limit=1)), default=0)
    clients[(OTHER_SECTOR, Role.analyst)].get(f"/datasets/{AIR}")
    # The record is written just after the page is sent: give it a moment.
    deadline = time.monotonic() + 5
    while not (
        found := [
            r
            for r in served.platform.audit.records(agency=OTHER_SECTOR, limit=20)
            if r.statement == f"GET /datasets/{AIR}" and r.seq > last
        ]
    ):
        assert time.monotonic() < deadline, "no audit record for the page"
        time.sleep(0.01)
    (record,) = found
    assert record.kind == "catalog" and record.datasets == (AIR,) and record.rows == 10


def test_the_language_switch_is_remembered(served: World) -> None:
    with closing(sign_in(served.url, served.keys[(OTHER_SECTOR, Role.analyst)])) as client:
        korean = parse(client.get("/search", params={"q": "air"}).text)
        switch = korean.find(".//a[@class='lang-en']").attrib["href"]
        assert switch == "/search?q=air&lang=en"
        english = client.get(switch, headers={"Sec-Fetch-Site": "same-origin"})  # a click
        assert "gongyu_lang=en" in english.headers["set-cookie"]
        assert parse(english.text).find(".//html").attrib["lang"] == "en"
        assert text(parse(english.text).find(".//h1")) == "Search datasets"
        later = parse(client.get(f"/datasets/{AIR}").text)
        assert later.find(".//html").attrib["lang"] == "en"
        # In English the contract's English title, when it states one (`english`).
        assert text(later.find(".//h1")) == served.platform.contract(AIR).english.title
        assert parse(client.get("/?lang=ko").text).find(".//html").attrib["lang"] == "ko"


@pytest.mark.parametrize("fetch_site", ["cross-site", "same-site", None])
def test_another_site_cannot_change_the_remembered_language(
    served: World, fetch_site: str | None
) -> None:
    with closing(sign_in(served.url, served.keys[(OTHER_SECTOR, Role.analyst)])) as client:
        sent = {"Sec-Fetch-Site": fetch_site} if fetch_site else {}
        linked = client.get("/?lang=en", headers=sent)
        assert parse(linked.text).find(".//html").attrib["lang"] == "en"  # shown, not kept
        assert "gongyu_lang" not in linked.headers.get("set-cookie", "")
        later = client.get("/", headers={"Sec-Fetch-Site": "same-origin"})
        assert parse(later.text).find(".//html").attrib["lang"] == "ko"
        # Typed or bookmarked by the viewer: remembered.
        typed = client.get("/?lang=en", headers={"Sec-Fetch-Site": "none"})
        assert "gongyu_lang=en" in typed.headers["set-cookie"]


def test_pages_use_nothing_from_outside_our_origin(clients, served: World) -> None:
    client = clients[(OWNER, Role.steward)]
    pages = [*PAGES, "/steward", "/signin"]
    for path in pages:
        answer = client.get(path, follow_redirects=True)
        assert answer.status_code == 200, path
        csp = answer.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        for element in parse(answer.text).iter():
            for name in ("src", "href", "action", "xlink:href", "srcset", "formaction"):
                value = element.get(name)
                if value and OUTSIDE.match(value):
                    assert value.startswith(served.url), f"{path}: <{element.tag} {name}={value}>"
        assert not re.search(r"<script(?![^>]*\bsrc=\"/static/)", answer.text), "inline script"
    for asset in ("style.css", "console.js"):
        shipped = client.get(f"/static/{asset}")
        assert shipped.status_code == 200
        assert "http:" not in shipped.text and "https:" not in shipped.text
