"""`gongyu audit`: verify the hash chain of the audit log, export it, list recent records."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gongyu.cli.common import WorkspaceOption, console, platform_for, user_errors

app = typer.Typer(
    help="Verify, export and list the hash-chained audit log of API requests.",
    no_args_is_help=True,
)


@app.command("verify")
def verify(
    workspace: WorkspaceOption = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="Check an exported JSON Lines file instead.")
    ] = None,
) -> None:
    """Check every record's hash from the first; exit 1 naming the first broken record.

    Prints the record count and the head hash: keep it elsewhere to notice the newest records
    being cut off later.
    Example: gongyu audit verify
    """
    with user_errors():
        if file:
            with file.open(encoding="utf-8") as fp:
                from catalog.access.audit import verify_chain

                result = verify_chain(json.loads(line) for line in fp if line.strip())
        else:
            result = platform_for(workspace).audit.verify()
    if not result.ok:
        typer.echo(
            f"audit chain broken at record {result.broken_at}: {result.reason} "
            f"({result.count} record(s) intact before it)",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(f"audit chain intact: {result.count} record(s), head {result.head}")
    if result.unfinished:
        seqs = ", ".join(map(str, result.unfinished))
        typer.echo(f"완료 기록 없이 열린 요청 / opened, never completed: {seqs}")


@app.command("export")
def export(
    workspace: WorkspaceOption = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file (default: standard output).")
    ] = None,
) -> None:
    """Write every record as JSON Lines, oldest first: a record's canonical JSON plus its hash.

    Example: gongyu audit export --out audit.jsonl && gongyu audit verify --file audit.jsonl
    """
    with user_errors():
        audit = platform_for(workspace).audit
        if out is None:
            count = audit.export(sys.stdout)
        else:
            with out.open("w", encoding="utf-8") as fp:
                count = audit.export(fp)
    typer.echo(f"exported {count} record(s)", err=True)


@app.command("list")
def list_records(
    agency: Annotated[str | None, typer.Option(help="Only requests by this agency.")] = None,
    person: Annotated[
        str | None, typer.Option(help="Only requests by this person or service account.")
    ] = None,
    kind: Annotated[
        str | None, typer.Option(help="Only records of this kind (sql, signin…).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many records, newest first.")] = 20,
    workspace: WorkspaceOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List the newest audit records: time, person, credential, purpose, kind, datasets, rows,
    outcome.

    Example: gongyu audit list --agency koroad --limit 50
    """
    with user_errors():
        records = platform_for(workspace).audit.records(
            agency=agency, limit=limit, person=person, kind=kind
        )
    if as_json:
        rows = [r.model_dump(mode="json") for r in records]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    table = Table(
        "seq", "at (UTC)", "person", "subject", "agency", "role", "purpose", "kind", "datasets",
        "rows", "ms", "outcome", "statement",
    )  # fmt: skip
    for r in records:
        table.add_row(
            str(r.seq),
            f"{r.at:%Y-%m-%d %H:%M:%S}",
            r.person or "",
            r.subject,
            r.agency,
            r.role,
            r.purpose or "",
            r.kind,
            ", ".join(r.datasets),
            "" if r.rows is None else f"{r.rows:,}",
            f"{r.duration_ms:.1f}",
            r.state,
            r.statement[:80],
        )
    console.print(table)
