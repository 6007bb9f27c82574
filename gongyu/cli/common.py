"""What every command shares: the --workspace option, errors turned into clean messages, lists
printed as a table or JSON, and the consoles everything is printed through.

The consoles print every string exactly as it is: Rich markup and emoji codes in it are text (a
quarantine reason or a declared purpose reading `[/x]` cannot break a table), and control
characters are shown escaped (data cannot move the cursor or retitle the operator's terminal).
Colour comes only from `styled`, which escapes its parts the same way."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from gongyu.ground.settings import Settings
    from gongyu.platform import Platform

# C0 and C1 control characters but the line break and tab, which lay text out.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
Model = TypeVar("Model", bound=BaseModel)


def visible(text: str) -> str:
    """`text` with its control characters written as escapes (`\\x1b`, `\\r`)."""
    return CONTROL.sub(lambda found: repr(found[0])[1:-1], text)


class LiteralConsole(Console):
    """A console that prints strings as they are (see the module): no markup, emoji codes or
    highlighting, control characters escaped, whatever a single `print` asks for."""

    def __init__(self, **options: Any) -> None:
        super().__init__(markup=False, emoji=False, highlight=False, **options)

    def render_str(self, text: str, **options: Any) -> Text:
        """Every string printed, in a table cell or not, comes through here."""
        return super().render_str(visible(text), **{**options, "markup": False, "emoji": False})


def styled(*parts: str | tuple[str, str]) -> Text:
    """One line from parts, each a string or a (string, Rich style) pair, escaped as printed."""
    return Text.assemble(
        *(visible(part) if isinstance(part, str) else (visible(part[0]), part[1]) for part in parts)
    )


# Piped output (CI logs, `| less`) gets a wide table instead of Rich's 80-column default.
console = LiteralConsole(width=None if sys.stdout.isatty() else 160)
err = LiteralConsole(stderr=True)

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
    from gongyu.ground.settings import Settings

    return Settings(home=workspace) if workspace else Settings()


def platform_for(workspace: Path | None) -> Platform:
    """The platform of the settings' workspace (`settings_for`)."""
    from gongyu.platform import Platform

    return Platform(settings_for(workspace))


def expected(exc: Exception) -> bool:
    """True when `exc` is an error the user can act on from its message: the library's are
    ValueErrors (a bad contract, a delivery too large…) or an unknown dataset."""
    # Looked up, not imported: a light verb must not load the platform to check its errors,
    # and an error of a module never loaded cannot have been raised.
    platform = sys.modules.get("gongyu.platform")
    unknown = (platform.UnknownDataset,) if platform else ()
    return isinstance(exc, (FileNotFoundError, ValueError, *unknown))


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the library's expected errors into one-line messages and exit code 1."""
    try:
        yield
    except Exception as exc:
        if not expected(exc):
            raise
        err.print(styled(("error:", "red"), f" {exc}"), soft_wrap=True)
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
