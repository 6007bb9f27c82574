"""The search page's "did you mean", facets, marked matching columns and starter queries, and the
console they open, over HTTP on loopback with a signed-in session, in Korean and English."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit
from xml.etree.ElementTree import Element

import httpx
import pytest

from api.web.search_view import segments
from catalog.access.principal import Role
from catalog.search import QueryWord, query_words
from tests.api.catalog_world import AIR, catalog_world
from tests.api.web_session import parse, sign_in, text
from tests.api.world import OTHER_SECTOR, World


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with catalog_world(tmp_path_factory.mktemp("search_pages")) as w:
        yield w


@pytest.fixture(scope="module")
def client(served: World) -> Iterator[httpx.Client]:
    """An analyst of another sector's agency, signed in like a browser."""
    signed = sign_in(served.url, served.keys[(OTHER_SECTOR, Role.analyst)])
    yield signed
    signed.close()


def get(client: httpx.Client, path: str, **params: str) -> Element:
    """A page as a tree, after checking it was served."""
    # No `params` when none: httpx would drop the query the path carries.
    answer = client.get(path, params=params) if params else client.get(path)
    assert answer.status_code == 200, (path, answer.text[:500])
    return parse(answer.text)


def hits(page: Element) -> dict[str, Element]:
    """The listed hits by dataset id."""
    return {
        text(li.find("./div/code")): li
        for li in page.iterfind(".//div[@class='hits']//li[@class='dataset']")
    }


def found(page: Element) -> int:
    """The number of matches the page reports."""
    return int(re.sub(r"\D", "", text(page.find(".//p[@id='found']"))))


def facet(page: Element, key: str) -> dict[str, tuple[Element, int]]:
    """A facet's values: value → (its link, its count)."""
    section = page.find(f".//aside[@id='facets']/section[@data-facet='{key}']")
    assert section is not None, f"no {key} facet"
    return {
        a.attrib["data-value"]: (a, int(re.sub(r"\D", "", text(li.find("./span[@class='n']")))))
        for li in section.iterfind(".//li")
        for a in li.iterfind("./a")
    }


def test_a_typo_offers_the_corrected_query(client: httpx.Client) -> None:
    page = get(client, "/search", q="air qualty")
    link = page.find(".//p[@id='suggestion']/a")
    assert link is not None, "no did-you-mean"
    assert text(link).startswith("혹시 ‘") and text(link).endswith("’을(를) 찾으셨나요?")
    corrected = parse_qs(urlsplit(link.attrib["href"]).query)["q"][0]
    assert "quality" in corrected and corrected in text(link)
    assert AIR in hits(get(client, link.attrib["href"]))
    # What the index found through the correction and its synonyms is marked.
    assert list(hits(page)[AIR].iter("mark"))
    # A query that is fine is not corrected.
    assert get(client, "/search", q="미세먼지").find(".//p[@id='suggestion']") is None


def test_facets_count_the_matches_and_narrow_them(client: httpx.Client, served: World) -> None:
    page = get(client, "/search")
    sectors = facet(page, "sector")
    assert len(sectors) > 1 and sum(n for _, n in sectors.values()) == found(page)
    assert set(facet(page, "access")) <= {"public", "sector", "restricted", "private"}
    link, count = sectors["environment_energy"]
    sector = served.platform.registry.sector("environment_energy")
    assert sector is not None and text(link) == sector.name  # its Korean name, not its id
    narrowed = get(client, link.attrib["href"])
    assert found(narrowed) == count and AIR in hits(narrowed)
    assert all(
        text(li.find(".//p[@class='meta']/a")) == text(link) for li in hits(narrowed).values()
    )
    # The filter in use is shown, chosen in its facet, and removable.
    chip = narrowed.find(".//ul[@id='active-filters']/li/a[@data-filter='sector']")
    assert chip is not None and text(link) in text(chip)
    active, _ = facet(narrowed, "sector")["environment_energy"]
    assert active.attrib.get("aria-current") == "true"
    assert found(get(client, chip.attrib["href"])) == found(page)


def test_a_facet_link_keeps_the_query_and_other_filters(client: httpx.Client) -> None:
    page = get(client, "/search", q="서울", kind="dataset", page="1")
    link, _ = facet(page, "sector")["environment_energy"]
    params = parse_qs(urlsplit(link.attrib["href"]).query)
    assert params == {"q": ["서울"], "kind": ["dataset"], "sector": ["environment_energy"]}


def test_matched_columns_are_shown_with_the_words_marked(client: httpx.Client) -> None:
    page = get(client, "/search", q="서울 미세먼지")
    air = hits(page)[AIR]
    table = air.find(".//table[@class='matched-columns']")
    assert table is not None, "no matched columns"
    rows = {text(tr.find("./td")): tr for tr in table.iterfind("./tbody/tr")}
    assert "pm10_ugm3" in rows
    marks = {text(m) for m in rows["pm10_ugm3"].iter("mark")}
    assert "미세먼지" in marks and marks <= {"미세먼지", "pm10", "PM10"}  # and its synonym
    # The mark is inside the column's own words, the rest of which stay plain.
    assert "미세먼지농도" in text(rows["pm10_ugm3"])
    # What the index looked for is marked: the word without its particle, not the phrase.
    said = hits(get(client, "/search", q="미세먼지가 심했던 날"))[AIR]
    assert "미세먼지" in {text(m) for m in said.iter("mark")}


