"""Access matrix of everything but the query endpoints: every agency × role × access level over
the catalog's JSON, its pages, CKAN, DCAT, downloads (CSV, Parquet, Arrow) and the steward's
upload form, over HTTP on loopback. Each cell asserts one exact outcome — the entry with the
caller's fields, rows and masks, or its absence worded as for an unknown id — taken from one
expected-outcome function per endpoint family, which states the policy in its own words rather
than asking the implementation. Prints the cells covered. Callers without credentials, and an
address blocked for too many failures, are refused in each family's own shape.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import httpx
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from api.web.i18n import catalogue
from catalog.access.principal import Role
from tests.api.web_session import parse, sign_in, table, text
from tests.api.world import (
    AGENCIES,
    GRANTEE,
    LEVELS,
    OWNER,
    SAME_SECTOR,
    World,
    rows,
    world,
)

# The welfare sector's members among the test agencies (sectors.yaml), its secretariat, and the
# sido the grantee's row filter lets through (tests/api/world.py).
WELFARE = {OWNER, SAME_SECTOR, GRANTEE}
SECRETARIAT = SAME_SECTOR
GRANTED_SIDO = "부산"
FORMATS = ("csv", "parquet", "arrow")
ENDPOINTS = (
    "catalog_list",
    "catalog_show",
    "catalog_search",
    "page_dataset",
    "page_search",
    "ckan_list",
    "ckan_show",
    "ckan_search",
    "dcat",
    *(f"download_{f}" for f in FORMATS),
    "upload",
)
CELLS = [(e, a, r, lv) for e in ENDPOINTS for a in AGENCIES for r in Role for lv in LEVELS]
COVERED = {"cells": 0, "refusals": 0}


# The policy, stated on its own (DESIGN.md, catalog/access/policy.py's docstring), one function
# per family.


@dataclass(frozen=True)
class View:
    """A caller's rows of a test table: the `n` of each row, and whether `amount` shows."""

    ns: frozenset[int]
    amount: bool


def entry_exists(agency: str, role: Role, level: str) -> bool:
    """Catalog entries exist for everyone but another agency's private dataset (operators read
    no private data, so theirs does not exist either)."""
    return level != "private" or (agency == OWNER and role != Role.operator)


def view(agency: str, role: Role, level: str) -> View | None:
    """What the caller reads of the table at `level`, or None. Public: everyone; sector: the
    sector's agencies; restricted: the owner and the grantee; private: the owner. Operators read
    public data only. The owner reads it whole; others see `amount` (sensitive) as NULL unless
    granted; the grantee reads the rows of its granted sido only, with `amount`."""
    operator = role == Role.operator
    owner = agency == OWNER and not operator
    readable = {
        "public": True,
        "sector": not operator and agency in WELFARE,
        "restricted": not operator and agency in (OWNER, GRANTEE),
        "private": owner,
    }[level]
    if not readable:
        return None
    everything = frozenset(r["n"] for r in rows(level))
    if owner:
        return View(everything, amount=True)
    if level == "restricted":
        granted = frozenset(r["n"] for r in rows(level) if r["sido"] == GRANTED_SIDO)
        return View(granted, amount=True)
    return View(everything, amount=False)


def sees_usage(agency: str, role: Role) -> bool:
    """Who reads a dataset shows to its agency, its sector's secretariat role and operators."""
    return (
        agency == OWNER
        or role == Role.operator
        or (agency == SECRETARIAT and role == Role.secretariat)
    )


@dataclass(frozen=True)
class Entry:
    """A catalog entry as the caller must get it (None from the family: it does not exist)."""

    readable: bool
    view: View | None
    usage_shown: bool


def catalog_outcome(agency: str, role: Role, level: str) -> Entry | None:
    """JSON catalog, its pages and CKAN: the entry with the caller's verdict, masks and sample,
    or nothing (absent from lists and search, 404 by id like an unknown one)."""
    if not entry_exists(agency, role, level):
        return None
    seen = view(agency, role, level)
    return Entry(readable=seen is not None, view=seen, usage_shown=sees_usage(agency, role))


def dcat_outcome(agency: str, role: Role, level: str) -> bool:
    """DCAT exports the public datasets only, the same for every caller."""
    return level == "public"


def download_outcome(agency: str, role: Role, level: str) -> View | None:
    """A download is the caller's read of the whole table, or 404 like an unknown dataset."""
    return view(agency, role, level)


def upload_outcome(agency: str, role: Role, level: str) -> str | None:
    """Only a steward delivers, and only to its own agency's datasets: None (landed), or the
    refusal's message key."""
    if role != Role.steward:
        return "error.stewards_only"
    return None if agency == OWNER else "error.not_your_dataset"


# The served world and one client per caller.


