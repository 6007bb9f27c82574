"""The project's shape: each room imports from this repository, and every setting is documented."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from gongyu.settings import Settings

REPO = Path(__file__).resolve().parent.parent
ROOMS = ["gongyu", "sectors", "contracts", "quality", "catalog", "assets", "api"]


@pytest.mark.parametrize("room", ROOMS)
def test_room_comes_from_this_repository(room: str) -> None:
    module = importlib.import_module(room)
    assert Path(module.__file__).resolve().parent == REPO / room


def test_packages_are_listed_explicitly() -> None:
    text = (REPO / "pyproject.toml").read_text()
    listed = re.search(r"packages = \[(.*?)\]", text, re.S)
    assert listed, "pyproject.toml must list packages explicitly"
    assert "tests" not in listed.group(1)
    for room in ROOMS:
        assert f'"{room}"' in listed.group(1)


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented_in_the_readme(name: str) -> None:
    readme = (REPO / "README.md").read_text()
    assert f"`GONGYU_{name.upper()}`" in readme, f"document GONGYU_{name.upper()} in README.md"


def test_readme_opens_with_the_two_commands() -> None:
    readme = (REPO / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", readme, re.S)
    assert block
    commands = [ln.split("#")[0].strip() for ln in block.group(1).splitlines() if ln.strip()]
    assert commands == ["./dev demo", "./dev test"]
    assert (REPO / ".ci" / "run").read_text().strip().endswith("exec ./dev test")
