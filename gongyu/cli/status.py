"""`gongyu status`: every delivery and where it stands."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from gongyu.cli.common import WorkspaceOption, console, settings_for, user_errors
from gongyu.platform import Platform

FIELDS = ("dataset_id", "delivery_id", "state", "reasons", "rows", "snapshot_id")


def status(
    workspace: WorkspaceOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List deliveries with their state, reasons, rows and published snapshot.

    Example: gongyu status --json
    """
    with user_errors():
        deliveries = Platform(settings_for(workspace)).deliveries.list()
    if as_json:
        rows = [d.model_dump(mode="json", include=set(FIELDS)) for d in deliveries]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    table = Table("dataset", "delivery", "state", "rows", "snapshot", "reasons")
    for d in deliveries:
        table.add_row(
            d.dataset_id,
            d.delivery_id,
            d.state.value,
            f"{d.rows or 0:,}",
            d.snapshot_id or "",
            "; ".join(d.reasons)[:120],
        )
    console.print(table)
