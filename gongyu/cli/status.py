"""`gongyu status`: every delivery and where it stands, and every dataset's freshness."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from gongyu.cli.common import WorkspaceOption, console, platform_for, styled, user_errors

if TYPE_CHECKING:
    from catalog.deliveries import Delivery
    from catalog.freshness import Freshness

FIELDS = (
    "dataset_id",
    "delivery_id",
    "state",
    "reasons",
    "rows",
    "snapshot_id",
    "attempts",
    "lease_owner",
    "lease_until",
    "inputs",
)
# By `FreshnessState` value (a StrEnum: its members look up as their strings).
STATE_STYLES = {
    "fresh": "green",
    "stale": "red",
    "never_published": "yellow",
    "no_sla": "dim",
    "closed": "dim",
}


def status(
    workspace: WorkspaceOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON: {deliveries: [...], freshness: [...]}.")
    ] = False,
    stale: Annotated[
        bool,
        typer.Option(
            "--stale", help="Only stale datasets and their deliveries; exit 1 if there is one."
        ),
    ] = False,
) -> None:
    """List deliveries (state, reasons, rows, published snapshot), then each dataset's
    freshness against its contract's SLA: fresh, stale, never published, no SLA or closed.

    Exit code: with --stale, 1 when a dataset's last publication is older than its SLA allows.
    Example: gongyu status --stale --json
    """
    with user_errors():
        platform = platform_for(workspace)
        deliveries = platform.deliveries.list()
        freshness = platform.freshness()
    if stale:
        freshness = [f for f in freshness if f.state == "stale"]
        late = {f.dataset_id for f in freshness}
        deliveries = [d for d in deliveries if d.dataset_id in late]
    if as_json:
        out = {
            "deliveries": [d.model_dump(mode="json", include=set(FIELDS)) for d in deliveries],
            "freshness": [f.model_dump(mode="json") for f in freshness],
        }
        typer.echo(json.dumps(out, ensure_ascii=False, indent=1))
    else:
        console.print(delivery_table(deliveries))
        console.print(freshness_table(freshness))
    if stale and freshness:
        raise typer.Exit(1)


def delivery_table(deliveries: list[Delivery]) -> Table:
    """Deliveries, oldest first."""
    table = Table("dataset", "delivery", "state", "rows", "snapshot", "reasons", title="deliveries")
    for d in deliveries:
        table.add_row(
            d.dataset_id,
            d.delivery_id,
            _state(d),
            f"{d.rows or 0:,}",
            d.snapshot_id or "",
            "; ".join(d.reasons)[:120],
        )
    return table


def _state(delivery: Delivery) -> str:
    """The state, and for one being validated: whose lease, until when, which attempt."""
    if delivery.lease_owner is None:
        return delivery.state.value
    return (
        f"{delivery.state.value} (attempt {delivery.attempts}, {delivery.lease_owner} "
        f"until {_at(delivery.lease_until)} UTC)"
    )


def _at(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else ""


def freshness_table(freshness: list[Freshness]) -> Table:
    """Each dataset's freshness; times in UTC."""
    from catalog.freshness import span

    table = Table(
        "dataset", "freshness", "last published", "due by", "max age", title="freshness (UTC)"
    )
    for f in freshness:
        table.add_row(
            f.dataset_id,
            styled((f.state.value, STATE_STYLES[f.state])),
            _at(f.last_published_at),
            _at(f.due_by),
            span(f.max_age) if f.max_age else "",
        )
    return table
