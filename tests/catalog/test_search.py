"""Catalog search over the shipped contracts: Korean partial words without spaces, English word
prefixes, every word must match, field weights, filters, joint products after their inputs."""

from __future__ import annotations

import pytest

from catalog.search import Match, SearchIndex, query_words, sources_first, terms
from contracts.loader import load_contracts
from sectors.registry import default_registry

AIR = "seoul_daily_air_quality"
DRUNK = "police_drunk_driving_detections"
ACCIDENTS = "koroad_fatal_traffic_accidents"
POWER = "regional_power_generation_by_fuel"
# The shipped joint products (their titles repeat their inputs' words).
ENERGY = "seoul_air_quality_and_thermal_power"
ROADS = "road_deaths_and_drunk_driving_by_month"


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    return SearchIndex(load_contracts(), default_registry())


def ids(index: SearchIndex, query: str, **filters: str) -> list[str]:
    return [m.dataset_id for m in index.search(query, **filters)]


def test_hangul_becomes_bigrams_and_its_last_syllable_latin_stays_words() -> None:
    assert terms("대기오염 PM2.5 seoul_daily") == "대기 기오 오염 염 pm2 5 seoul daily"
    # Spacing inside Korean text varies: bigrams run across it.
    assert terms("대기 오염") == terms("대기오염")
    # NFKC and case folding: full-width letters and digits, compatibility units.
    assert terms("ＰＭ１０ ㎍") == "pm10 μg"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("미세먼지", AIR),
        ("먼지", AIR),  # two syllables inside 미세먼지
        ("대기", AIR),  # inside 대기오염도
        ("대기오염", AIR),
        ("대기 오염", AIR),
        ("air qual", AIR),  # an English word's prefix
        ("Air Quality", AIR),
        ("PM2.5", AIR),
        ("음주", DRUNK),  # inside 음주운전
        ("drunk driving", DRUNK),
        ("혈중알코올", DRUNK),  # a column's file header
        ("교통사고 사망", ACCIDENTS),
        ("화력", POWER),
        ("지하철 혼잡", "seoul_metro_congestion"),
        ("scholar", "kosaf_scholarships_by_university"),
    ],
)
def test_korean_and_english_queries_find_the_dataset_first(
    index: SearchIndex, query: str, expected: str
) -> None:
    assert ids(index, query)[0] == expected


def test_every_word_must_match(index: SearchIndex) -> None:
    # The energy product's title names 미세먼지 too: it is found, after Seoul's own data.
    assert set(ids(index, "미세먼지")) == {AIR, f"{AIR}_2017", ENERGY}
    assert ids(index, "미세먼지 음주") == []
    assert ids(index, "없는말") == []


def test_a_single_syllable_matches_anywhere(index: SearchIndex) -> None:
    # 류 ends words (물류 in SOC·교통·물류): the last syllable of a run is indexed too.
    found = index.search("류")
    assert "kotsa_car_inspection_centers" in {m.dataset_id for m in found}
    assert all(index.fields(m, "류") for m in found)


def test_matched_fields_are_named(index: SearchIndex) -> None:
    [match, *_] = index.search("음주")
    assert match.dataset_id == DRUNK
    assert {"title", "tags"} <= set(index.fields(match, "음주"))
    [match, *_] = index.search("경찰청")
    assert "publisher" in index.fields(match, "경찰청")


def test_a_title_match_outranks_a_description_match(index: SearchIndex) -> None:
    # 서울 is in the titles of the Seoul datasets and only in descriptions elsewhere.
    ranked = ids(index, "서울")
    titled = {AIR, f"{AIR}_2017", "seoul_metro_congestion", ENERGY}
    assert set(ranked[: len(titled)]) == titled


def test_filters_and_an_empty_query(index: SearchIndex) -> None:
    everything = ids(index, "")
    assert len(everything) == len(load_contracts())
    assert set(ids(index, "", sector="welfare_safety")) == {
        DRUNK,
        "police_crime_by_region_2015",
        ACCIDENTS,
        ROADS,
    }
    assert ids(index, "", access="restricted") == [DRUNK]
    assert set(ids(index, "", agency="seoul")) == {AIR, f"{AIR}_2017"}
    assert ids(index, "미세먼지", sector="welfare_safety") == []


def test_query_words_split_at_spaces_and_scripts() -> None:
    words = query_words("대기 오염PM10")
    assert [(w.text, w.hangul) for w in words] == [("대기", True), ("오염", True), ("pm10", False)]
    # Quotes and FTS5 operators in a query are not words: they cannot change the expression.
    assert [w.text for w in query_words('"먼지" OR NEAR(*)')] == ["먼지", "or", "near"]


@pytest.mark.parametrize(
    ("query", "source", "product"),
    [
        ("음주", DRUNK, ROADS),
        ("drunk driving", DRUNK, ROADS),
        ("교통사고 사망", ACCIDENTS, ROADS),
        ("미세먼지", AIR, ENERGY),
        ("서울", AIR, ENERGY),
        ("발전량", POWER, ENERGY),
    ],
)
def test_a_product_comes_after_the_datasets_it_reads(
    index: SearchIndex, query: str, source: str, product: str
) -> None:
    # Its title repeats its inputs' words, so BM25 alone would put it first (or level): the
    # agency's own data leads, the product is found right behind it, never scored above it.
    found = index.search(query)
    ranked = [m.dataset_id for m in found]
    assert ranked.index(source) < ranked.index(product)
    scores = {m.dataset_id: m.score for m in found}
    assert scores[product] <= scores[source]
    assert [m.score for m in found] == sorted((m.score for m in found), reverse=True)


def test_products_are_found_by_their_own_words_and_filtered_by_kind(index: SearchIndex) -> None:
    assert set(ids(index, "공동 상품")[:2]) == {ENERGY, ROADS}
    assert set(ids(index, "joint product")) == {ENERGY, ROADS}
    assert set(ids(index, "", kind="product")) == {ENERGY, ROADS}
    assert ids(index, "음주", kind="product") == [ROADS]
    assert ids(index, "음주", kind="dataset") == [DRUNK]
    everything = ids(index, "")
    assert set(ids(index, "", kind="dataset")) == set(everything) - {ENERGY, ROADS}
    # A column of the product (thermal_mwh) finds it as a dataset's column finds the dataset.
    assert ids(index, "thermal_mwh") == [ENERGY]


def test_sources_first_moves_a_product_after_its_matched_inputs_only() -> None:
    inputs = {0: ("a", "b"), 1: ("p",)}  # p reads a and b; q reads p
    ranked = [Match(0, "p", 9.0), Match(1, "q", 8.0), Match(2, "a", 5.0), Match(3, "x", 4.0)]
    moved = sources_first(ranked, inputs)
    # b did not match: p waits for a only; q waits for p; both take a's score.
    assert [(m.dataset_id, m.score) for m in moved] == [
        ("a", 5.0),
        ("p", 5.0),
        ("q", 5.0),
        ("x", 4.0),
    ]
    assert sources_first(ranked[1:], inputs) == ranked[1:]  # p did not match: q stays
