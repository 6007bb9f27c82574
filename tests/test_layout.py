"""The project's shape: each room imports from this repository, every setting is documented, and
the README and docs/ link only to files of the repository."""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gongyu.ground.settings import Settings
from gongyu.ground.settings_doc import BEGIN, END, settings_table

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


def settings_page_table() -> str:
    page = (REPO / "docs" / "settings.md").read_text(encoding="utf-8")
    found = re.search(f"{re.escape(BEGIN)}\n(.*?){re.escape(END)}", page, re.S)
    assert found, f"docs/settings.md must hold the settings table between {BEGIN} and {END}"
    return found.group(1)


def test_settings_page_holds_the_generated_table() -> None:
    assert settings_page_table() == settings_table(), (
        "docs/settings.md's table is not the one gongyu/ground/settings.py describes; "
        "regenerate it: "
        "python -m gongyu.ground.settings_doc --write docs/settings.md "
        "(python -m gongyu.ground.settings_doc prints it)"
    )


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented(name: str) -> None:
    assert f"| `GONGYU_{name.upper()}` |" in settings_page_table(), (
        f"document GONGYU_{name.upper()} in docs/settings.md: python -m gongyu.ground.settings_doc"
    )


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
        ("gongyu/query/query.py", "import assets.runner"),  # one adapter calling another
        ("api/browse/dcat.py", "import api.sql.routes"),  # a route module borrowing another's
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


# Link targets in Markdown: [text](target) and ![alt](target), <scheme:…> autolinks, reference
# definitions `[x]: target`, HTML `href="target"` and bare addresses (GitHub links those too).
LINKS = [
    re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)"),
    re.compile(r"<([a-zA-Z][a-zA-Z0-9+.-]*:[^>\s]*)>"),
    re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M),
    re.compile(r"\bhref=[\"']([^\"']*)[\"']"),
    re.compile(r"(?<![\w(<\"'/])((?:https?://|www\.)[^\s<>()]+)"),
]
LOOPBACK = re.compile(r"https?://(127\.0\.0\.1|localhost)(:\d+)?(/|$)")


def markdown_pages() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def without_fences(text: str) -> str:
    return re.sub(r"^ {0,3}(`{3,}|~{3,}).*?^ {0,3}\1[^\n]*$", "", text, flags=re.M | re.S)


def links(page: Path) -> list[str]:
    """A page's link targets; code (blocks and spans) shows addresses as text, not as links."""
    text = without_fences(page.read_text(encoding="utf-8"))
    text = re.sub(r"(`+)(?!`).+?(?<!`)\1(?!`)", "", text, flags=re.S)
    return [m.group(1) for pattern in LINKS for m in pattern.finditer(text)]


def anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings (a repeated one gets -1, -2, …)."""
    headings = re.findall(r"^#{1,6}\s+(.*?)\s*#*$", without_fences(page.read_text()), re.M)
    found: set[str] = set()
    for heading in headings:
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchor, n = slug, 0
        while anchor in found:
            n += 1
            anchor = f"{slug}-{n}"
        found.add(anchor)
    return found


@pytest.mark.parametrize("page", markdown_pages(), ids=lambda p: str(p.relative_to(REPO)))
def test_links_stay_in_the_repository(page: Path) -> None:
    for target in links(page):
        if re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", target):  # an address, not a file
            assert LOOPBACK.match(target), f"{page.name}: {target} leaves the repository"
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.is_relative_to(REPO), f"{page.name}: {target} leaves the repository"
        assert resolved.exists(), f"{page.name}: {target} does not exist"
        if anchor and resolved.suffix == ".md":
            assert anchor in anchors(resolved), f"{page.name}: {target}: no such heading"


def test_readme_links_every_docs_page() -> None:
    readme = REPO / "README.md"
    linked = {(REPO / target.partition("#")[0]).resolve() for target in links(readme)}
    pages = {page.resolve() for page in (REPO / "docs").glob("*.md")}
    assert pages, "docs/ holds the reference pages"
    missing = sorted(page.name for page in pages - linked)
    assert not missing, f"link these from README.md: {missing}"
