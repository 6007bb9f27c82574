"""`gongyu engines tables`: the public tables other engines may read, with metadata locations."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from gongyu.cli.common import WorkspaceOption, console, platform_for, user_errors

app = typer.Typer(help="Tables for engines outside the SQL API (DuckDB, Trino, Spark…).")


@app.command("tables")
def tables(
    workspace: WorkspaceOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List published tables whose access level is `public`: identifier, dataset, current
    snapshot and Iceberg metadata location (for `iceberg_scan` or a catalog client).

    Example: gongyu engines tables --json
    """
    with user_errors():
        from gongyu.engines import public_tables

        found = public_tables(platform_for(workspace))
    if as_json:
        typer.echo(json.dumps([t.as_dict() for t in found], ensure_ascii=False, indent=1))
        return
    out = Table("table", "dataset_id", "snapshot_id", "metadata_location")
    for t in found:
        out.add_row(t.table, t.dataset_id, str(t.snapshot_id), t.metadata_location)
    console.print(out)
