"""What the `gongyu` commands print is the data as it is: Rich markup, emoji codes and terminal
control characters in an audit record, a declared purpose, a grant's purpose or a quarantine
reason are shown as text, never interpreted (a stray `[/x]` used to crash the table)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from catalog.access.audit import AuditKind
from catalog.access.principal import Principal, Role
from gongyu.cli import app
from gongyu.ground.settings import Settings
from gongyu.platform import Platform

MARKUP = "[/x] [bold]b[/bold] :smile:"
ESCAPE = "\x1b]0;pwned\x07\x1b[2J"  # retitle the terminal, clear the screen


def contract_doc() -> dict[str, object]:
    """knpa's dataset whose second column is named like a closing markup tag."""
    return {
        "apiVersion": "v3.2.0",
        "kind": "DataContract",
        "id": "marked_up",
        "name": "marked up",
        "version": "1.0.0",
        "status": "active",
        "customProperties": [
            {"property": "sector", "value": "welfare_safety"},
            {"property": "agency", "value": "knpa"},
            {"property": "accessLevel", "value": "public"},
        ],
        "schema": [
            {
                "name": "marked_up",
                "physicalType": "file",
                "properties": [
                    {"name": "sido", "logicalType": "string"},
                    {"name": "[/x]", "logicalType": "string", "required": True},
                ],
            }
        ],
    }


@pytest.fixture
def cli(tmp_path: Path) -> tuple[CliRunner, dict[str, str], Platform]:
    """The real command line on a workspace with the markup-named contract."""
    contracts = tmp_path / "contracts"
    folder = contracts / "welfare_safety" / "knpa"
    folder.mkdir(parents=True)
    (folder / "marked_up.yaml").write_text(
        yaml.safe_dump(contract_doc(), allow_unicode=True), encoding="utf-8"
    )
    env = {"GONGYU_HOME": str(tmp_path / "ws"), "GONGYU_CONTRACTS_DIR": str(contracts)}
    settings = Settings(home=tmp_path / "ws", contracts_dir=contracts)
    return CliRunner(), env, Platform(settings)


def run(cli: tuple[CliRunner, dict[str, str], Platform], *args: str) -> str:
    runner, env, _ = cli
    done = runner.invoke(app, list(args), env=env)
    assert done.exception is None or isinstance(done.exception, SystemExit), done.exception
    assert "\x1b" not in done.output
    return done.output


def test_audit_records_print_as_they_are(cli) -> None:
    platform = cli[2]
    reader = Principal(
        subject="reader",
        agency="koroad",
        role=Role.analyst,
        via="token",
        purpose=f"[/evil] {ESCAPE}",
    )
    platform.audit.append(
        reader, AuditKind.sql, f"SELECT '{MARKUP}'", datasets=["marked_up"], error=MARKUP
    )
    shown = run(cli, "audit", "list")
    assert "[/evil]" in shown and "[/x]" in shown and "[bold]b[/bold]" in shown
    assert ":smile:" in shown and "\\x1b]0;pwned" in shown


def test_a_quarantine_reason_prints_in_run_and_status(cli, tmp_path: Path) -> None:
    data = tmp_path / "regions.csv"
    data.write_text("sido\n서울\n", encoding="utf-8")
    assert "received" in run(cli, "deliver", "marked_up", str(data))
    ran = run(cli, "run")
    assert "quarantined" in ran and "missing: '[/x]'" in ran
    status = run(cli, "status")
    assert "missing: '[/x]'" in status and "quarantined" in status


def test_a_grants_purpose_prints_as_it_is(cli) -> None:
    # A grant needs the dataset's contract only, no delivery.
    added = run(
        cli, "grants", "add", "marked_up", "--agency", "koroad", "--purpose", f"{MARKUP} {ESCAPE}",
        "--expires", "2099-12-31",
    )  # fmt: skip
    assert "grant" in added
    listed = run(cli, "grants", "list")
    assert "[/x]" in listed and "[bold]b[/bold]" in listed and "\\x1b[2J" in listed


def test_errors_with_markup_print_as_they_are(cli, tmp_path: Path) -> None:
    runner, env, _ = cli
    done = runner.invoke(app, ["deliver", "marked_up", str(tmp_path / "[/x].csv")], env=env)
    assert done.exit_code == 1
    assert "[/x].csv: no such file" in done.output
