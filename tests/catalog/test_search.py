"""Catalog search over the shipped contracts: Korean partial words without spaces, English word
prefixes, every word must match, field weights, filters."""

from __future__ import annotations

import pytest

from catalog.search import SearchIndex, query_words, terms
from contracts.loader import load_contracts
from sectors.registry import default_registry

AIR = "seoul_daily_air_quality"
DRUNK = "police_drunk_driving_detections"


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
        ("교통사고 사망", "koroad_fatal_traffic_accidents"),
        ("지하철 혼잡", "seoul_metro_congestion"),
        ("scholar", "kosaf_scholarships_by_university"),
    ],
)
def test_korean_and_english_queries_find_the_dataset_first(
    index: SearchIndex, query: str, expected: str
) -> None:
    assert ids(index, query)[0] == expected


def test_every_word_must_match(index: SearchIndex) -> None:
    assert set(ids(index, "미세먼지")) == {AIR, f"{AIR}_2017"}
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
    titled = {AIR, f"{AIR}_2017", "seoul_metro_congestion"}
    assert set(ranked[: len(titled)]) == titled


def test_filters_and_an_empty_query(index: SearchIndex) -> None:
    everything = ids(index, "")
    assert len(everything) == len(load_contracts())
    assert set(ids(index, "", sector="welfare_safety")) == {
        DRUNK,
        "police_crime_by_region_2015",
        "koroad_fatal_traffic_accidents",
    }
    assert ids(index, "", access="restricted") == [DRUNK]
    assert set(ids(index, "", agency="seoul")) == {AIR, f"{AIR}_2017"}
    assert ids(index, "미세먼지", sector="welfare_safety") == []


def test_query_words_split_at_spaces_and_scripts() -> None:
    words = query_words("대기 오염PM10")
    assert [(w.text, w.hangul) for w in words] == [("대기", True), ("오염", True), ("pm10", False)]
    # Quotes and FTS5 operators in a query are not words: they cannot change the expression.
    assert [w.text for w in query_words('"먼지" OR NEAR(*)')] == ["먼지", "or", "near"]
