"""The project's shape: each room imports from this repository, and every setting is documented."""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gongyu.ground.settings import Settings

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
    names = set(re.findall(r'"([\w.]+)"', listed.group(1)))
    # Every package of every room, sub-rooms included (an unlisted one is missing when installed).
    packages = {
        ".".join(init.parent.relative_to(REPO).parts)
        for room in ROOMS
        for init in (REPO / room).rglob("__init__.py")
        if "migrations" not in init.parts
    }
    assert packages == names


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


LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))
PACKAGES = ["gongyu", "api", "assets", "catalog", "quality", "contracts", "sectors"]


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)}
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache"], capture_output=True, text=True, cwd=root, env=env
    )


def test_the_floors_are_kept() -> None:
    done = lint_imports(REPO)
    assert done.returncode == 0, done.stdout


@pytest.mark.parametrize(
    ("module", "upward"),
    [
        ("catalog/db.py", "import api.app"),  # the domain reaching into HTTP
        ("quality/gate.py", "import catalog.lakehouse"),  # the gate reaching into publishing
        ("gongyu/ground/settings.py", "import contracts"),  # the ground naming a floor above
        ("api/sql/query.py", "import assets.runner"),  # one adapter calling another
    ],
)
def test_an_import_across_the_floors_is_caught(tmp_path: Path, module: str, upward: str) -> None:
    for package in PACKAGES:
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    target = tmp_path / module
    target.write_text(f"{upward}\n{target.read_text()}")
    done = lint_imports(tmp_path)
    assert done.returncode == 1, done.stdout
    assert module.removesuffix(".py").replace("/", ".") in done.stdout
