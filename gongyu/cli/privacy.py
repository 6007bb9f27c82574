"""`gongyu privacy`: scan the lakehouse for raw identifiers; list and rotate pseudonym keys."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from gongyu.cli.common import WorkspaceOption, console, platform_for, user_errors

app = typer.Typer(
    help="Scan published data for raw identifiers; list and rotate pseudonym keys.",
    no_args_is_help=True,
)


@app.command("scan")
def scan(
    workspace: WorkspaceOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """Scan every data file of every snapshot of every table; exit 1 on any raw identifier.

    Example: gongyu privacy scan --json
    """
    with user_errors():
        platform = platform_for(workspace)
        from catalog.privacy_scan import scan_catalog

        found = scan_catalog(platform.lakehouse.catalog, platform.contracts)
    if as_json:
        typer.echo(json.dumps([f.model_dump() for f in found], ensure_ascii=False, indent=1))
    elif not found:
        console.print("no raw identifiers in any published snapshot")
    else:
        table = Table("table", "column", "kind", "values", "file", "masked samples")
        for f in found:
            name = f.file.rsplit("/", 1)[-1]
            table.add_row(
                f.table, f.column, f.detector, f"{f.count:,}", name, ", ".join(f.samples[:3])
            )
        console.print(table)
    raise typer.Exit(1 if found else 0)


@app.command("keys")
def keys(workspace: WorkspaceOption = None) -> None:
    """List the pseudonym key versions and when each was made (never the keys themselves).

    Example: gongyu privacy keys
    """
    with user_errors():
        platform = platform_for(workspace)
        keyring = platform.keyring()
    table = Table("version", "created", "current")
    for version, created in keyring.rotations:
        table.add_row(
            str(version),
            created.isoformat(timespec="seconds"),
            "yes" if version == keyring.current else "",
        )
    console.print(table)
    console.print(f"key file: {platform.key_file}")


@app.command("rotate-key")
def rotate_key(workspace: WorkspaceOption = None) -> None:
    """Add a new pseudonym key version and make it current; earlier versions are kept.

    Deliveries published from now on carry pseudonyms of the new version (`p<version>_…`);
    each snapshot records its version in `gongyu.pseudonym-key-version`.
    Example: gongyu privacy rotate-key
    """
    with user_errors():
        platform = platform_for(workspace)
        rotated = platform.keyring().rotate()
        from quality.privacy.pseudonyms import save_keyring

        save_keyring(rotated, platform.key_file)
    console.print(f"pseudonym key version {rotated.current} is now current")
