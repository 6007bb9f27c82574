"""Helpers for the web pages' tests: sign in over HTTP like a browser, and read pages as trees."""

from __future__ import annotations

from html.parser import HTMLParser
from xml.etree.ElementTree import Element, SubElement

import httpx

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class _Tree(HTMLParser):
    """HTML into an ElementTree, so tests can use its paths (`.//table[@id='results']`)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("document")
        self.open = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = SubElement(self.open[-1], tag, {k: v or "" for k, v in attrs})
        if tag not in VOID:
            self.open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        SubElement(self.open[-1], tag, {k: v or "" for k, v in attrs})

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.open) - 1, 0, -1):
            if self.open[depth].tag == tag:
                del self.open[depth:]
                return

    def handle_data(self, data: str) -> None:
        parent = self.open[-1]
        if len(parent):
            parent[-1].tail = (parent[-1].tail or "") + data
        else:
            parent.text = (parent.text or "") + data


def parse(html: str) -> Element:
    """The page as an element tree (root `document`)."""
    tree = _Tree()
    tree.feed(html)
    tree.close()
    return tree.root


def text(element: Element) -> str:
    """An element's text, whitespace collapsed."""
    return " ".join("".join(element.itertext()).split())


def form_token(html: str, form_id: str) -> str:
    """The CSRF token a page's form carries."""
    found = parse(html).find(f".//form[@id='{form_id}']/input[@name='csrf_token']")
    assert found is not None, f"no CSRF token in form #{form_id}"
    return found.attrib["value"]


def sign_in(url: str, credential: str, **headers: str) -> httpx.Client:
    """A client signed in through the sign-in form (its cookie jar holds the session)."""
    client = httpx.Client(base_url=url, timeout=60, headers=headers)
    token = form_token(client.get("/signin").text, "signin")
    answer = client.post(
        "/signin", data={"credential": credential, "csrf_token": token, "next": "/"}
    )
    assert answer.status_code == 303, answer.text
    return client


def table(page: Element, table_id: str) -> tuple[list[str], list[list[str]]]:
    """A table's header and body cells as text."""
    found = page.find(f".//table[@id='{table_id}']")
    assert found is not None, f"no table #{table_id}"
    header = [text(th) for th in found.findall("./thead/tr/th")]
    rows = [[text(td) for td in tr.findall("./td")] for tr in found.findall("./tbody/tr")]
    return header, rows
