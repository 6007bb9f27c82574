"""Freshness: is each dataset's last published delivery younger than its contract's SLA allows?"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, func, select

from catalog.db import deliveries
from catalog.deliveries import DeliveryState
from contracts.model import Contract


class FreshnessState(StrEnum):
    """Where a dataset stands against its SLA."""

    fresh = "fresh"
    stale = "stale"
    never_published = "never_published"
    no_sla = "no_sla"


def span(delta: timedelta) -> str:
    """A duration as stewards write it: '2 d', '46 d 6 h', '3 h', '0 h'."""
    days, hours = delta.days, delta.seconds // 3600
    if days and hours:
        return f"{days} d {hours} h"
    return f"{days} d" if days else f"{hours} h"


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


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

    @property
    def summary(self) -> str:
        """One line for people: the state and the dates behind it."""
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
    if max_age is None:
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
    )


def last_published(engine: Engine) -> dict[str, datetime]:
    """When each dataset's latest published delivery was published, by dataset id (UTC)."""
    # A delivery's `updated_at` is set when it moves to `published`, its last state.
    query = (
        select(deliveries.c.dataset_id, func.max(deliveries.c.updated_at))
        .where(deliveries.c.state == DeliveryState.published.value)
        .group_by(deliveries.c.dataset_id)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    # SQLite hands back naive datetimes; the ledger writes UTC.
    return {d: t if t.tzinfo else t.replace(tzinfo=UTC) for d, t in rows}


def assess_all(
    contracts: Iterable[Contract], engine: Engine, now: datetime | None = None
) -> list[Freshness]:
    """Every dataset's freshness from the ledger, in contract order; `now` defaults to now."""
    now = now or datetime.now(UTC)
    published = last_published(engine)
    return [assess(c, published.get(c.id), now) for c in contracts]
