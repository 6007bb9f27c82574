"""The settings table of docs/settings.md, rendered from `Settings` (the one place settings live).

`python -m gongyu.ground.settings_doc` prints it; `--write docs/settings.md` puts it between the
page's `<!-- settings:begin -->` and `<!-- settings:end -->` markers. tests/test_layout.py checks
the page holds exactly this table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic.fields import FieldInfo

from gongyu.ground.settings import Settings

BEGIN = "<!-- settings:begin -->"
END = "<!-- settings:end -->"


def _default(name: str, field: FieldInfo) -> str:
    """A field's default as the table shows it: `documented_default` when the code computes it."""
    extra = field.json_schema_extra
    if isinstance(extra, dict) and "documented_default" in extra:
        return str(extra["documented_default"])
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    elif isinstance(value, Path):
        if value.is_absolute():  # a path on this machine would differ on every other
            raise ValueError(f"{name}: give its default as json_schema_extra documented_default")
        text = value.as_posix()
    elif isinstance(value, list | dict):
        text = json.dumps(value)
    else:
        text = str(value)
    return f"`{text}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def settings_table() -> str:
    """Every setting as a Markdown table row: `GONGYU_<NAME>`, default, meaning."""
    rows = ["| setting | default | meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        if not field.description:
            raise ValueError(f"{name}: describe it (Field description=...) in the settings")
        env = f"`GONGYU_{name.upper()}`"
        rows.append(f"| {env} | {_cell(_default(name, field))} | {_cell(field.description)} |")
    return "\n".join(rows) + "\n"


def write(page: Path) -> None:
    """Replace the table between the markers of `page` with the current one."""
    text = page.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    page.write_text(f"{head}{BEGIN}\n{settings_table()}{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"] and len(sys.argv) == 3:
        write(Path(sys.argv[2]))
    elif len(sys.argv) == 1:
        sys.stdout.write(settings_table())
    else:
        sys.exit("usage: python -m gongyu.ground.settings_doc [--write docs/settings.md]")
