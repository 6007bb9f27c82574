"""Geometry of the dataset page's drawings (quality history, freshness, lineage), computed here
so the templates only place shapes; the SVG is written by the templates, escaped like all text."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from catalog.entries import Lineage, LineageNode, QualityPoint
from catalog.freshness import Freshness

# Quality chart: a column per delivery in a 640-wide view box.
CHART_WIDTH = 640
PLOT_TOP, PLOT_HEIGHT = 8, 120
MARKER_Y = PLOT_TOP + PLOT_HEIGHT + 14
CHART_HEIGHT = MARKER_Y + 26
MAX_SLOT = 40
MAX_BARS = 60

# Lineage graph: columns of boxes, left to right.
NODE_WIDTH, NODE_HEIGHT = 250, 30
COLUMN_GAP, ROW_GAP, MARGIN = 70, 10, 4
MAX_PER_COLUMN = 12
LABEL_UNITS = 36  # label width budget: ASCII counts 1, Hangul and other wide characters 2

# Freshness bar: the SLA sits at two thirds of the track, so "overdue" has room to show.
TRACK_WIDTH = 300
TRACK_SPAN = 1.5


@dataclass(frozen=True)
class Segment:
    """Part of a column: checks passed, warned or failed (or the state, when none ran)."""

    kind: str
    y: float
    height: float


@dataclass(frozen=True)
class Bar:
    """One delivery's column."""

    point: QualityPoint
    x: float
    width: float
    segments: list[Segment]

    @property
    def centre(self) -> float:
        """Where the state marker goes."""
        return self.x + self.width / 2


@dataclass(frozen=True)
class QualityChart:
    """The quality history: columns oldest to newest."""

    bars: list[Bar]
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    top: int = PLOT_TOP
    bottom: int = PLOT_TOP + PLOT_HEIGHT
    marker_y: int = MARKER_Y
    omitted: int = 0


def _segments(point: QualityPoint) -> list[Segment]:
    total = point.passed + point.warnings + point.failed
    if total == 0:  # nothing ran (refused contract, or not checked yet): the state fills it
        kind = {"published": "passed", "quarantined": "failed"}.get(point.state, "pending")
        return [Segment(kind, PLOT_TOP, PLOT_HEIGHT)]
    out, bottom = [], PLOT_TOP + PLOT_HEIGHT
    for kind, count in (
        ("passed", point.passed),
        ("warnings", point.warnings),
        ("failed", point.failed),
    ):
        if count:
            height = PLOT_HEIGHT * count / total
            bottom -= height
            out.append(Segment(kind, round(bottom, 2), round(height, 2)))
    return out


def quality_chart(points: list[QualityPoint]) -> QualityChart | None:
    """Columns of checks passed/warned/failed per delivery, the newest `MAX_BARS`; None if none."""
    if not points:
        return None
    ordered = sorted(points, key=lambda p: p.at)
    shown = ordered[-MAX_BARS:]
    slot = min(MAX_SLOT, CHART_WIDTH / len(shown))
    bars = [
        Bar(
            point=p,
            x=round(i * slot + slot * 0.15, 2),
            width=round(slot * 0.7, 2),
            segments=_segments(p),
        )
        for i, p in enumerate(shown)
    ]
    return QualityChart(bars=bars, omitted=len(ordered) - len(shown))


@dataclass(frozen=True)
class FreshnessBar:
    """Age of the last publication against the SLA's maximum age."""

    fill: float
    sla_x: float
    overdue: bool
    width: int = TRACK_WIDTH


def freshness_bar(freshness: Freshness) -> FreshnessBar | None:
    """The bar for a dataset with an SLA and a publication; None otherwise."""
    if freshness.age is None or not freshness.max_age:
        return None
    ratio = min(freshness.age / freshness.max_age, TRACK_SPAN)
    return FreshnessBar(
        fill=round(TRACK_WIDTH * ratio / TRACK_SPAN, 2),
        sla_x=round(TRACK_WIDTH / TRACK_SPAN, 2),
        overdue=freshness.age > freshness.max_age,
    )


def _units(char: str) -> int:
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1