def test_the_starter_query_opens_the_console_filled_in(client: httpx.Client) -> None:
    air = hits(get(client, "/search", q="서울 미세먼지"))[AIR]
    link = air.find(".//a[@class='open-console']")
    assert link is not None and text(link) == "콘솔에서 열기"
    assert link.attrib["href"].startswith("/console?sql=")
    sql = parse_qs(urlsplit(link.attrib["href"]).query)["sql"][0]
    assert sql.lstrip().upper().startswith("SELECT") and "seoul_daily_air_quality" in sql
    console = get(client, link.attrib["href"])
    assert console.find(".//textarea[@id='sql']").text == sql
    # Filled in, not run: the results table waits for the viewer.
    assert "hidden" in console.find(".//table[@id='results']").attrib


def test_the_console_fills_in_any_text_escaped_and_not_too_much(client: httpx.Client) -> None:
    hostile = "SELECT 1 </textarea><script>alert(1)</script><textarea>"
    answer = client.get("/console", params={"sql": hostile})
    assert answer.status_code == 200
    assert "<script>alert" not in answer.text and "&lt;/textarea&gt;" in answer.text
    page = parse(answer.text)
    assert page.find(".//textarea[@id='sql']").text == hostile
    assert len(page.findall(".//textarea")) == 1
    assert all(s.attrib.get("src", "").startswith("/static/") for s in page.iter("script"))
    longest = "SELECT " + "x" * 3993
    filled = get(client, "/console", sql=longest)
    assert filled.find(".//textarea[@id='sql']").text == longest
    assert filled.find(".//p[@id='sql-too-long']") is None
    over = get(client, "/console", sql=longest + "x")
    assert not over.find(".//textarea[@id='sql']").text
    assert over.find(".//p[@id='sql-too-long']") is not None


def test_filter_values_are_shown_escaped(client: httpx.Client) -> None:
    answer = client.get("/search", params={"tag": "<script>x</script>"})
    assert answer.status_code == 200
    assert "<script>x" not in answer.text
    chip = parse(answer.text).find(".//ul[@id='active-filters']/li/a[@data-filter='tag']")
    assert chip is not None and "<script>x</script>" in text(chip)


def test_in_english(client: httpx.Client, served: World) -> None:
    page = get(client, "/search", q="air qualty", lang="en")
    assert text(page.find(".//p[@id='suggestion']/a")).startswith("Did you mean ‘")
    assert text(page.find(".//aside[@id='facets']/h2")) == "Narrow the results"
    corrected = get(client, "/search", q="air quality", lang="en")
    link, _ = facet(corrected, "sector")["environment_energy"]
    sector = served.platform.registry.sector("environment_energy")
    assert sector is not None and text(link) == sector.name_en
    air = hits(corrected)[AIR]
    assert text(air.find(".//a[@class='open-console']")) == "Open in the console"
    headers = [text(th) for th in air.iterfind(".//table[@class='matched-columns']/thead/tr/th")]
    assert headers == ["Column", "Title", "Description", "Type"]
    assert (
        text(get(client, "/search", lang="ko").find(".//aside[@id='facets']/h2")) == "결과 좁히기"
    )


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_home_pages_examples_search(client: httpx.Client, lang: str) -> None:
    home = get(client, "/", lang=lang)
    assert home.find(".//form[@class='bigsearch']/input[@name='q']").attrib["maxlength"] == "200"
    examples = home.findall(".//p[@id='search-examples']/a")
    assert len(examples) == 3 and all(a.attrib["href"].startswith("/search?q=") for a in examples)
    for example in examples:
        assert hits(get(client, example.attrib["href"])), text(example)


@pytest.mark.parametrize(
    ("value", "words", "marked"),
    [
        ("초미세먼지농도(㎍/㎥)", query_words("미세먼지"), ["미세먼지"]),
        ("ＰＭ10 daily", query_words("pm10"), ["ＰＭ10"]),  # normalised as the index does
        ("pm10_ugm3", query_words("ugm"), ["ugm"]),  # an id's parts are words
        ("no2_ppm", query_words("pm"), []),  # a Latin word matches at a word's start only
        ("pm10 pm25", [QueryWord("pm1", hangul=False, prefix=False)], []),  # a synonym: whole
        ("<b>미세먼지</b> & co", query_words("미세 co"), ["미세", "co"]),
        ("서울 서울시", query_words("서울"), ["서울", "서울"]),
    ],
)
def test_marks_follow_the_indexs_words(
    value: str, words: list[QueryWord], marked: list[str]
) -> None:
    runs = segments(value, words)
    assert "".join(run for run, _ in runs) == value
    assert [run for run, match in runs if match] == marked