@dataclass(eq=False)  # hashed by identity: lists are cached per (callers, endpoint, caller)
class Callers:
    """The world, an API client and a signed-in browser per (agency, role)."""

    world: World
    api: dict[tuple[str, Role], httpx.Client]
    browser: dict[tuple[str, Role], httpx.Client]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callers]:
    with world(tmp_path_factory.mktemp("access-matrix")) as w, ExitStack() as stack:
        callers = [(a, r) for a in AGENCIES for r in Role]
        api = {c: stack.enter_context(w.client(*c)) for c in callers}
        browser = {c: stack.enter_context(closing(sign_in(w.url, w.keys[c]))) for c in callers}
        yield Callers(w, api, browser)
    print(
        f"\naccess matrix (catalog, pages, CKAN, DCAT, downloads, uploads): "
        f"{COVERED['cells']} of {len(CELLS)} cells, 0 leaks "
        f"({COVERED['refusals']} refusals worded as for an unknown id)"
    )


def dataset(level: str) -> str:
    """The id of the test dataset at `level`."""
    return f"cases_{level}"


# Lists and searches are asked once per caller; each cell reads its dataset's line.


@cache
def _listed(served: Callers, endpoint: str, agency: str, role: Role) -> dict[str, Any]:
    """The test datasets a list or search shows the caller: id → what it says of it."""
    api, browser = served.api[(agency, role)], served.browser[(agency, role)]
    if endpoint in ("catalog_list", "catalog_search"):
        if endpoint == "catalog_list":
            found = api.get("/api/v1/catalog/datasets").json()
        else:
            found = [h["dataset"] for h in search_json(api)]
        return {d["id"]: d for d in found if d["id"].startswith("cases_")}
    if endpoint == "page_search":
        answer = browser.get("/search", params={"q": "cases"})
        assert answer.status_code == 200
        items = parse(answer.text).iterfind(".//li[@class='dataset']")
        return {text(li.find(".//code")): li for li in items}
    if endpoint == "ckan_list":
        names = ckan(api, "package_list")["result"]
        return {n: n for n in names if n.startswith("cases_")}
    if endpoint == "ckan_search":
        found = ckan(api, "package_search", q="cases", rows=1000)["result"]["results"]
        return {p["name"]: p for p in found if p["name"].startswith("cases_")}
    assert endpoint == "dcat"
    graph = api.get("/catalog.jsonld").json()["@graph"]
    return {d["dct:identifier"]: d for d in graph[0]["dcat:dataset"]}


def search_json(api: httpx.Client) -> list[dict[str, Any]]:
    """The JSON search's hits for the test tables' common word."""
    answer = api.get("/api/v1/catalog/search", params={"q": "cases", "limit": 100})
    assert answer.status_code == 200
    return answer.json()["hits"]


def ckan(api: httpx.Client, action: str, **params: Any) -> dict[str, Any]:
    """One CKAN action's envelope (GET)."""
    return api.get(f"/api/3/action/{action}", params=params).json()


# What a cell checks, per family.


def check_sample(sample: dict[str, Any], want: Entry, level: str) -> None:
    """Sample rows: none without access; else up to ten of the caller's rows, masked."""
    if want.view is None:
        assert sample["rows"] == [] and sample["note"], f"leak: {sample}"
        return
    got = [dict(zip(sample["columns"], r, strict=True)) for r in sample["rows"]]
    assert len(got) == min(10, len(want.view.ns))
    check_rows(got, want.view, level)


def check_rows(got: list[dict[str, Any]], want: View, level: str) -> None:
    """Rows exactly the caller's: its `n`s, their sido, `amount` or NULL, and pseudonyms."""
    assert {r["n"] for r in got} <= want.ns, f"leak: rows {sorted(r['n'] for r in got)}"
    for r in got:
        assert r["sido"] == rows(level)[r["n"] - 1]["sido"]
        assert r["amount"] == (1000 * r["n"] if want.amount else None), f"leak: {r}"
        assert "-person-" not in r["person"], f"leak: a raw identifier {r['person']}"


def catalog_cell(served: Callers, endpoint: str, agency: str, role: Role, level: str) -> None:
    want = catalog_outcome(agency, role, level)
    api = served.api[(agency, role)]
    if endpoint == "catalog_show":
        answer = api.get(f"/api/v1/catalog/datasets/{dataset(level)}")
        if want is None:
            unknown = api.get("/api/v1/catalog/datasets/cases_nope")
            assert (answer.status_code, answer.content) == (404, unknown.content), "leak"
            COVERED["refusals"] += 1
            return
        assert answer.status_code == 200, answer.text
        entry = answer.json()
        assert entry["summary"]["readable"] is want.readable
        masked = {c["name"]: c["masked"] for c in entry["columns"]}
        assert masked == {
            "person": False,
            "sido": False,
            "n": False,
            "amount": not (want.view and want.view.amount),
        }
        assert entry["usage_shown"] is want.usage_shown
        check_sample(entry["sample"], want, level)
        return
    listed = _listed(served, endpoint, agency, role)
    if want is None:
        assert dataset(level) not in listed, "leak"
        return
    summary = listed[dataset(level)]
    assert summary["access"] == level and summary["readable"] is want.readable


