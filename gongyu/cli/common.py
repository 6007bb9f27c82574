"""What every command shares: the --workspace option and errors turned into clean messages."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from catalog.deliveries import DeliveryTooLarge
from contracts.loader import ContractError
from gongyu.platform import UnknownDataset
from gongyu.settings import Settings

# Piped output (CI logs, `| less`) gets a wide table instead of Rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)

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
