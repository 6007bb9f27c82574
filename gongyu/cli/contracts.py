"""`gongyu contracts`: list, lint, diff and draft data contracts; show a dataset's history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gongyu.cli.common import WorkspaceOption, console, platform_for, settings_for, user_errors

app = typer.Typer(
    help="List, lint, diff, draft and export data contracts (ODCS v3); show a dataset's contract "
    "history.",
    no_args_is_help=True,
)


@app.command("list")
def list_contracts(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List every contract: id, kind (dataset, or joint product with the datasets it reads),
    sector, agency, Iceberg table and file.

    Example: gongyu contracts list --json
    """
    with user_errors():
        found = sorted(platform_for(None).contracts.values(), key=lambda c: c.path)
    rows = [
        {
            "id": c.id,
            "kind": c.kind,
            "inputs": list(c.product.inputs) if c.product else [],
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
    table = Table("id", "kind", "sector", "agency", "table", "version", "access")
    for r in rows:
        table.add_row(
            r["id"], r["kind"], r["sector"], r["agency"], r["table"], r["version"], r["access"]
        )
    console.print(table)
    # Below the table, not in it: a column of input lists would squeeze every other one.
    for r in rows:
        if r["kind"] == "product":
            console.print(f"{r['id']} (product) reads {', '.join(r['inputs'])}")


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
    from sectors.registry import load_registry

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


@app.command("diff")
def diff(
    old: Annotated[Path, typer.Argument(metavar="OLD", help="The contract file as published.")],
    new: Annotated[Path, typer.Argument(metavar="NEW", help="The proposed new version of it.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the diff as JSON.")] = False,
) -> None:
    """Compare two versions of a contract; exit 1 if the new version is refused.

    Prints `BREAKING path: message` or `compatible path: message` per change, then the verdict.
    A breaking change needs a new major version; any change needs a higher version.
    Exit 2 when a file does not load or a version is not semver.
    Example: gongyu contracts diff kotsa_v1.yaml kotsa_v2.yaml --json
    """
    from contracts.diff import diff_contracts
    from contracts.loader import ContractError, load_contract
    from sectors.registry import load_registry

    settings = settings_for(None)
    registry = load_registry(settings.sectors_file)
    try:
        result = diff_contracts(load_contract(old, registry), load_contract(new, registry))
    except (ContractError, ValueError) as exc:
        # Exit 2, not user_errors()'s 1: to CI scripts 1 means "read fine, refused"; plain echo,
        # not Rich, so a long file path is not wrapped mid-word in logs.
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(result.model_dump_json(indent=1))
    else:
        for change in result.changes:
            label = "BREAKING" if change.kind == "breaking" else "compatible"
            typer.echo(f"{label} {change.path}: {change.message}")
        typer.echo(f"{result.old_version} -> {result.new_version}: {result.verdict}")
    for reason in result.reasons:
        typer.echo(f"refused: {reason}", err=True)
    if result.refused:
        for change in result.breaking:
            typer.echo(f"  {change.path}: {change.message}", err=True)
    raise typer.Exit(1 if result.refused else 0)


@app.command("draft")
def draft(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="A sample file (CSV, XLSX, Parquet, JSONL).")
    ],
    agency: Annotated[str, typer.Option("--agency", help="The owning agency's id.")],
    dataset: Annotated[str, typer.Option("--dataset", help="The new dataset's id.")],
    sector: Annotated[
        str | None,
        typer.Option("--sector", help="Its sector (default: the agency's first sector)."),
    ] = None,
    cadence: Annotated[
        str | None,
        typer.Option("--cadence", help="How often it is delivered: day, week, month or year."),
    ] = None,
) -> None:
    """Print a draft contract (ODCS YAML) inferred from a sample file, to review and submit.

    Names, types, nulls, keys, code sets and ranges come from the data.
    The privacy detectors suggest each column's classification (marked `# suggested:`).
    Exit 1 on an unreadable file, an unknown agency or sector, or a bad dataset id.
    Example: gongyu contracts draft july.csv --agency knpa --dataset drunk_driving > d.yaml
    """
    from quality.drafting import draft_contract
    from sectors.registry import load_registry

    with user_errors():
        registry = load_registry(settings_for(None).sectors_file)
        text = draft_contract(
            file, agency=agency, dataset=dataset, registry=registry, sector=sector, cadence=cadence
        )
    typer.echo(text, nl=False)


@app.command("export")
def export(
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="Where to write the files.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Write every active contract (files and versions approved in the catalog) to
    DIR/<sector>/<agency>/<dataset>.yaml, as the text that was approved: commit them to Git.

    Example: gongyu contracts export contracts/ --workspace .gongyu
    """
    from contracts.loader import write_contracts

    with user_errors():
        contracts = sorted(platform_for(workspace).contracts.values(), key=lambda c: c.id)
        written = write_contracts(contracts, folder)
    console.print(f"{len(written)} contract(s) written under {folder}")


@app.command("history")
def history(
    dataset: Annotated[str, typer.Argument(metavar="DATASET", help="The dataset id.")],
    workspace: WorkspaceOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List every recorded version of a dataset's contract, oldest first.

    A version is recorded when a delivery first runs under it; a refused one is not. Shows the
    date, the table version (the major version: one Iceberg table each) and the text's SHA-256.
    Example: gongyu contracts history kotsa_car_inspection_centers --json
    """
    with user_errors():
        platform = platform_for(workspace)
        versions = platform.contract_versions.history(dataset)
        if not versions:
            platform.contract(dataset)  # an unknown dataset is an error, a new one just empty
    if as_json:
        rows = [v.model_dump(mode="json", exclude={"yaml"}) for v in versions]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    table = Table("version", "recorded", "table version", "table", "sha256")
    for v in versions:
        table.add_row(
            v.version,
            f"{v.recorded_at:%Y-%m-%d %H:%M}",
            str(v.table_version),
            v.iceberg_table,
            v.sha256[:12],
        )
    console.print(table)
