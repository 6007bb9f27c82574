"""`gongyu contracts`: list and lint data contracts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from contracts.loader import load_contracts
from gongyu.cli.common import console, settings_for, user_errors
from sectors.registry import load_registry

app = typer.Typer(help="List and lint data contracts (ODCS v3).", no_args_is_help=True)


@app.command("list")
def list_contracts(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List every contract: id, sector, agency, Iceberg table and file.

    Example: gongyu contracts list --json
    """
    settings = settings_for(None)
    with user_errors():
        found = load_contracts(settings.contracts_dir, load_registry(settings.sectors_file))
    rows = [
        {
            "id": c.id,
            "sector": c.sector,
            "agency": c.agency,
            "table": c.table,
            "version": c.version,
            "access": c.access.value,
            "path": str(c.path),
        }
        for c in found
    ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    table = Table("id", "sector", "agency", "table", "version", "access")
    for r in rows:
        table.add_row(r["id"], r["sector"], r["agency"], r["table"], r["version"], r["access"])
    console.print(table)


@app.command("lint")
def lint(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Contract files (default: every shipped one).")
    ] = None,
) -> None:
    """Lint contracts (Gongyu's rules and `datacontract lint`); exit 1 on errors.

    Prints one `file:field: message` line per problem.
    Example: gongyu contracts lint contracts/welfare_safety/knpa/*.yaml
    """
    from contracts.lint import lint as run_lint
    from contracts.loader import contract_files

    settings = settings_for(None)
    files = paths or contract_files(settings.contracts_dir)
    issues = run_lint(files, load_registry(settings.sectors_file), settings.contracts_dir)
    for issue in issues:
        typer.echo(f"{issue}" + (" (warning)" if issue.severity == "warning" else ""))
    errors = sum(i.severity == "error" for i in issues)
    typer.echo(
        f"{len(files)} contract(s): {errors} error(s), {len(issues) - errors} warning(s)", err=True
    )
    raise typer.Exit(1 if errors else 0)
