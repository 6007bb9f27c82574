"""`gongyu demo`: the main job, from real agency files to a served lakehouse."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import suppress
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gongyu.cli.common import WorkspaceOption, console, settings_for, user_errors
from gongyu.demo import DemoDelivery, DemoResult, fresh_workspace, run_demo
from gongyu.platform import Platform

REPO = Path(__file__).resolve().parents[2]


def demo(
    workspace: WorkspaceOption = None,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Stop after the summary instead of serving.")
    ] = False,
    port: Annotated[int, typer.Option(help="Port of the Dagster UI.")] = 3000,
) -> None:
    """Build a fresh workspace, deliver the real datasets (two must fail, one is fixed), run them
    through Dagster, print a summary, then serve the Dagster UI.

    Exit code (with --no-serve): 0 only when every delivery ended as expected.
    Example: gongyu demo --workspace /tmp/gongyu-demo --no-serve
    """
    settings = settings_for(workspace)
    with user_errors():
        fresh_workspace(settings.home.expanduser().resolve())
        platform = Platform(settings)
        console.print(f"workspace: {platform.workspace.root}")

        def start(planned: DemoDelivery) -> None:
            note = f" — {planned.why}" if planned.why else ""
            console.print(f"… {planned.dataset_id} ← {planned.file.name}{note}", highlight=False)

        def done(result: DemoResult) -> None:
            d = result.delivery
            mark = "✓" if result.as_expected else "✗ UNEXPECTED"
            console.print(
                f"  {mark} {d.state.value}, {d.rows or 0:,} rows, {result.seconds:.1f}s",
                highlight=False,
            )

        results = run_demo(platform, on_start=start, on_done=done)
    console.print(summary(results))
    unexpected = [r for r in results if not r.as_expected]
    console.print(
        f"{len(results)} deliveries, {len(unexpected)} unexpected outcome(s). "
        f"Lakehouse: {platform.workspace.warehouse}"
    )
    if no_serve:
        raise typer.Exit(1 if unexpected else 0)
    serve_dagster(platform, port)


def summary(results: list[DemoResult]) -> Table:
    """The demo's summary table: dataset, outcome, reason, rows, seconds."""
    table = Table(
        "dataset", "file", "outcome", "expected", "reason", "rows", "seconds", title="Gongyu demo"
    )
    for r in results:
        d = r.delivery
        outcome = (
            f"[green]{d.state.value}[/]"
            if d.state.value == "published"
            else f"[red]{d.state.value}[/]"
        )
        table.add_row(
            d.dataset_id,
            d.filename,
            outcome,
            "✓" if r.as_expected else f"✗ expected {r.planned.expect.value}",
            ("; ".join(d.reasons) or r.planned.why)[:90],
            f"{d.rows or 0:,}",
            f"{r.seconds:.1f}",
        )
    return table


def serve_dagster(platform: Platform, port: int) -> None:
    """Serve the Dagster UI (webserver and daemon) on the demo workspace until interrupted."""
    from assets.runner import dagster_home

    env = {
        **os.environ,
        "GONGYU_HOME": str(platform.workspace.root),
        "DAGSTER_HOME": str(dagster_home(platform.workspace)),
    }

    console.print(f"Dagster UI: http://127.0.0.1:{port}  (Ctrl-C to stop)")
    dagster = Path(sys.executable).with_name("dagster")
    with suppress(KeyboardInterrupt):
        subprocess.run(
            [
                str(dagster),
                "dev",
                "-w",
                str(REPO / "workspace.yaml"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            env=env,
            cwd=REPO,
            check=False,
        )