def page_cell(served: Callers, endpoint: str, agency: str, role: Role, level: str) -> None:
    want = catalog_outcome(agency, role, level)
    browser = served.browser[(agency, role)]
    if endpoint == "page_search":
        listed = _listed(served, endpoint, agency, role)
        if want is None:
            assert dataset(level) not in listed, "leak"
            return
        unreadable = listed[dataset(level)].find(".//span[@class='badge unreadable']")
        assert (unreadable is None) is want.readable
        return
    answer = browser.get(f"/datasets/{dataset(level)}")
    if want is None:
        unknown = browser.get("/datasets/cases_nope")
        assert answer.status_code == unknown.status_code == 404, "leak"
        assert answer.text.replace(dataset(level), "cases_nope") == unknown.text, "leak"
        COVERED["refusals"] += 1
        return
    assert answer.status_code == 200
    page = parse(answer.text)
    links = {
        urlsplit(a.attrib["href"]).query
        for a in page.iterfind(".//p[@id='downloads']/a[@class='download']")
    }
    if want.view is None:
        assert links == set() and page.find(".//table[@id='sample-rows']") is None, "leak"
        assert page.find(".//a[@id='query-dataset']") is None
        return
    assert links == {f"format={f}" for f in FORMATS}
    assert all(
        a.attrib["href"].startswith(f"/api/v1/datasets/{dataset(level)}/download")
        for a in page.iterfind(".//a[@class='download']")
    )
    header, cells = table(page, "sample-rows")
    shown = [dict(zip(header, r, strict=True)) for r in cells]
    assert len(shown) == min(10, len(want.view.ns))
    for r in shown:
        n = int(r["n"])
        assert n in want.view.ns, f"leak: row {n}"
        assert r["amount"] == (str(1000 * n) if want.view.amount else ""), f"leak: {r}"


def ckan_cell(served: Callers, endpoint: str, agency: str, role: Role, level: str) -> None:
    want = catalog_outcome(agency, role, level)
    api = served.api[(agency, role)]
    if endpoint == "ckan_show":
        answer = api.get("/api/3/action/package_show", params={"id": dataset(level)})
        if want is None:
            unknown = api.get("/api/3/action/package_show", params={"id": "cases_nope"})
            assert answer.status_code == unknown.status_code == 404, "leak"
            assert answer.text == unknown.text, "leak"
            COVERED["refusals"] += 1
            return
        assert answer.status_code == 200
        package = answer.json()["result"]
    else:
        listed = _listed(served, endpoint, agency, role)
        if want is None:
            assert dataset(level) not in listed, "leak"
            return
        if endpoint == "ckan_list":
            return
        package = listed[dataset(level)]
    extras = {e["key"]: e["value"] for e in package["extras"]}
    assert extras["access_level"] == level and extras["readable"] == str(want.readable).lower()
    assert package["private"] is (level == "private")
    downloads = {r["format"]: r["url"] for r in package["resources"] if r["url_type"] is None}
    base = f"{served.world.url}/api/v1/datasets/{dataset(level)}/download?format="
    assert downloads == {"CSV": f"{base}csv", "Parquet": f"{base}parquet", "Arrow": f"{base}arrow"}


def dcat_cell(served: Callers, endpoint: str, agency: str, role: Role, level: str) -> None:
    listed = _listed(served, endpoint, agency, role)
    if not dcat_outcome(agency, role, level):
        assert dataset(level) not in listed, "leak"
        return
    node = listed[dataset(level)]
    urls = {
        d["dcat:downloadURL"]["@id"] for d in node["dcat:distribution"] if "dcat:downloadURL" in d
    }
    base = f"{served.world.url}/api/v1/datasets/{dataset(level)}/download?format="
    assert urls == {f"{base}{f}" for f in FORMATS}


def decoded(fmt: str, content: bytes) -> list[dict[str, Any]]:
    """A downloaded file's rows."""
    if fmt == "csv":
        return pacsv.read_csv(io.BytesIO(content)).to_pylist()
    if fmt == "parquet":
        return pq.read_table(io.BytesIO(content)).to_pylist()
    return pa.ipc.open_stream(content).read_all().to_pylist()


