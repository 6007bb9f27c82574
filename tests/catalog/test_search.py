"""Catalog search over the shipped contracts: Korean partial words without spaces, English word
prefixes, every content word must match, particles and endings dropped, synonyms across
languages, 초성, typos, matched columns, incremental updates, field weights, filters, joint
products after their inputs."""

from __future__ import annotations

import pytest

from catalog.search import Match, SearchIndex, query_words, sources_first, terms
from catalog.search.analysis import Role, analyse
from catalog.search.chosung import initials
from catalog.search.starter import starter_sql
from catalog.search.synonyms import synonyms
from catalog.search.typos import Corrector
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


def test_every_content_word_must_match_else_most_of_them(index: SearchIndex) -> None:
    # The energy product's title names 미세먼지 too: it is found, after Seoul's own data.
    assert set(ids(index, "미세먼지 서울")) == {AIR, f"{AIR}_2017", ENERGY}
    # No dataset holds both words: those holding one of the two (half) are found instead, as
    # a question names words no dataset says.
    either = ids(index, "미세먼지 음주")
    assert {AIR, "police_drunk_driving_detections"} <= set(either)
    # With three words, one is not enough: at least half must match.
    assert ids(index, "미세먼지 음주 장학금") == []
    assert ids(index, "없는말") == []
    assert index.suggest("없는말") is None


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


@pytest.mark.parametrize(
    "query",
    [
        "fine dust",
        "미세먼지",
        "서울 미세먼지가 심했던 날",
        "ㅁㅅㅁㅈ",
        "미세먼저",
        "fine dsut",
        "대기질",
    ],
)
def test_seouls_air_quality_is_found_however_it_is_asked_for(
    index: SearchIndex, query: str
) -> None:
    assert AIR in ids(index, query)[:3]


def test_particles_and_endings_are_not_required() -> None:
    assert analyse("미세먼지가") == ("미세먼지", Role.required)
    assert analyse("교통사고는") == ("교통사고", Role.required)
    assert analyse("대기오염도") == ("대기오염", Role.required)
    assert analyse("심했던") == ("심하", Role.optional)  # a predicate describes: optional
    assert analyse("혼잡도") == ("혼잡도", Role.required)  # 도 here is a noun, not a particle


def test_a_particle_only_difference_finds_the_same(index: SearchIndex) -> None:
    assert ids(index, "교통사고는") == ids(index, "교통사고")
    assert ids(index, "미세먼지가 심한") == ids(index, "미세먼지")
    # Stopwords (데이터, 보여줘, 날) are dropped, unless a query holds nothing else.
    assert ids(index, "음주운전 데이터 보여줘") == ids(index, "음주운전")
    assert ids(index, "데이터")


@pytest.mark.parametrize(
    ("one", "other", "expected"),
    [
        ("미세먼지", "fine dust", AIR),
        ("초미세먼지", "PM2.5", AIR),
        ("교통사고", "traffic accident", ACCIDENTS),
        ("주유소", "gas station", "motie_gas_station_registrations"),
        ("음주운전", "DUI", DRUNK),
        ("도로교통공단", "KoROAD", ACCIDENTS),
        ("한국교통안전공단", "KOTSA", "kotsa_car_inspection_centers"),
        ("경찰청", "police", DRUNK),
        ("발전", "power generation", POWER),
    ],
)
def test_synonyms_find_each_other_both_ways(
    index: SearchIndex, one: str, other: str, expected: str
) -> None:
    assert expected in ids(index, one)[:3]
    assert expected in ids(index, other)[:3]


def test_the_synonyms_file_is_versioned_and_curated() -> None:
    table = synonyms()
    assert table.version >= 1
    assert len(table.groups) >= 60
    assert "air quality" in table.of("미세먼지") and "미세먼지" in table.of("Fine Dust")
    assert "KECO" in table.of("한국환경공단")
    assert table.stop("보여줘") and not table.stop("미세먼지")


def test_chosung_finds_words_by_their_initial_consonants(index: SearchIndex) -> None:
    assert initials("미세먼지") == "ㅁㅅㅁㅈ"
    assert ids(index, "ㄱㅌㅅㄱ")[0] == ACCIDENTS
    assert ids(index, "ㅎㅎㅎㅎㅎ") == []


def test_typos_are_corrected_and_suggested(index: SearchIndex) -> None:
    assert index.suggest("미세먼저") == "미세먼지"
    assert index.suggest("교통사교") == "교통사고"
    assert index.suggest("fine dsut") == "fine dust"
    assert ids(index, "교통사교")[0] == ACCIDENTS
    assert index.suggest("미세먼지") is None
    # Short words have too many neighbours to guess from.
    assert Corrector({"먼지": 1}).correct("먼저") is None


def test_matched_columns_are_named(index: SearchIndex) -> None:
    [match, *_] = index.search("초미세먼지")
    assert match.dataset_id == AIR
    assert match.columns == ("pm25_ugm3",)
    assert "pm10_ugm3" in index.search("fine dust")[0].columns  # through a synonym
    assert "blood_alcohol" in index.search("혈중알코올")[0].columns


def test_the_index_is_updated_contract_by_contract() -> None:
    contracts = load_contracts()
    index = SearchIndex([c for c in contracts if c.id != DRUNK], default_registry())
    assert DRUNK not in ids(index, "음주운전")
    index.add(next(c for c in contracts if c.id == DRUNK))
    assert ids(index, "음주운전")[0] == DRUNK
    index.add(next(c for c in contracts if c.id == DRUNK))  # a new version replaces the old
    assert ids(index, "음주운전").count(DRUNK) == 1
    index.remove(DRUNK)
    assert DRUNK not in ids(index, "음주운전") and index.size == len(contracts) - 1
    assert DRUNK not in ids(index, "")
    index.remove("no_such_dataset")


def test_starter_sql_selects_matched_columns_and_filters_places_and_years() -> None:
    contracts = {c.id: c for c in load_contracts()}
    accidents = contracts[ACCIDENTS]
    sql = starter_sql(accidents, "서울 교통사고 2022", ("sido", "deaths"))
    assert sql == (
        'SELECT "sido", "deaths" FROM "welfare_safety"."koroad_fatal_traffic_accidents" '
        'WHERE "year" = 2022 AND "sido" LIKE \'%서울%\' LIMIT 100'
    )
    first = starter_sql(contracts[AIR], "미세먼지", ())
    assert first.startswith('SELECT "measured_on", "station", "no2_ppm", "o3_ppm", "co_ppm" FROM')
