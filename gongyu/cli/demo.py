"""`gongyu demo`: the main job, from real agency files to a served lakehouse."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from catalog.access.principal import Role
from gongyu.cli.common import WorkspaceOption, console, settings_for, styled, user_errors
from gongyu.cli.supervise import supervise

if TYPE_CHECKING:
    from gongyu.demo import DemoDelivery, DemoResult
    from gongyu.joint_demo import JointStep, ProductStep
    from gongyu.ledger_demo import LedgerDemo
    from gongyu.platform import Platform

REPO = Path(__file__).resolve().parents[2]


def demo(
    workspace: WorkspaceOption = None,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Stop after the summary instead of serving.")
    ] = False,
    api_port: Annotated[
        int, typer.Option(help="Port of the SQL API, the catalog and Dagster's UI (/dagster).")
    ] = 8000,
) -> None:
    """Build a fresh workspace, deliver the real datasets (three must fail, one is fixed), run
    them through Dagster, print a summary, then serve the SQL API with Dagster's UI inside it
    (behind the sign-in) and Dagster's daemon.

    Exit code (with --no-serve): 0 only when every delivery ended as expected.
    Example: gongyu demo --workspace /tmp/gongyu-demo --no-serve
    """
    from gongyu.demo import fresh_workspace, run_demo
    from gongyu.platform import Platform

    settings = settings_for(workspace)
    with user_errors():
        fresh_workspace(settings.home.expanduser().resolve())
        platform = Platform(settings)
        console.print(f"workspace: {platform.workspace.root}")

        def start(planned: DemoDelivery) -> None:
            note = f" — {planned.why}" if planned.why else ""
            console.print(f"… {planned.dataset_id} ← {planned.file.name}{note}")

        def done(result: DemoResult) -> None:
            d = result.delivery
            mark = "✓" if result.as_expected else "✗ UNEXPECTED"
            console.print(f"  {mark} {d.state.value}, {d.rows or 0:,} rows, {result.seconds:.1f}s")

        from assets.runner import shared_dagster
        from catalog.kiwi import load_meanwhile
        from gongyu.demo import DATA_DIR
        from gongyu.joint_demo import run_joint_products, run_joint_use
        from gongyu.ledger_demo import run_ledger

        load_meanwhile()  # the AI-ledger step analyses Korean text at the end
        # One Definitions and one open Dagster instance for every run of the demo.
        with shared_dagster(platform) as dagster:
            results = run_demo(platform, dagster, on_start=start, on_done=done)
            console.print(summary(results))
            console.print(joint_summary(run_joint_use(platform)))
            power = DATA_DIR / "environment_energy/regional_power_generation_by_fuel_2018_2022.csv"
            products = run_joint_products(platform, power, dagster)
        console.print(product_summary(products))
        ledger = run_ledger(platform)
        console.print(ledger_summary(ledger))
    unexpected = [r for r in results if not r.as_expected]
    failed = [p for p in products if not p.ok] + [s for s in ledger.models if not s.ok]
    console.print(
        f"{len(results)} deliveries, {len(unexpected)} unexpected outcome(s); "
        f"{len(products)} product build(s) and {len(ledger.models)} model step(s), "
        f"{len(failed)} failed. "
        f"Lakehouse: {platform.store.warehouse}"
    )
    if no_serve:
        raise typer.Exit(1 if unexpected or failed else 0)
    serve(platform, api_port)


def summary(results: list[DemoResult]) -> Table:
    """The demo's summary table: dataset, outcome, reason, rows, seconds."""
    table = Table(
        "dataset", "file", "outcome", "expected", "reason", "rows", "seconds", title="Gongyu demo"
    )
    for r in results:
        d = r.delivery
        outcome = styled((d.state.value, "green" if d.state.value == "published" else "red"))
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


DEMO_CALLERS = (
    ("nhis", Role.analyst),
    ("kotsa", Role.analyst),
    ("knpa", Role.steward),
    ("nhis", Role.secretariat),
    ("koroad", Role.analyst),
    ("mois", Role.operator),
)
"""Callers the demo makes keys for: the welfare secretariat's analyst, an analyst of another
sector, the police agency's steward (who owns the restricted drunk-driving table and decides
requests for it), the welfare secretariat's officer (the joint-use board, the second approval),
KoROAD's analyst (granted the drunk-driving table by the demo's requests) and the platform's
operator at the Ministry of the Interior and Safety (Dagster's UI in full; stewards see it
read-only)."""


def joint_summary(steps: list[JointStep]) -> Table:
    """The demo's access requests: who asked for what, how it was routed and how it ended."""
    table = Table(
        "request", "dataset", "asked by", "outcome", "story", title="Joint use (이용 신청)"
    )
    for step in steps:
        r = step.request
        outcome = r.state.value + (f", grant {r.grant_id}" if r.grant_id else "")
        if step.rows_read is not None:
            outcome += f", {step.rows_read} rows read"
        if r.reason:
            outcome += f": {r.reason[:60]}"
        table.add_row(r.request_id, r.dataset_id, r.requester_agency, outcome, step.story)
    return table


