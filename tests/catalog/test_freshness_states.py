"""Freshness from a real ledger: fresh, stale, never published and no SLA, at injected times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from catalog.db import connect
from catalog.deliveries import Deliveries, DeliveryState
from catalog.freshness import FreshnessState, assess_all, last_published
from contracts.model import Sla
from gongyu.ground.storage import FolderStorage
from tests.conftest import column, data_file, make_contract

DAILY = Sla(frequency=timedelta(days=1), latency=timedelta(days=1))
KOTSA = "transport_logistics/kotsa_car_inspection_centers_20210927.csv"
KOICA = "finance_insurance/koica_oda_by_income_group_20210521.csv"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def ledger(tmp_path: Path) -> Deliveries:
    return Deliveries(
        connect(f"sqlite:///{tmp_path}/c.db"), FolderStorage(tmp_path / "landing"), 10_000_000
    )


def publish(ledger: Deliveries, dataset: str, file: str, at: datetime) -> None:
    """Land a real file for `dataset` and record it published at `at`."""
    delivery, _ = ledger.receive(make_contract([column("a")], dataset_id=dataset), data_file(file))
    ledger.claim(delivery.delivery_id, "test")
    ledger.set_state(delivery.delivery_id, DeliveryState.published, rows=1, updated_at=at)


def test_states_from_the_ledger(ledger: Deliveries) -> None:
    fresh, stale, never, unpromised = (
        make_contract([column("a")], dataset_id=name, **extra)
        for name, extra in [
            ("daily_fresh", {"sla": DAILY}),
            ("daily_stale", {"sla": DAILY}),
            ("daily_never", {"sla": DAILY}),
            ("no_promise", {}),
        ]
    )
    publish(ledger, "daily_fresh", KOTSA, T0 - timedelta(hours=30))
    publish(ledger, "daily_stale", KOTSA, T0 - timedelta(days=3))
    publish(ledger, "no_promise", KOICA, T0 - timedelta(days=900))

    found = {
        f.dataset_id: f for f in assess_all([fresh, stale, never, unpromised], ledger.engine, T0)
    }

    assert {d: f.state for d, f in found.items()} == {
        "daily_fresh": FreshnessState.fresh,
        "daily_stale": FreshnessState.stale,
        "daily_never": FreshnessState.never_published,
        "no_promise": FreshnessState.no_sla,
    }
    ok = found["daily_fresh"]
    assert ok.last_published_at == T0 - timedelta(hours=30)
    assert ok.age == timedelta(hours=30) and ok.max_age == timedelta(days=2)
    assert ok.due_by == T0 + timedelta(hours=18)
    assert ok.summary == (
        "fresh: last published 2026-03-01 03:00 UTC (1 d 6 h ago), next due by 2026-03-03 03:00 UTC"
    )
    late = found["daily_stale"]
    assert late.due_by == T0 - timedelta(days=1)
    assert late.summary.startswith("stale: last published 2026-02-27 09:00 UTC (3 d ago)")
    assert late.summary.endswith("was due by 2026-03-01 09:00 UTC, 1 d overdue")
    assert found["daily_never"].last_published_at is None and found["daily_never"].due_by is None
    assert "never published" in found["daily_never"].summary
    assert found["no_promise"].max_age is None and found["no_promise"].due_by is None
    # The moment a publication falls due it is still fresh; a second later it is stale.
    due = ok.due_by
    assert assess_all([fresh], ledger.engine, due)[0].state == FreshnessState.fresh
    later = due + timedelta(seconds=1)
    assert assess_all([fresh], ledger.engine, later)[0].state == FreshnessState.stale


def test_only_the_latest_published_delivery_counts(ledger: Deliveries) -> None:
    contract = make_contract([column("a")], dataset_id="daily", sla=DAILY)
    publish(ledger, "daily", KOTSA, T0 - timedelta(days=10))
    publish(ledger, "daily", KOICA, T0 - timedelta(hours=2))
    # A newer delivery that was quarantined does not make the dataset fresh.
    quarantined, _ = ledger.receive(
        contract, data_file("industry_sme/kotra_overseas_korean_companies.csv")
    )
    ledger.claim(quarantined.delivery_id, "test")
    ledger.set_state(quarantined.delivery_id, DeliveryState.quarantined, reasons=["bad"])

    assert last_published(ledger.engine) == {"daily": T0 - timedelta(hours=2)}
    [found] = assess_all([contract], ledger.engine, T0 + timedelta(days=2))
    assert found.state == FreshnessState.stale
    assert found.last_published_at == T0 - timedelta(hours=2)
