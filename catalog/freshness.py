"""Freshness: is each dataset's last published delivery younger than its contract's SLA allows?

A dataset with an SLA is `fresh` (updated per its cycle) or `stale`; one without an SLA whose
data covers a period that has ended (`customProperties.temporalCoverage`) and that has been
published is `closed`: a historical dataset that gets no further updates, never "latest".
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, func, select

from catalog.db import deliveries
from catalog.deliveries import DeliveryState
from contracts.model import Contract, Coverage


class FreshnessState(StrEnum):
    """Where a dataset stands against its SLA."""

    fresh = "fresh"  # updated per its cycle: the last publication is within the SLA
    stale = "stale"
    never_published = "never_published"
    no_sla = "no_sla"
    closed = "closed"  # no SLA and its coverage has ended: historical, no further updates


def span(delta: timedelta) -> str:
    """A duration as stewards write it: '2 d', '46 d 6 h', '3 h', '0 h'."""
    days, hours = delta.days, delta.seconds // 3600
    if days and hours:
        return f"{days} d {hours} h"
    return f"{days} d" if days else f"{hours} h"


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _month_end(day: date) -> bool:
    return (day + timedelta(days=1)).day == 1


def period(coverage: Coverage) -> str | None:
    """The period a contract's data covers, as people write it in either language: `2020`,
    `2018–2022`, `2022-07`, `2021-09-27`, `2018-01-01 – 2022-06-30`, `2022-01-01 –` (ongoing);
    None when the contract states none."""
    start, end = coverage.start, coverage.end
    if start is None and end is None:
        return None
    if start is None or end is None:
        return f"{start} –" if start else f"– {end}"
    if start == end:
        return start.isoformat()
    whole_years = (start.month, start.day, end.month, end.day) == (1, 1, 12, 31)
    if whole_years:
        return str(start.year) if start.year == end.year else f"{start.year}–{end.year}"
    if start.day == 1 and _month_end(end) and (start.year, start.month) == (end.year, end.month):
        return f"{start:%Y-%m}"
    return f"{start} – {end}"


CycleUnit = Literal["hour", "day", "week", "month", "year"]
# ODCS units as the loader reads them (a month is 31 days, a year 366), longest first.
_CYCLE_UNITS: tuple[tuple[CycleUnit, timedelta], ...] = (
    ("year", timedelta(days=366)),
    ("month", timedelta(days=31)),
    ("week", timedelta(weeks=1)),
    ("day", timedelta(days=1)),
    ("hour", timedelta(hours=1)),
)


class UpdateCycle(BaseModel):
    """How often a dataset is updated, from its SLA (`slaProperties`): every `every` `unit`,
    at most `latency` late; `note` is the SLA frequency's own description."""

    model_config = ConfigDict(ser_json_timedelta="float")

    every: int
    unit: CycleUnit
    frequency: timedelta
    latency: timedelta
    note: str | None = None


def update_cycle(contract: Contract) -> UpdateCycle | None:
    """The contract's update cycle, or None when its SLA states no frequency."""
    frequency = contract.sla.frequency
    if frequency is None:
        return None
    every, unit = int(frequency / timedelta(hours=1)), "hour"
    for name, length in _CYCLE_UNITS:
        if frequency >= length and frequency % length == timedelta(0):
            every, unit = frequency // length, name
            break
    note = next(
        (
            p.description
            for p in contract.odcs.slaProperties or []
            if (p.property or "").lower() == "frequency" and p.description
        ),
        None,
    )
    return UpdateCycle(
        every=every, unit=unit, frequency=frequency, latency=contract.sla.latency, note=note
    )


def closed(contract: Contract, today: date) -> bool:
    """Whether the contract describes a closed historical dataset: no SLA frequency, and the
    period its data covers ended before `today`."""
    end = contract.coverage.end
    return contract.sla.frequency is None and end is not None and end < today


class Freshness(BaseModel):
    """One dataset's freshness at `checked_at`, from the ledger and the contract's SLA."""

    # Durations go out as seconds: ISO 8601's P1Y31D would read a 365-day year as a calendar one.
    model_config = ConfigDict(ser_json_timedelta="float")

    dataset_id: str
    state: FreshnessState
    max_age: timedelta | None = Field(
        description="SLA frequency + latency (ODCS `slaProperties`); None: the contract has none."
    )
    last_published_at: datetime | None = Field(
        description="When the dataset's latest published delivery was published."
    )
    age: timedelta | None = Field(description="checked_at - last_published_at.")
    due_by: datetime | None = Field(
        description="last_published_at + max_age: the next publication is due by then."
    )
    checked_at: datetime
    period: str | None = Field(
        None, description="The period the data covers (`temporalCoverage`), e.g. 2020."
    )

    @property
    def summary(self) -> str:
        """One line for people: the state and the dates behind it."""
        if self.state == FreshnessState.closed:
            published = (
                f"; last published {_when(self.last_published_at)}"
                if self.last_published_at
                else ""
            )
            return f"closed: covers {self.period}, no further updates (no SLA){published}"
        if self.max_age is None:
            return "no SLA: the contract declares no slaProperties frequency"
        if self.last_published_at is None or self.due_by is None or self.age is None:
            return (
                f"never published; the SLA allows at most {span(self.max_age)} between publications"
            )
        published = f"last published {_when(self.last_published_at)} ({span(self.age)} ago)"
        if self.state == FreshnessState.stale:
            overdue = span(self.checked_at - self.due_by)
            return f"stale: {published}, was due by {_when(self.due_by)}, {overdue} overdue"
        return f"fresh: {published}, next due by {_when(self.due_by)}"


def assess(contract: Contract, published_at: datetime | None, now: datetime) -> Freshness:
    """The freshness of one dataset last published at `published_at` (None: never), at `now`."""
    max_age = contract.sla.max_age
    age = due_by = None
    if max_age is None and published_at is not None and closed(contract, now.date()):
        state = FreshnessState.closed
        age = now - published_at
    elif max_age is None:
        state = FreshnessState.no_sla
    elif published_at is None:
        state = FreshnessState.never_published
    else:
        age, due_by = now - published_at, published_at + max_age
        state = FreshnessState.fresh if now <= due_by else FreshnessState.stale
    return Freshness(
        dataset_id=contract.id,
        state=state,
        max_age=max_age,
        last_published_at=published_at,
        age=age,
        due_by=due_by,
        checked_at=now,
        period=period(contract.coverage),
    )


def _published(engine: Engine, first: bool) -> dict[str, datetime]:
    # A delivery's `updated_at` is set when it moves to `published`, its last state.
    moment = func.min if first else func.max
    query = (
        select(deliveries.c.dataset_id, moment(deliveries.c.updated_at))
        .where(deliveries.c.state == DeliveryState.published.value)
        .group_by(deliveries.c.dataset_id)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    # SQLite hands back naive datetimes; the ledger writes UTC.
    return {d: t if t.tzinfo else t.replace(tzinfo=UTC) for d, t in rows}


def last_published(engine: Engine) -> dict[str, datetime]:
    """When each dataset's latest published delivery was published, by dataset id (UTC)."""
    return _published(engine, first=False)


def first_published(engine: Engine) -> dict[str, datetime]:
    """When each dataset was first published (its earliest published delivery), by id (UTC)."""
    return _published(engine, first=True)


def assess_all(
    contracts: Iterable[Contract], engine: Engine, now: datetime | None = None
) -> list[Freshness]:
    """Every dataset's freshness from the ledger, in contract order; `now` defaults to now."""
    now = now or datetime.now(UTC)
    published = last_published(engine)
    return [assess(c, published.get(c.id), now) for c in contracts]
