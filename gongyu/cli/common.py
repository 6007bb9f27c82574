"""What every command shares: the --workspace option, errors turned into clean messages and
lists printed as a table or JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from catalog.deliveries import DeliveryTooLarge
from contracts.loader import ContractError
from gongyu.platform import UnknownDataset
from gongyu.settings import Settings

# Piped output (CI logs, `| less`) gets a wide table instead of Rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)
Model = TypeVar("Model", bound=BaseModel)

WorkspaceOption = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace folder (default: $GONGYU_HOME or ./.gongyu).",
        show_default=False,
    ),
]


def settings_for(workspace: Path | None) -> Settings:
    """Settings from the environment, with --workspace taking precedence."""
    return Settings(home=workspace) if workspace else Settings()


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the library's expected errors into one-line messages and exit code 1."""
    try:
        yield
    except (ContractError, UnknownDataset, DeliveryTooLarge, FileNotFoundError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, markup=True, soft_wrap=True)
        raise typer.Exit(1) from None


def print_list(
    items: Sequence[Model],
    as_json: bool,
    columns: Sequence[str],
    row: Callable[[Model], Sequence[str]],
) -> None:
    """Print `items` as a JSON list (`--json`), or as a table of `columns`, one `row` an item."""
    if as_json:
        dumped = [item.model_dump(mode="json") for item in items]
        typer.echo(json.dumps(dumped, ensure_ascii=False, indent=1))
        return
    table = Table(*columns)
    for item in items:
        table.add_row(*row(item))
    console.print(table)