def download_cell(served: Callers, endpoint: str, agency: str, role: Role, level: str) -> None:
    fmt = endpoint.removeprefix("download_")
    want = download_outcome(agency, role, level)
    api = served.api[(agency, role)]
    answer = api.get(f"/api/v1/datasets/{dataset(level)}/download", params={"format": fmt})
    if want is None:
        unknown = api.get("/api/v1/datasets/cases_nope/download", params={"format": fmt})
        assert (answer.status_code, answer.content) == (404, unknown.content), "leak"
        COVERED["refusals"] += 1
        return
    assert answer.status_code == 200, answer.text
    got = decoded(fmt, answer.content)
    assert {r["n"] for r in got} == want.ns and len(got) == len(want.ns)
    check_rows(got, want, level)


def upload_cell(served: Callers, endpoint: str, agency: str, role: Role, level: str) -> None:
    want = upload_outcome(agency, role, level)
    browser = served.browser[(agency, role)]
    deliveries = served.world.platform.deliveries
    before = {d.delivery_id for d in deliveries.list(dataset(level))}
    token = parse(browser.get("/").text).find(".//meta[@name='csrf-token']").attrib["content"]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["person", "sido", "n", "amount"])
    writer.writeheader()
    # New bytes per cell, so a landed file is a new delivery (it is never processed here).
    writer.writerows({**r, "amount": r["amount"] + len(before)} for r in rows(level))
    answer = browser.post(
        "/steward/upload",
        data={"csrf_token": token, "dataset": dataset(level)},
        files={"file": ("cases.csv", out.getvalue().encode(), "text/csv")},
    )
    landed = {d.delivery_id for d in deliveries.list(dataset(level))} - before
    if want is not None:
        assert answer.status_code == 403 and not landed, "leak: a delivery landed"
        assert catalogue()[want].ko in answer.text
        return
    assert answer.status_code == 303 and len(landed) == 1
    assert answer.headers["location"] == f"/steward?delivery={landed.pop()}&new=true"


FAMILIES: dict[str, Callable[[Callers, str, str, Role, str], None]] = {
    "catalog": catalog_cell,
    "page": page_cell,
    "ckan": ckan_cell,
    "dcat": dcat_cell,
    "download": download_cell,
    "upload": upload_cell,
}


@pytest.mark.parametrize(
    ("endpoint", "agency", "role", "level"),
    CELLS,
    ids=[f"{e}-{a}-{r.value}-{lv}" for e, a, r, lv in CELLS],
)
def test_cell(served: Callers, endpoint: str, agency: str, role: Role, level: str) -> None:
    FAMILIES[endpoint.split("_")[0]](served, endpoint, agency, role, level)
    COVERED["cells"] += 1


# Callers without credentials, and an address blocked for too many failed ones.

ANONYMOUS = {
    "catalog": ("GET", "/api/v1/catalog/datasets/cases_public"),
    "download": ("GET", "/api/v1/datasets/cases_public/download"),
    "dcat": ("GET", "/catalog.jsonld"),
    "ckan": ("GET", "/api/3/action/package_show?id=cases_public"),
    "page": ("GET", "/datasets/cases_public"),
    "upload": ("POST", "/steward/upload"),
}


@pytest.mark.parametrize("family", ANONYMOUS)
def test_no_credentials_is_refused_in_each_familys_shape(served: Callers, family: str) -> None:
    method, path = ANONYMOUS[family]
    answer = httpx.request(method, served.world.url + path)
    if family == "ckan":
        assert answer.status_code == 403
        assert answer.json()["error"] == {
            "__type": "Authorization Error",
            "message": "Access denied",
        }
    elif family in ("page", "upload"):
        assert answer.status_code == 303 and answer.headers["location"].startswith("/signin")
    else:
        assert (answer.status_code, answer.json()) == (401, {"detail": "invalid"})


def test_a_blocked_address_gets_429_in_each_apis_shape(served: Callers) -> None:
    w = served.world
    limit = w.platform.settings.auth_failures_per_minute
    wrong = {"Authorization": "Bearer gyk_0000000000000000_nope"}
    # Its own loopback address: the other cells' callers are not blocked.
    transport = httpx.HTTPTransport(local_address="127.0.0.9")
    with httpx.Client(base_url=w.url, transport=transport, timeout=30) as client:
        for _ in range(limit):
            assert client.get("/api/v1/catalog/datasets", headers=wrong).status_code == 401
        for path in (
            "/api/v1/catalog/datasets/cases_public",
            "/api/v1/datasets/cases_public/download",
            "/catalog.jsonld",
        ):
            answer = client.get(path, headers=wrong)
            assert (answer.status_code, answer.json()) == (429, {"detail": "invalid"})
            assert 1 <= int(answer.headers["Retry-After"]) <= 60
        for method in ("GET", "POST"):
            answer = client.request(method, "/api/3/action/package_list", headers=wrong)
            assert answer.status_code == 429 and 1 <= int(answer.headers["Retry-After"]) <= 60
            body = answer.json()
            assert body["success"] is False and body["help"].endswith("name=package_list")
            assert body["error"] == {"__type": "Rate Limit Error", "message": "Too many requests"}