def clip(text: str, units: int = LABEL_UNITS) -> str:
    """Text cut to fit a box: wide (Hangul, CJK) characters take two units, others one."""
    if sum(_units(c) for c in text) <= units:
        return text
    kept, used = [], 0
    for char in text:
        used += _units(char)
        if used > units - 1:  # one unit left for the ellipsis
            break
        kept.append(char)
    return "".join(kept) + "…"


@dataclass(frozen=True)
class Box:
    """A placed node (kind `more` stands for `hidden` nodes left out of a column)."""

    node: LineageNode
    x: float
    y: float
    label: str
    hidden: int = 0


@dataclass(frozen=True)
class Arrow:
    """A placed edge: an SVG path from the source's right side to the target's left side."""

    d: str
    source: str
    target: str
    label: str


@dataclass(frozen=True)
class Graph:
    """The lineage drawing."""

    boxes: list[Box]
    arrows: list[Arrow]
    width: float
    height: float
    node_width: int = NODE_WIDTH
    node_height: int = NODE_HEIGHT


def _columns(lineage: Lineage) -> dict[str, int]:
    """Each node's column: 0 for nodes nothing points to, else one right of its furthest
    source (longest path), so deliveries → table versions → readers read left to right."""
    column = {n.id: 0 for n in lineage.nodes}
    edges = [
        (e.source, e.target) for e in lineage.edges if e.source in column and e.target in column
    ]
    for _ in range(len(column)):  # at most one pass per node; a cycle stops at the bound
        changed = False
        for source, target in edges:
            if column[target] < column[source] + 1 <= len(column):
                column[target], changed = column[source] + 1, True
        if not changed:
            break
    return column


def lineage_graph(lineage: Lineage) -> Graph | None:
    """Lay the lineage out in columns, keeping the newest `MAX_PER_COLUMN` nodes of each;
    None when there is nothing to draw."""
    if not lineage.nodes:
        return None
    column_of = _columns(lineage)
    columns: dict[int, list[LineageNode]] = {}
    for node in lineage.nodes:
        columns.setdefault(column_of[node.id], []).append(node)
    tallest = max(min(len(c), MAX_PER_COLUMN + 1) for c in columns.values())
    height = MARGIN * 2 + tallest * NODE_HEIGHT + (tallest - 1) * ROW_GAP
    boxes: dict[str, Box] = {}
    for index, number in enumerate(sorted(columns)):
        nodes = columns[number]
        x = MARGIN + index * (NODE_WIDTH + COLUMN_GAP)
        kept = nodes[-MAX_PER_COLUMN:]
        rows: list[tuple[LineageNode, int]] = [(n, 0) for n in kept]
        if len(nodes) > len(kept):
            more = LineageNode(id=f"more-{number}", kind="more", label="")
            rows.insert(0, (more, len(nodes) - len(kept)))
        used = len(rows) * NODE_HEIGHT + (len(rows) - 1) * ROW_GAP
        top = (height - used) / 2
        for row, (node, hidden) in enumerate(rows):
            y = top + row * (NODE_HEIGHT + ROW_GAP)
            boxes[node.id] = Box(node, x, round(y, 2), clip(node.label), hidden)
    arrows = []
    for edge in lineage.edges:
        a, b = boxes.get(edge.source), boxes.get(edge.target)
        if a is None or b is None:
            continue  # an end was left out of its column
        x1, y1 = a.x + NODE_WIDTH, a.y + NODE_HEIGHT / 2
        x2, y2 = b.x, b.y + NODE_HEIGHT / 2
        bend = max((x2 - x1) / 2, COLUMN_GAP / 2)
        d = f"M{x1:g},{y1:g} C{x1 + bend:g},{y1:g} {x2 - bend:g},{y2:g} {x2 - 1:g},{y2:g}"
        arrows.append(Arrow(d=d, source=edge.source, target=edge.target, label=edge.label))
    width = MARGIN * 2 + len(columns) * NODE_WIDTH + (len(columns) - 1) * COLUMN_GAP
    return Graph(boxes=list(boxes.values()), arrows=arrows, width=width, height=height)
