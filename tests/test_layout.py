"""The project's shape: each room imports from this repository, every setting is documented, and
the README and docs/ link only to files of the repository."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from gongyu.settings import Settings
from gongyu.settings_doc import BEGIN, END, settings_table

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


def settings_page_table() -> str:
    page = (REPO / "docs" / "settings.md").read_text(encoding="utf-8")
    found = re.search(f"{re.escape(BEGIN)}\n(.*?){re.escape(END)}", page, re.S)
    assert found, f"docs/settings.md must hold the settings table between {BEGIN} and {END}"
    return found.group(1)


def test_settings_page_holds_the_generated_table() -> None:
    assert settings_page_table() == settings_table(), (
        "docs/settings.md's table is not the one gongyu/settings.py describes; regenerate it: "
        "python -m gongyu.settings_doc --write docs/settings.md "
        "(python -m gongyu.settings_doc prints it)"
    )


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented(name: str) -> None:
    assert f"| `GONGYU_{name.upper()}` |" in settings_page_table(), (
        f"document GONGYU_{name.upper()} in docs/settings.md: python -m gongyu.settings_doc"
    )


def test_readme_opens_with_the_two_commands() -> None:
    readme = (REPO / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", readme, re.S)
    assert block
    commands = [ln.split("#")[0].strip() for ln in block.group(1).splitlines() if ln.strip()]
    assert commands == ["./dev demo", "./dev test"]
    assert (REPO / ".ci" / "run").read_text().strip().endswith("exec ./dev test")


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