def product_summary(steps: list[ProductStep]) -> Table:
    """The demo's joint products: each build, the input snapshots it read and how it ended."""
    table = Table("product", "inputs read (snapshot)", "outcome", "rows", "story")
    table.title = "Joint products (공동 상품)"
    for step in steps:
        d = step.run.delivery
        inputs = "\n".join(f"{t} @ {s}" for t, s in ((d.inputs or {}) if d else {}).items())
        outcome = step.run.failure or (d.state.value if d else "not built")
        colour = "green" if step.ok else "red"
        table.add_row(
            step.run.contract.id,
            inputs,
            styled((outcome[:90], colour)),
            f"{d.rows or 0:,}" if d else "",
            step.story,
        )
    return table


def ledger_summary(ledger: LedgerDemo) -> Table:
    """The demo's AI ledger: projects imported, the shared model's reuse, the top overlaps."""
    table = Table("", "what", "outcome", title="AI ledger (AI 과제·공유 모델)")
    done = ledger.imported
    table.add_row(
        "projects",
        f"{len(done.registered) + len(done.updated)} imported from sectors/projects/",
        ", ".join(done.registered + done.updated)[:120],
    )
    for step in ledger.models:
        outcome = styled(
            ("✓ as planned" if step.ok else "✗ UNEXPECTED", "green" if step.ok else "red")
        )
        table.add_row(
            f"model {step.model_id} v{step.version}", f"{step.agency}: {step.story}", outcome
        )
    for pair in ledger.overlaps:
        table.add_row(
            f"overlap {pair.score:.2f}",
            f"{pair.a.id} ({pair.a.lead}) ~ {pair.b.id} ({pair.b.lead})",
            ", ".join(pair.shared_terms[:6]),
        )
    return table


def demo_keys(platform: Platform) -> list[tuple[str, Role, str]]:
    """An API key per demo caller, created now (the demo workspace is fresh each run)."""
    return [
        (agency, role, platform.keys.create(agency, role, f"demo {agency} {role.value}")[1])
        for agency, role in DEMO_CALLERS
    ]


DEMO_PEOPLE = (
    ("knpa", "경찰청 데이터 관리자", (Role.steward,), "steward@police.go.kr"),
    ("nhis", "건강보험공단 간사", (Role.secretariat, Role.analyst), "secretariat@nhis.or.kr"),
    ("kotsa", "교통안전공단 분석가", (Role.analyst,), "analyst@kotsa.or.kr"),
    ("mois", "행정안전부 운영자", (Role.operator,), "operator@mois.go.kr"),
)
"""People the demo makes, each with a password printed once: the analyst signs in with it
alone, the others enrol an authenticator app (TOTP) at their first sign-in."""


def demo_people(platform: Platform) -> list[tuple[str, str, str]]:
    """The demo's people, made now: (login, roles, initial password)."""
    made = []
    for agency, name, roles, login in DEMO_PEOPLE:
        password = secrets.token_urlsafe(12)
        platform.people.create(agency, name, roles, login=login, password=password)
        made.append((login, ", ".join(r.value for r in roles), password))
    return made


def serve(platform: Platform, api_port: int) -> None:
    """Serve the SQL API with Dagster's UI inside it, and Dagster's daemon (schedules and
    sensors), until interrupted."""
    from assets.runner import dagster_home

    env = {
        **os.environ,
        "GONGYU_HOME": str(platform.workspace.root),
        # Dagster's UI has no sign-in of its own: served inside the API, behind Gongyu's.
        "GONGYU_DAGSTER_UI": "true",
        "DAGSTER_HOME": str(dagster_home(platform.workspace)),
    }
    bin_dir = Path(sys.executable).parent
    console.print(
        "People (sign in at /signin; stewards, secretariats and operators enrol an "
        "authenticator app first; `gongyu people create` makes more):",
        soft_wrap=True,
    )
    for login, roles, password in demo_people(platform):
        console.print(f"  {login:24} {roles:21} {password}")
    keys = demo_keys(platform)
    console.print("Service accounts' API keys (shown once; `gongyu people token` makes more):")
    for agency, role, key in keys:
        console.print(f"  {agency:6} {role.value:11} {key}")
    sql = "SELECT sido, count(*) FROM welfare_safety.koroad_fatal_traffic_accidents GROUP BY 1"
    console.print(
        f"Catalog: http://127.0.0.1:{api_port}/ (sign in as a person or with a key above)"
    )
    console.print(f"Public disclosure (no sign-in): http://127.0.0.1:{api_port}/disclosure")
    console.print(
        f"SQL API: http://127.0.0.1:{api_port}/docs — e.g.\n"
        f"  curl -s -H 'Authorization: Bearer {keys[0][2]}' "
        f'http://127.0.0.1:{api_port}/api/v1/sql -d \'{{"sql": "{sql}"}}\' '
        "-H 'Content-Type: application/json'",
        soft_wrap=True,
    )
    children = {
        "the SQL API (gongyu serve)": subprocess.Popen(
            [str(bin_dir / "gongyu"), "serve", "--port", str(api_port)], env=env, cwd=REPO
        ),
        "Dagster's daemon (dagster-daemon)": subprocess.Popen(
            [str(bin_dir / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")],
            env=env,
            cwd=REPO,
        ),
    }
    console.print(
        f"Dagster UI: http://127.0.0.1:{api_port}/dagster (signed in as operator; "
        "stewards read-only)  (Ctrl-C to stop)"
    )
    code = supervise(children)
    # Everything is stopped and written: skip the interpreter's teardown, seconds of garbage
    # collection of the heap the demo's runs built, so SIGTERM ends the demo within seconds.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
