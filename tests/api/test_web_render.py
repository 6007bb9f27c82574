"""The pages' parts without a server: the message catalogue, the drawings' geometry, and the
dataset template rendered from models built here (states the demo data does not reach)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from starlette.requests import Request

from api.app import create_app
from api.web import charts, pages
from api.web import contracts as contract_pages
from api.web.i18n import Lang, Translator, catalogue
from api.web.render import TEMPLATES, page
from catalog.access.principal import Role
from catalog.contract_reviews import ReviewState
from catalog.deliveries import DeliveryState
from catalog.entries import (
    ColumnEntry,
    ContractVersionEntry,
    DatasetEntry,
    DatasetSummary,
    Lineage,
    LineageEdge,
    LineageNode,
    PublishedAs,
    QualityPoint,
    Sample,
    SnapshotEntry,
)
from catalog.freshness import Freshness, FreshnessState
from catalog.search import FIELDS
from contracts.model import GENERALISATION_LEVELS, AccessLevel, Classification, LogicalType
from gongyu.ground.settings import Settings
from gongyu.platform import Platform
from quality.drafting import CADENCES
from tests.api.web_session import parse, text

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")
LITERAL_KEY = re.compile(r"""\bt(?:\.get)?\(\s*'([a-z_.0-9]*[a-z_0-9])'\s*[,)]""")


def template_sources() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(TEMPLATES.glob("*.html"))}


def test_every_label_is_in_both_languages() -> None:
    messages = catalogue()
    assert all(m.ko.strip() and m.en.strip() for m in messages.values())
    used = {k for src in template_sources().values() for k in LITERAL_KEY.findall(src)}
    code = "".join(p.read_text(encoding="utf-8") for p in TEMPLATES.parent.glob("*.py"))
    keys = re.findall(r'"((?:error|signin|steward|contracts)\.[a-z_]+)"', code)
    used |= {k for k in keys if not k.endswith(".html")}  # template names look alike
    dynamic = [
        *(f"access.{a}" for a in AccessLevel),
        *(f"access_help.{a}" for a in AccessLevel),
        *(f"freshness.{f}" for f in FreshnessState),
        *(f"freshness_help.{f}" for f in FreshnessState),
        *(f"state.{s}" for s in DeliveryState),
        *(f"role.{r}" for r in Role),
        *(f"classification.{c}" for c in Classification),
        *(f"published_as.{p}" for p in PublishedAs),
        *(f"generalisation.{g}" for g in GENERALISATION_LEVELS if g != "suppress"),
        *(f"lineage.kind.{k}" for k in ("delivery", "table", "reader")),
        *(f"field.{f}" for f in FIELDS),
        *(f"error.title_{s}" for s in (400, 403, 404, 413)),
        *(f"contract_state.{s}" for s in ReviewState),
        *(f"contracts.done_{d}" for d in contract_pages.DONE),
        *(f"contracts.error_{s}" for s in (400, 403, 404, 409, 422)),
        *(f"cadence.{c}" for c in CADENCES),
        *(f"logical_type.{x}" for x in LogicalType),
    ]
    missing = sorted(k for k in (*used, *dynamic) if k not in messages)
    assert not missing, f"add to api/web/messages.yaml: {missing}"
    # Placeholders agree between the languages.
    for key, m in messages.items():
        fields = [sorted(re.findall(r"\{(\w+)\}", s)) for s in (m.ko, m.en)]
        assert fields[0] == fields[1], key


def test_templates_hold_no_korean_words() -> None:
    """Korean (like English) comes from the catalogue, never from a template."""
    for name, source in template_sources().items():
        assert not HANGUL.search(source), f"{name} has Korean text: move it to messages.yaml"


def test_a_translator_speaks_one_language() -> None:
    assert Translator(Lang.ko)("nav.search") == "검색"
    assert Translator(Lang.en)("count.rows_n", n="1,234") == "1,234 rows"
    assert Translator(Lang.en).get("field.nonexistent", "nonexistent") == "nonexistent"
    with pytest.raises(KeyError):
        Translator(Lang.ko)("no.such.key")


def point(day: int, state: str, passed: int, failed: int = 0, warnings: int = 0) -> QualityPoint:
    return QualityPoint(
        delivery_id=f"d{day}",
        at=NOW + timedelta(days=day),
        state=state,
        passed=passed,
        failed=failed,
        warnings=warnings,
    )


def test_quality_columns_split_checks_by_outcome() -> None:
    chart = charts.quality_chart(
        [point(2, "quarantined", 6, failed=2), point(1, "published", 7, warnings=1)]
    )
    assert chart is not None
    assert [b.point.delivery_id for b in chart.bars] == ["d1", "d2"]  # oldest first
    first, second = chart.bars
    assert [(s.kind, s.height) for s in first.segments] == [("passed", 105.0), ("warnings", 15.0)]
    assert [(s.kind, s.height) for s in second.segments] == [("passed", 90.0), ("failed", 30.0)]
    assert second.segments[-1].y == charts.PLOT_TOP  # stacked up to the top
    refused = charts.quality_chart([point(1, "quarantined", 0)])
    assert refused is not None and refused.bars[0].segments[0].kind == "failed"
    assert charts.quality_chart([]) is None


def test_many_deliveries_keep_the_newest_columns() -> None:
    points = [point(d, "published", 3) for d in range(charts.MAX_BARS + 5)]
    chart = charts.quality_chart(points)
    assert chart is not None and len(chart.bars) == charts.MAX_BARS and chart.omitted == 5
    assert chart.bars[-1].point.delivery_id == f"d{charts.MAX_BARS + 4}"
    assert chart.bars[-1].x + chart.bars[-1].width <= chart.width


def test_lineage_reads_left_to_right() -> None:
    deliveries = [
        LineageNode(id=f"d{i}", kind="delivery", label=f"delivery {i}") for i in range(15)
    ]
    nodes = [
        *deliveries,
        LineageNode(id="t", kind="table", label="environment_energy.seoul_daily_air_quality"),
        LineageNode(
            id="r", kind="reader", label="한국교통안전공단 한국교통안전공단 한국교통안전공단"
        ),
    ]
    edges = [LineageEdge(source=n.id, target="t") for n in deliveries]
    graph = charts.lineage_graph(
        Lineage(nodes=nodes, edges=[*edges, LineageEdge(source="t", target="r")])
    )
    assert graph is not None
    x = {b.node.id: b.x for b in graph.boxes}
    assert x["d14"] < x["t"] < x["r"]
    assert "d0" not in x  # beyond the column's room: counted in a `more` box instead
    (more,) = [b for b in graph.boxes if b.node.kind == "more"]
    assert more.hidden == 15 - charts.MAX_PER_COLUMN
    assert len(graph.arrows) == charts.MAX_PER_COLUMN + 1
    reader = next(b for b in graph.boxes if b.node.id == "r")
    assert reader.label.endswith("…") and len(reader.label) <= charts.LABEL_UNITS // 2 + 1
    assert charts.lineage_graph(Lineage(nodes=[], edges=[])) is None


def test_freshness_bar_marks_overdue() -> None:
    stale = Freshness(
        dataset_id="x",
        state=FreshnessState.stale,
        max_age=timedelta(days=1),
        last_published_at=NOW - timedelta(days=3),
        age=timedelta(days=3),
        due_by=NOW - timedelta(days=2),
        checked_at=NOW,
    )
    bar = charts.freshness_bar(stale)
    assert bar is not None and bar.overdue and bar.fill == bar.width  # capped at the track's end
    never = stale.model_copy(update={"age": None, "state": FreshnessState.never_published})
    assert charts.freshness_bar(never) is None


def built_entry() -> DatasetEntry:
    """An entry in states the demo does not reach: stale, a breaking version, hidden usage."""
    summary = DatasetSummary(
        id="seoul_noise",
        title="서울시 소음 측정",
        description="자치구별 소음",
        sector="environment_energy",
        sector_name="환경·에너지",
        agency="seoul",
        agency_name="서울특별시",
        access=AccessLevel.sector,
        tags=["소음"],
        freshness="stale",
        last_published_at=NOW - timedelta(days=40),
        readable=True,
    )
    freshness = Freshness(
        dataset_id="seoul_noise",
        state=FreshnessState.stale,
        max_age=timedelta(days=31),
        last_published_at=NOW - timedelta(days=40),
        age=timedelta(days=40, hours=3),
        due_by=NOW - timedelta(days=9),
        checked_at=NOW,
    )
    return DatasetEntry(
        summary=summary,
        agency_contact="data@seoul.go.kr",
        how_to_request="간사기관에 문의",
        table="environment_energy.seoul_noise",
        columns=[
            ColumnEntry(
                name="gu",
                physical_name="자치구",
                type="string",
                classification=Classification.none,
                examples=["종로구"],
            ),
            ColumnEntry(
                name="complaints",
                physical_name="complaints",
                type="integer",
                classification=Classification.sensitive,
                masked=True,
            ),
            ColumnEntry(
                name="decibels",
                physical_name="소음도",
                type="integer",
                classification=Classification.quasi_identifier,
                published_as=PublishedAs.generalised,
                generalisation="round_10",
                examples=[70],
            ),
            ColumnEntry(
                name="address",
                physical_name="주소",
                type="string",
                classification=Classification.quasi_identifier,
                published_as=PublishedAs.withheld,
                generalisation="suppress",
            ),
        ],
        k=5,
        rows_withheld=1234,
        versions=[
            ContractVersionEntry(
                version="1.0.0",
                recorded_at=NOW,
                table_version=1,
                iceberg_table="environment_energy.seoul_noise",
            ),
            ContractVersionEntry(
                version="2.0.0",
                recorded_at=NOW,
                table_version=2,
                iceberg_table="environment_energy.seoul_noise_v2",
                changes=[{"kind": "breaking", "path": "schema.gu", "message": "type changed"}],
            ),
        ],
        quality=[point(1, "published", 5), point(2, "quarantined", 3, failed=2)],
        freshness=freshness,
        snapshots=[
            SnapshotEntry(
                snapshot_id=42,
                table="environment_energy.seoul_noise_v2",
                at=NOW,
                rows=3,
                current=True,
            )
        ],
        lineage=Lineage(nodes=[], edges=[]),
        usage=[],
        usage_shown=False,
        sample=Sample(columns=["gu", "complaints"], rows=[["종로구", None]]),
    )


@pytest.mark.parametrize("lang", list(Lang))
def test_the_dataset_template_draws_a_built_entry(tmp_path: Path, lang: Lang) -> None:
    app = create_app(Platform(Settings(home=tmp_path / "ws")))
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/datasets/seoul_noise",
        "query_string": f"lang={lang}".encode(),
        "headers": [],
        "app": app,
    }
    answer = page(
        Request(scope), "dataset.html", session=None, **pages.dataset_context(built_entry())
    )
    html = parse(answer.body.decode())
    t = Translator(lang)
    assert text(html.find(".//h1")) == "서울시 소음 측정"
    assert html.find(".//svg[@class='freshness-bar overdue']") is not None
    badge = html.find(".//li[@class='change breaking']/span")
    assert text(badge) == t("change.breaking")
    assert text(html.find(".//section[@id='usage']/p")) == t("usage.hidden")
    assert t("duration.days_hours", days=40, hours=3) in text(
        html.find(".//section[@id='freshness']")
    )
    cells = html.findall(".//table[@id='sample-rows']/tbody/tr/td")
    assert [c.get("class") for c in cells] == ["", "masked null"] and text(cells[1]) == ""
    assert html.find(".//section[@id='lineage']/p[@class='empty']") is not None
    (as_of,) = html.iterfind(".//a[@class='as-of']")
    assert "as_of=42" in as_of.attrib["href"]
    # The schema says how each column is published, in the page's language.
    published = {
        text(tr.find("./th/code")): text(tr.find("./td[@class='published']"))
        for tr in html.iterfind(".//table[@class='schema']/tbody/tr")
    }
    assert published == {
        "gu": t("published_as.as_delivered"),
        "complaints": t("published_as.as_delivered"),
        "decibels": t("published_as.generalised") + " " + t("generalisation.round_N", n=10),
        "address": t("published_as.withheld"),
    }
    withheld = text(html.find(".//p[@id='rows-withheld']"))
    assert withheld == t("schema.rows_withheld", rows="1,234", k=5)


def test_long_lists_are_paged_keeping_the_query(tmp_path: Path) -> None:
    app = create_app(Platform(Settings(home=tmp_path / "ws")))
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/search",
        "query_string": urlencode({"q": "대기", "page": 2}).encode(),
        "headers": [],
        "app": app,
    }
    items = list(range(60))
    shown = pages.pager(Request(scope), pages.window(items, 2), len(items), 2)
    assert list(shown.items) == list(range(pages.PAGE_SIZE, 2 * pages.PAGE_SIZE))
    assert shown.previous == "/search?q=%EB%8C%80%EA%B8%B0&page=1"
    assert shown.next == "/search?q=%EB%8C%80%EA%B8%B0&page=3"
    last = pages.pager(Request(scope), pages.window(items, 3), len(items), 3)
    assert len(last.items) == 60 - 2 * pages.PAGE_SIZE and last.next is None
