"""CKAN's action API (a read-only subset) at `/api/3/action/…` and `/api/action/…`, so CKAN
harvesters (ckanext-harvest's CKAN harvester) and the `ckanapi` client work unchanged.

Actions: `package_list`, `package_show`, `package_search`, `current_package_list_with_resources`,
`package_autocomplete`, `resource_show`, `organization_list`, `organization_show`, `group_list`,
`group_show`, `tag_list`, `tag_show`, `license_list`, `status_show`, `site_read`, `help_show`.
Agencies are organizations, sectors are groups. GET with query parameters or POST with a JSON
body; answers in CKAN's envelope and errors in CKAN's shapes. `ckanapi` sends a key as a bare
`Authorization: <key>` (and `X-CKAN-API-Key`): both are accepted here, as is `Bearer`. Without
valid credentials every action answers CKAN's 403 "Access denied", whatever the reason; an
address blocked for too many failures gets 429 with `Retry-After`, in the same envelope.

Every action answers from what the caller sees (`CatalogService.visible`): another agency's
private dataset is in no list, count, facet, tag, autocompletion or resource.

A joint product is a package whose extras say `kind` product and name its `inputs`;
`package_search` filters and counts facets by `kind` (or `extras_kind`, as CKAN's Solr indexes
an extra), and a product never sorts above a matching package it reads.

`package_search` reads Solr's filter syntax as CKAN passes it on: `field:value` terms (quoted,
`*`/`?` wildcards, `field:(a OR b)`), date ranges `[from TO to]` / `{…}` with `*`, `NOW` and
date math on `metadata_modified` and `metadata_created`, `-`/`NOT` negation, `OR`, parentheses.
Terms side by side (or `AND`) must all hold and `OR` joins the terms beside it, so
`organization:a OR organization:b metadata_modified:[… TO *]`, as ckanext-harvest writes it,
is `(a OR b) AND modified since`.
"""

from __future__ import annotations

import calendar
import inspect
import json
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.auth import Refused, authenticate_request, declared_purpose
from api.browse.audit import audit_later
from api.browse.ckan_model import (
    RESOURCES,
    group,
    licence_entry,
    organization,
    package,
    resource_id,
    tag,
)
from api.browse.service import CatalogService
from api.deps import catalog_of
from api.ratelimit import RATE_LIMITED
from catalog.access.audit import Outcome
from catalog.access.principal import Principal
from catalog.contract_reviews import UnknownSubmission, from_catalog
from catalog.entries import DatasetSummary
from catalog.freshness import first_published, last_published
from contracts.licences import Licence
from contracts.model import AccessLevel, Contract
from sectors.registry import Agency, Sector

# Refusals come in CKAN's envelope (`success: false`), as CKAN's clients expect them.
router = APIRouter(
    tags=["ckan"],
    responses={
        401: {"description": "No valid API key or token (CKAN's `Authorization Error`)."},
        429: RATE_LIMITED | {"description": f"{RATE_LIMITED['description']} (CKAN envelope)"},
    },
)
MAX_ROWS = 1000
MAX_GROUPS = 1000  # CKAN's `ckan.group_and_organization_list_max`
FACET_LIMIT = 50  # CKAN's `search.facets.limit`
AUTOCOMPLETE_LIMIT = 10
# The CKAN release whose action shapes these answers follow (`status_show`).
CKAN_VERSION = "2.10.0"
_TRUE = {"true", "yes", "on", "1", "y", "t"}


class CkanError(Exception):
    """An action's failure as CKAN reports it: HTTP status, `__type`, and message or fields."""

    def __init__(
        self,
        status: int,
        kind: str,
        message: str = "",
        headers: dict[str, str] | None = None,
        **fields: list[str],
    ) -> None:
        super().__init__(message or kind)
        self.status, self.kind, self.message, self.fields = status, kind, message, fields
        self.headers = headers

    def body(self) -> dict[str, Any]:
        """The `error` object of CKAN's envelope."""
        detail = {"message": self.message} if self.message else self.fields
        return {"__type": self.kind, **detail}


def not_found() -> CkanError:
    """CKAN's 404: unknown, and another agency's private dataset alike."""
    return CkanError(404, "Not Found Error", "Not found")


def missing(name: str) -> CkanError:
    """CKAN's 409 for a required parameter left out."""
    return CkanError(409, "Validation Error", **{name: ["Missing value"]})


def invalid_query(why: str) -> CkanError:
    """CKAN's 409 for a search it cannot run."""
    return CkanError(409, "Search Query Error", f"Search Query is invalid: {why}")


def _flag(params: dict[str, Any], name: str, default: bool = False) -> bool:
    value = params.get(name, default)
    return value if isinstance(value, bool) else str(value).strip().lower() in _TRUE


def _number(params: dict[str, Any], name: str, default: int, maximum: int | None = None) -> int:
    try:
        value = int(params.get(name, default))
    except (TypeError, ValueError):
        raise CkanError(409, "Validation Error", **{name: ["Invalid integer"]}) from None
    if value < 0:
        raise CkanError(409, "Validation Error", **{name: ["Must be a natural number"]})
    return min(value, maximum) if maximum is not None else value


def _names(params: dict[str, Any], name: str) -> list[str] | None:
    """A list parameter: a JSON list (POST), a JSON-encoded list or comma-separated names (GET)."""
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise CkanError(409, "Validation Error", **{name: ["Not a list"]}) from None
        else:
            value = [v.strip() for v in text.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CkanError(409, "Validation Error", **{name: ["Not a list of strings"]})
    return value


# The search: one record per dataset the caller sees, the fields `fq`, `sort` and facets read.


@dataclass(frozen=True)
class Doc:
    """A dataset as the search reads it."""

    contract: Contract
    created: datetime | None
    modified: datetime | None
    score: float = 0.0
    rank: int = 0  # the search index's order (best first; by title without words)
    ranked: bool = False  # whether words ranked it (then `rank` breaks ties of `score`)

    def values(self, name: str) -> list[str]:
        """The field's values as strings (a multi-valued field has several)."""
        c = self.contract
        private = c.access == AccessLevel.private
        if name in ("organization", "owner_org"):
            return [c.agency]
        if name == "groups":
            return [c.sector]
        if name == "tags":
            return list(c.odcs.tags or [])
        if name == "access_level":
            return [c.access.value]
        if name == "license_id":
            return [c.licence.value if c.licence else "notspecified"]
        if name == "res_format":
            return [fmt for _, fmt, _ in RESOURCES]
        if name in ("id", "name"):
            return [c.id]
        if name in ("title", "title_string"):
            return [c.title]
        if name == "private":
            return [str(private).lower()]
        if name == "capacity":
            return ["private" if private else "public"]
        if name in ("dataset_type", "type"):
            return ["dataset"]
        if name in ("kind", "extras_kind"):  # a package's `kind` extra (Solr's `extras_*`)
            return [c.kind]
        if name == "state":
            return ["active"]
        raise KeyError(name)

    def moment(self, name: str) -> datetime | None:
        """A date field's value."""
        return self.modified if name == "metadata_modified" else self.created


Predicate = Callable[[Doc], bool]
DATE_FIELDS = frozenset({"metadata_modified", "metadata_created"})
FQ_FIELDS = frozenset(
    {
        "organization",
        "owner_org",
        "groups",
        "tags",
        "access_level",
        "license_id",
        "id",
        "name",
        "private",
        "capacity",
        "dataset_type",
        "type",
        "kind",
        "extras_kind",
        "state",
        *DATE_FIELDS,
    }
)
FACET_FIELDS = frozenset(
    {
        "organization",
        "groups",
        "tags",
        "access_level",
        "license_id",
        "res_format",
        "kind",
        "extras_kind",
    }
)
MAX_DEPTH = 50  # nested parentheses and negations in one query
_FIELD = re.compile(r"([A-Za-z_][\w.]*):")
_KEYWORDS = {"AND": "and", "&&": "and", "OR": "or", "||": "or", "NOT": "not"}
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?(Z|[+-]\d{2}:?\d{2})?"
)
_MATH = re.compile(
    r"([+-])(\d+)(YEAR|MONTH|DAY|HOUR|MINUTE|SECOND|MILLI)S?|/(YEAR|MONTH|DAY|HOUR)S?"
)


def _shift_months(moment: datetime, months: int) -> datetime:
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def solr_moment(text: str, now: datetime) -> datetime:
    """A Solr date (`2024-01-01T00:00:00Z`, any fraction of a second, or a date alone), `NOW`,
    and date math on either (`NOW-1DAY`, `NOW/DAY`, `…Z+6MONTHS`), as aware UTC."""
    value = text.strip().upper()
    if value.startswith("NOW"):
        moment, rest = now, value[3:]
    else:
        found = _ISO.match(value)
        if found is None:
            raise invalid_query(f"cannot read {text!r} as a date")
        y, mo, d, h, mi, s, frac, zone = found.groups()
        micros = int((frac or "0")[:6].ljust(6, "0"))
        try:
            moment = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0))
            moment = moment.replace(microsecond=micros)
        except ValueError:
            raise invalid_query(f"cannot read {text!r} as a date") from None
        if zone and zone != "Z":
            sign = 1 if zone[0] == "+" else -1
            digits = zone[1:].replace(":", "")
            offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
            moment -= sign * offset
        moment, rest = moment.replace(tzinfo=UTC), value[found.end() :]
    try:
        return _date_math(moment, rest)
    except (ValueError, OverflowError):
        raise invalid_query(f"{text!r} is out of range") from None


def _date_math(moment: datetime, rest: str) -> datetime:
    """`rest`'s steps (`+6MONTHS`, `-1DAY`, `/DAY`) applied to `moment`, left to right."""
    at = 0
    while at < len(rest):
        step = _MATH.match(rest, at)
        if step is None:
            raise invalid_query(f"cannot read the date math {rest!r}")
        sign, count, unit, rounding = step.groups()
        if rounding:
            keep = {"YEAR": 1, "MONTH": 2, "DAY": 3, "HOUR": 4}[rounding]
            parts = [moment.year, moment.month, moment.day, moment.hour][:keep]
            parts += [1] * max(0, 3 - keep)
            moment = datetime(*parts, tzinfo=UTC)  # type: ignore[misc]
        else:
            n = int(count) * (1 if sign == "+" else -1)
            if unit in ("YEAR", "MONTH"):
                moment = _shift_months(moment, n * (12 if unit == "YEAR" else 1))
            else:
                length = {
                    "DAY": timedelta(days=1),
                    "HOUR": timedelta(hours=1),
                    "MINUTE": timedelta(minutes=1),
                    "SECOND": timedelta(seconds=1),
                    "MILLI": timedelta(milliseconds=1),
                }[unit]
                moment += n * length
        at = step.end()
    return moment


def _all(parts: list[Predicate]) -> Predicate:
    return parts[0] if len(parts) == 1 else (lambda d: all(p(d) for p in parts))


def _any(parts: list[Predicate]) -> Predicate:
    return parts[0] if len(parts) == 1 else (lambda d: any(p(d) for p in parts))


class _Query:
    """A recursive-descent reader of Solr's standard query syntax, as far as CKAN's clients use
    it in `fq` (see the module's docstring), into a predicate on `Doc`s."""

    def __init__(self, text: str, now: datetime) -> None:
        self.text, self.at, self.now = text, 0, now
        self.depth = 0

    def parse(self) -> Predicate:
        found = self._and(None, closing=False)
        if self.at < len(self.text):
            raise invalid_query(f"unexpected {self.text[self.at :]!r}")
        return found

    def _skip(self) -> None:
        while self.at < len(self.text) and self.text[self.at].isspace():
            self.at += 1

    def _keyword(self) -> str | None:
        """The boolean keyword at the cursor (not consumed), if any."""
        for word, kind in _KEYWORDS.items():
            end = self.at + len(word)
            if self.text.startswith(word, self.at) and (
                word in ("&&", "||") or end == len(self.text) or self.text[end] in " \t\n()"
            ):
                return kind
        return None

    def _take(self, kind: str) -> None:
        for word, k in _KEYWORDS.items():
            if k == kind and self.text.startswith(word, self.at):
                self.at += len(word)
                return

    def _and(self, name: str | None, closing: bool) -> Predicate:
        parts: list[Predicate] = []
        while True:
            self._skip()
            if self.at >= len(self.text) or (closing and self.text[self.at] == ")"):
                break
            if self._keyword() == "and":
                self._take("and")
                continue
            parts.append(self._or(name))
        return _all(parts) if parts else (lambda d: True)

    def _or(self, name: str | None) -> Predicate:
        parts = [self._unary(name)]
        while True:
            self._skip()
            if self._keyword() != "or":
                return _any(parts)
            self._take("or")
            parts.append(self._unary(name))

    def _unary(self, name: str | None) -> Predicate:
        self.depth += 1
        try:
            return self._signed(name)
        finally:
            self.depth -= 1

    def _signed(self, name: str | None) -> Predicate:
        if self.depth > MAX_DEPTH:
            raise invalid_query("too deeply nested")
        self._skip()
        if self.at >= len(self.text):
            raise invalid_query("a term is missing")
        if self._keyword() == "not" or self.text[self.at] in "-!":
            if self._keyword() == "not":
                self._take("not")
            else:
                self.at += 1
            inner = self._unary(name)
            return lambda d: not inner(d)
        if self.text[self.at] == "+":
            self.at += 1
            return self._unary(name)
        if self._keyword() is not None:
            raise invalid_query(f"a term is missing before {self.text[self.at :]!r}")
        return self._primary(name)

    def _group(self, name: str | None) -> Predicate:
        self.at += 1  # "("
        inner = self._and(name, closing=True)
        if self.at >= len(self.text) or self.text[self.at] != ")":
            raise invalid_query("a parenthesis is not closed")
        self.at += 1
        return inner

    def _primary(self, name: str | None) -> Predicate:
        if self.text[self.at] == "(":
            return self._group(name)
        if name is None:
            if self.text.startswith("*:*", self.at):
                self.at += 3
                return lambda d: True
            found = _FIELD.match(self.text, self.at)
            if found is None:
                raise invalid_query(f"expected field:value at {self.text[self.at :]!r}")
            name = found.group(1)
            if name not in FQ_FIELDS:
                known = ", ".join(f"{f}:" for f in sorted(FQ_FIELDS))
                raise invalid_query(f"fq supports {known}")
            self.at = found.end()
            if self.at < len(self.text) and self.text[self.at] == "(":
                return self._group(name)
        return self._value(name)

    def _value(self, name: str) -> Predicate:
        text = self.text
        if self.at >= len(text) or text[self.at].isspace():
            raise invalid_query(f"{name}: has no value")
        if text[self.at] in "[{":
            return self._range(name)
        if text[self.at] == '"':
            end = self.at + 1
            out = []
            while end < len(text) and text[end] != '"':
                if text[end] == "\\" and end + 1 < len(text):
                    end += 1
                out.append(text[end])
                end += 1
            if end >= len(text):
                raise invalid_query("a quotation mark is not closed")
            self.at = end + 1
            return self._equals(name, "".join(out), pattern=False)
        out, wild = [], False
        while self.at < len(text) and not text[self.at].isspace() and text[self.at] not in "()":
            char = text[self.at]
            if char == "\\" and self.at + 1 < len(text):
                self.at += 1
                out.append(text[self.at])
            else:
                wild |= char in "*?"
                out.append(char)
            self.at += 1
        return self._equals(name, "".join(out), pattern=wild)

    def _equals(self, name: str, value: str, pattern: bool) -> Predicate:
        if name in DATE_FIELDS:
            if pattern and value == "*":
                return lambda d: d.moment(name) is not None
            moment = solr_moment(value, self.now)
            return lambda d: d.moment(name) == moment
        if pattern:
            return lambda d: any(fnmatchcase(v, value) for v in d.values(name))
        return lambda d: value in d.values(name)

    def _range(self, name: str) -> Predicate:
        text = self.text
        close = min(
            (i for i in (text.find("]", self.at), text.find("}", self.at)) if i != -1), default=-1
        )
        if close == -1:
            raise invalid_query("a range is not closed")
        low_incl, high_incl = text[self.at] == "[", text[close] == "]"
        bounds = re.fullmatch(r"\s*(\S+)\s+TO\s+(\S+)\s*", text[self.at + 1 : close])
        self.at = close + 1
        if bounds is None:
            raise invalid_query(f"{name}: a range is [from TO to]")
        if name not in DATE_FIELDS:
            raise invalid_query(f"{name}: ranges only on {', '.join(sorted(DATE_FIELDS))}")
        low, high = (None if b == "*" else solr_moment(b, self.now) for b in bounds.groups())

        def inside(d: Doc) -> bool:
            moment = d.moment(name)
            if moment is None:
                return False
            if low is not None and (moment < low or (moment == low and not low_incl)):
                return False
            return high is None or moment < high or (moment == high and high_incl)

        return inside


def parse_fq(fq: str, now: datetime) -> Predicate:
    """CKAN's filter query as a predicate on the caller's datasets (Search Query Error if it
    cannot be read)."""
    return _Query(fq, now).parse()


SORT_FIELDS = frozenset(
    {"id", "name", "title", "title_string", "metadata_modified", "metadata_created", "score"}
)


def parse_sort(text: str) -> list[tuple[str, bool]]:
    """`field asc|desc, …` as (field, descending) pairs; CKAN's error for anything else."""
    found = []
    for part in text.split(","):
        words = part.split()
        if not words:
            continue
        if (
            len(words) > 2
            or words[0] not in SORT_FIELDS
            or (len(words) == 2 and words[1].lower() not in ("asc", "desc"))
        ):
            raise invalid_query('Invalid "sort" parameter')
        found.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
    return found


def _sort_value(doc: Doc, name: str) -> Any:
    if name == "score":
        # Equal scores of a words query keep the index's order, which puts a joint product
        # after the datasets it reads (it is scored no higher than they are).
        return (doc.score, -doc.rank) if doc.ranked else doc.score
    if name in DATE_FIELDS:
        return doc.moment(name)
    return doc.values(name)[0]


def sort_docs(docs: list[Doc], keys: list[tuple[str, bool]]) -> list[Doc]:
    """Stable multi-key sort; a missing date sorts last either way (as CKAN's Solr schema)."""
    ordered = sorted(docs, key=lambda d: (d.rank, d.contract.id))
    for name, descending in reversed(keys):
        present = [d for d in ordered if _sort_value(d, name) is not None]
        absent = [d for d in ordered if _sort_value(d, name) is None]
        present.sort(key=lambda d, n=name: _sort_value(d, n), reverse=descending)
        ordered = present + absent
    return ordered


# The actions.


def _facets(docs: list[Doc], names: list[str], limit: int, mincount: int) -> dict[str, Any]:
    """Counts per value of each facet field over `docs`, most first, then by value."""
    out: dict[str, list[tuple[str, int]]] = {}
    for name in names:
        counts: dict[str, int] = {}
        if name in FACET_FIELDS:
            for doc in docs:
                for value in set(doc.values(name)):
                    counts[value] = counts.get(value, 0) + 1
        ranked = sorted(((v, n) for v, n in counts.items() if n >= mincount), key=_by_count)
        out[name] = ranked if limit < 0 else ranked[:limit]
    return out


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


@dataclass
class Stamps:
    """When each dataset's package was created (first publication) and last modified (its last
    publication or its contract's last change), read once per request."""

    catalog: CatalogService
    first: dict[str, datetime] = field(default_factory=dict)
    last: dict[str, datetime] = field(default_factory=dict)
    known: dict[str, tuple[datetime | None, datetime | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        engine = self.catalog.platform.deliveries.engine
        self.first, self.last = first_published(engine), last_published(engine)

    def contract_changed(self, contract: Contract) -> datetime | None:
        """When the contract in force was approved (a catalog version) or its file written."""
        if from_catalog(contract):
            try:
                found = self.catalog.platform.contract_reviews.get(contract.id, contract.version)
            except UnknownSubmission:
                return None
            moment = found.decided_at or found.updated_at
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        try:
            return datetime.fromtimestamp(os.stat(contract.path).st_mtime, UTC)
        except OSError:
            return None

    def of(self, contract: Contract) -> tuple[datetime | None, datetime | None]:
        """(created, modified): created is fixed at the first publication (the contract's time
        until then); modified is the later of the last publication and the contract's change."""
        if contract.id in self.known:
            return self.known[contract.id]
        changed = self.contract_changed(contract)
        known = [t for t in (self.last.get(contract.id), changed) if t is not None]
        modified = max(known) if known else None
        created = self.first.get(contract.id) or changed
        if created is not None and modified is not None:
            created = min(created, modified)
        self.known[contract.id] = (created, modified)
        return created, modified


class Actions:
    """The supported actions for one caller."""

    def __init__(self, catalog: CatalogService, viewer: Principal, base: str) -> None:
        self.catalog = catalog
        self.viewer = viewer
        self.base = base
        self.registry = catalog.platform.registry
        self.touched: list[str] = []
        self._stamps: Stamps | None = None

    def run(self, action: str, params: dict[str, Any]) -> Any:
        """Run an action by name; CkanError for an unknown one."""
        if action not in ACTIONS:
            raise CkanError(400, "Bad Request", f"Bad request - Action name not known: {action}")
        return getattr(self, action)(params)

    # What the caller sees, as packages.

    @property
    def stamps(self) -> Stamps:
        if self._stamps is None:
            self._stamps = Stamps(self.catalog)
        return self._stamps

    def _visible(self) -> dict[str, Contract]:
        return {c.id: c for c in self.catalog.visible(self.viewer)}

    def _docs(self, contracts: Iterable[Contract]) -> list[Doc]:
        docs = []
        for rank, contract in enumerate(contracts):
            created, modified = self.stamps.of(contract)
            docs.append(Doc(contract, created, modified, rank=rank))
        return docs

    def _summaries(self, contracts: list[Contract]) -> list[DatasetSummary]:
        # One ledger read for the whole page (`CatalogService.summary` reads it per dataset).
        return self.catalog._summaries(self.viewer, contracts)

    def _packages(self, contracts: list[Contract]) -> list[dict[str, Any]]:
        out = []
        # A product names the inputs the caller may show as packages: another agency's private
        # dataset is no package for them (an id they could not resolve).
        hidden = self.catalog.hidden(self.viewer) if any(c.product for c in contracts) else set()
        for contract, summary in zip(contracts, self._summaries(contracts), strict=True):
            created, modified = self.stamps.of(contract)
            inputs = (
                [i for i in contract.product.inputs if i not in hidden] if contract.product else []
            )
            out.append(
                package(contract, summary, self.registry, self.base, created, modified, inputs)
            )
        return out

    def _package(self, dataset_id: Any) -> tuple[Contract, dict[str, Any]]:
        contract = self.catalog.contract(self.viewer, str(dataset_id))
        if contract is None:
            raise not_found()
        return contract, self._packages([contract])[0]

    # Packages.

    def package_list(self, params: dict[str, Any]) -> list[str]:
        """Ids of every dataset the caller sees, sorted; `limit` and `offset` page them."""
        ids = sorted(self._visible())
        offset = _number(params, "offset", 0)
        limit = _number(params, "limit", len(ids))
        return ids[offset : offset + limit]

    def package_show(self, params: dict[str, Any]) -> dict[str, Any]:
        """One dataset as a package (`id` is its name, which is also its id)."""
        dataset_id = params.get("id") or params.get("name_or_id")
        if not dataset_id:
            raise missing("name_or_id")
        contract, found = self._package(dataset_id)
        self.touched.append(contract.id)
        return found

    def package_search(self, params: dict[str, Any]) -> dict[str, Any]:
        """Datasets matching `q` and `fq`, ordered by `sort`, a page of `rows` from `start`,
        with `facet.field` counts over every match."""
        now = datetime.now(UTC)
        q = str(params.get("q") or "").strip()
        keep = parse_fq(str(params.get("fq") or ""), now)
        sort_text = str(params.get("sort") or "score desc, metadata_modified desc")
        keys = parse_sort(sort_text)
        rows = _number(params, "rows", 10, MAX_ROWS)
        start = _number(params, "start", 0)
        visible = self._visible()
        words, fielded = q, None
        if q in ("", "*:*", "*"):
            words = ""
        elif re.search(r"(^|[\s(])[+\-!]?[A-Za-z_][\w.]*:", q):
            words, fielded = "", parse_fq(q, now)  # a Solr query rather than words
        matches = [m for m in self.catalog.index().search(words) if m.dataset_id in visible]
        docs = []
        for rank, m in enumerate(matches):
            created, modified = self.stamps.of(visible[m.dataset_id])
            doc = Doc(visible[m.dataset_id], created, modified, m.score, rank, bool(words))
            if keep(doc) and (fielded is None or fielded(doc)):
                docs.append(doc)
        ordered = sort_docs(docs, keys)
        page = [d.contract for d in ordered[start : start + rows]]
        facet_names = _names(params, "facet.field") or []
        try:
            limit = int(params.get("facet.limit", FACET_LIMIT))
        except (TypeError, ValueError):
            raise CkanError(
                409, "Validation Error", **{"facet.limit": ["Invalid integer"]}
            ) from None
        mincount = _number(params, "facet.mincount", 1)
        counted = _facets(docs, facet_names, limit, mincount)
        return {
            "count": len(docs),
            "sort": sort_text,
            "facets": {name: dict(items) for name, items in counted.items()},
            "search_facets": {
                name: {
                    "title": name,
                    "items": [
                        {"name": v, "display_name": self._display(name, v), "count": n}
                        for v, n in items
                    ],
                }
                for name, items in counted.items()
            },
            "results": self._packages(page),
        }

    def _display(self, facet: str, value: str) -> str:
        if facet == "organization" and (agency := self.registry.agency(value)):
            return agency.name
        if facet == "groups" and (sector := self.registry.sector(value)):
            return sector.name
        if facet == "license_id" and value in set(Licence):
            return str(licence_entry(Licence(value))["title"])
        return value

    def current_package_list_with_resources(self, params: dict[str, Any]) -> list[Any]:
        """Every dataset the caller sees with its resources, most recently modified first;
        `limit` with `offset` or `page` (from 1) pages them."""
        docs = sort_docs(self._docs(self._visible().values()), [("metadata_modified", True)])
        limit = _number(params, "limit", len(docs))
        offset = _number(params, "offset", 0)
        if "page" in params:
            number = _number(params, "page", 1)
            if number < 1:
                raise CkanError(409, "Validation Error", page=["Must be larger than 0"])
            offset = (number - 1) * limit
        return self._packages([d.contract for d in docs[offset : offset + limit]])

    def package_autocomplete(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Datasets whose name or title contains `q` (case-insensitive), name matches first."""
        q = str(params.get("q") or "").strip().lower()
        limit = _number(params, "limit", AUTOCOMPLETE_LIMIT, MAX_ROWS)
        if not q:
            return []
        found = []
        for contract in sorted(self._visible().values(), key=lambda c: c.id):
            by_name = q in contract.id.lower()
            if not by_name and q not in contract.title.lower():
                continue
            shown = contract.id if by_name else f"{contract.title} ({contract.id})"
            found.append(
                {
                    "id": contract.id,
                    "name": contract.id,
                    "title": contract.title,
                    "owner_org": contract.agency,
                    "match_field": "name" if by_name else "title",
                    "match_displayed": shown,
                }
            )
        found.sort(key=lambda f: f["match_field"] != "name")
        return found[:limit]

    def resource_show(self, params: dict[str, Any]) -> dict[str, Any]:
        """One resource (a format of a dataset the caller sees) by its id."""
        wanted = params.get("id")
        if not wanted:
            raise missing("id")
        for contract in self._visible().values():
            for key, _, _ in RESOURCES:
                if resource_id(contract.id, key) == str(wanted):
                    _, found = self._package(contract.id)
                    self.touched.append(contract.id)
                    return next(r for r in found["resources"] if r["id"] == str(wanted))
        raise not_found()

    # Tags and licences.

    def _tags(self) -> dict[str, list[Contract]]:
        tagged: dict[str, list[Contract]] = {}
        for contract in self._visible().values():
            for name in dict.fromkeys(contract.odcs.tags or []):
                tagged.setdefault(name, []).append(contract)
        return tagged

    def tag_list(self, params: dict[str, Any]) -> list[Any]:
        """The free tags of the datasets the caller sees (`query`: containing it); names, or
        whole tags with `all_fields`. There are no vocabularies."""
        if params.get("vocabulary_id"):
            return []
        query = str(params.get("query") or params.get("q") or "").strip().lower()
        names = sorted(n for n in self._tags() if query in n.lower())
        return [tag(n) for n in names] if _flag(params, "all_fields") else names

    def tag_show(self, params: dict[str, Any]) -> dict[str, Any]:
        """One tag by name or id, with the caller's datasets carrying it when
        `include_datasets`."""
        wanted = params.get("id")
        if not wanted:
            raise missing("id")
        for name, contracts in self._tags().items():
            found = tag(name)
            if str(wanted) in (name, found["id"]):
                if _flag(params, "include_datasets"):
                    ordered = sorted(contracts, key=lambda c: c.id)
                    found["packages"] = self._packages(ordered)
                return found
        raise not_found()

    def license_list(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every licence a contract may state, and CKAN's `notspecified`."""
        return [licence_entry(licence) for licence in Licence] + [licence_entry(None)]

    # Organizations (agencies) and groups (sectors).

    def _listed(
        self,
        params: dict[str, Any],
        kind: str,
        items: list[tuple[str, str, int]],
    ) -> list[tuple[str, str, int]]:
        """(name, title, count) after `<kind>` (names), `sort`, `offset` and `limit`."""
        wanted = _names(params, kind)
        if wanted is not None:
            items = [i for i in items if i[0] in wanted]
        sort = str(params.get("sort") or "").split() or ["name", "asc"]
        column = {"name": 0, "title": 1, "title_string": 1, "package_count": 2}.get(sort[0])
        if column is None or len(sort) > 2 or (len(sort) == 2 and sort[1] not in ("asc", "desc")):
            raise CkanError(409, "Validation Error", sort=["Invalid sort"])
        items = sorted(items, key=lambda i: (i[column], i[0]), reverse=sort[-1] == "desc")
        offset = _number(params, "offset", 0)
        limit = _number(params, "limit", MAX_GROUPS, MAX_GROUPS)
        return items[offset : offset + limit]

    def organization_list(self, params: dict[str, Any]) -> list[Any]:
        """Every agency: names, or whole organizations with `all_fields`; `organizations`
        (names), `sort` (name, title, package_count), `limit` and `offset`."""
        cards = {c.id: c.datasets for c in self.catalog.agencies(self.viewer)}
        agencies: dict[str, Agency] = {a.id: a for a in self.registry.agencies}
        items = [(a.id, a.name, cards.get(a.id, 0)) for a in agencies.values()]
        listed = self._listed(params, "organizations", items)
        if not _flag(params, "all_fields"):
            return [name for name, _, _ in listed]
        counted = _flag(params, "include_dataset_count", True)
        return [
            organization(agencies[name], self.base, count if counted else None)
            for name, _, count in listed
        ]

    def organization_show(self, params: dict[str, Any]) -> dict[str, Any]:
        """One agency, with its datasets when `include_datasets`."""
        agency_id = params.get("id")
        if not agency_id:
            raise missing("id")
        page = self.catalog.agency(self.viewer, str(agency_id))
        agency = self.registry.agency(str(agency_id))
        if page is None or agency is None:
            raise not_found()
        found = organization(agency, self.base, page.agency.datasets)
        packages = self._shown(page.datasets) if _flag(params, "include_datasets") else []
        return {**found, "packages": packages, "users": [], "groups": [], "tags": []}

    def _shown(self, summaries: list[DatasetSummary]) -> list[dict[str, Any]]:
        contracts = [c for s in summaries if (c := self.catalog.contract(self.viewer, s.id))]
        return self._packages(contracts)

    def group_list(self, params: dict[str, Any]) -> list[Any]:
        """Every sector: names, or whole groups with `all_fields`; `groups` (names), `sort`,
        `limit` and `offset`."""
        cards = {c.id: c.datasets for c in self.catalog.sectors(self.viewer)}
        sectors: dict[str, Sector] = {s.id: s for s in self.registry.sectors if s.id in cards}
        items = [(s.id, s.name, cards[s.id]) for s in sectors.values()]
        listed = self._listed(params, "groups", items)
        if not _flag(params, "all_fields"):
            return [name for name, _, _ in listed]
        counted = _flag(params, "include_dataset_count", True)
        return [
            group(sectors[name], self.base, count if counted else None) for name, _, count in listed
        ]

    def group_show(self, params: dict[str, Any]) -> dict[str, Any]:
        """One sector, with its datasets when `include_datasets`."""
        sector_id = params.get("id")
        if not sector_id:
            raise missing("id")
        page = self.catalog.sector(self.viewer, str(sector_id))
        sector = self.registry.sector(str(sector_id))
        if page is None or sector is None:
            raise not_found()
        found = group(sector, self.base, page.sector.datasets)
        packages = self._shown(page.datasets) if _flag(params, "include_datasets") else []
        return {**found, "packages": packages, "users": [], "groups": [], "tags": []}

    # The site.

    def status_show(self, params: dict[str, Any]) -> dict[str, Any]:
        """The site: title, address, default language and the CKAN version its answers follow."""
        return {
            "site_title": "Gongyu (공유)",
            "site_description": "공공기관 데이터 공유 카탈로그. The data commons of Korea's "
            "public institutions.",
            "site_url": self.base,
            "ckan_version": CKAN_VERSION,
            "error_emails_to": None,
            "locale_default": "ko",
            "extensions": [],
        }

    def site_read(self, params: dict[str, Any]) -> bool:
        """Whether the caller may read the site: true for every valid key."""
        return True

    def help_show(self, params: dict[str, Any]) -> str:
        """The documentation of the action named `name`."""
        name = params.get("name")
        if not name:
            raise missing("name")
        if str(name) not in ACTIONS:
            raise not_found()
        return inspect.getdoc(getattr(self, str(name))) or ""


ACTIONS = frozenset(
    {
        "package_list",
        "package_show",
        "package_search",
        "current_package_list_with_resources",
        "package_autocomplete",
        "resource_show",
        "organization_list",
        "organization_show",
        "group_list",
        "group_show",
        "tag_list",
        "tag_show",
        "license_list",
        "status_show",
        "site_read",
        "help_show",
    }
)


def ckan_principal(request: Request) -> Principal:
    """The caller of a CKAN request: one key or token, sent bare or as `Bearer` in
    `Authorization`, or in `X-CKAN-API-Key` or `X-API-Key` (the same one in several is fine).

    CkanError 403 "Access denied" without valid credentials, whatever the reason; 429 (with
    `Retry-After`) for a failure past the limit (`api.ratelimit`)."""
    denied = CkanError(403, "Authorization Error", "Access denied")
    sent = set()
    if header := request.headers.get("Authorization", "").strip():
        scheme, _, rest = header.partition(" ")
        sent.add(rest.strip() if scheme.lower() == "bearer" else header)
    for name in ("X-CKAN-API-Key", "X-API-Key"):
        if value := request.headers.get(name, "").strip():
            sent.add(value)
    if len(sent) != 1:
        raise denied  # none, or different ones: never guess which one was meant
    try:
        found = authenticate_request(request, sent.pop(), None)
    except Refused as refused:
        if refused.retry_after is None:
            raise denied from None
        headers = {"Retry-After": str(refused.retry_after)}
        raise CkanError(429, "Rate Limit Error", "Too many requests", headers=headers) from None
    purpose = declared_purpose(request.headers.get("X-Gongyu-Purpose"))
    return found.principal.model_copy(update={"purpose": purpose})


def _answer(
    help_url: str, status: int, payload: dict[str, Any], tasks: BackgroundTasks | None = None
) -> Response:
    body = json.dumps({"help": help_url, **payload}, ensure_ascii=False)
    return Response(body, status_code=status, media_type="application/json", background=tasks)


def _failure(help_url: str, exc: CkanError, tasks: BackgroundTasks | None = None) -> Response:
    """An error in CKAN's envelope, with the error's headers."""
    answer = _answer(help_url, exc.status, {"success": False, "error": exc.body()}, tasks)
    answer.headers.update(exc.headers or {})
    return answer


async def _params(request: Request) -> dict[str, Any]:
    """Query parameters, and for POST the JSON body's fields on top."""
    params: dict[str, Any] = dict(request.query_params)
    if request.method == "POST" and (raw := await request.body()):
        try:
            body = json.loads(raw)
        except ValueError:
            raise CkanError(
                400, "Bad Request", "Bad request - JSON Error: could not parse"
            ) from None
        if not isinstance(body, dict):
            raise CkanError(400, "Bad Request", "Bad request - JSON Error: not an object")
        params.update(body)
    return params


# Declared as the other operations' are: keys or tokens, and CKAN's own failure statuses.
ACTION_DOC: dict[str, Any] = {
    "responses": {
        400: {"description": "Bad request: a body that is not a JSON object (CKAN envelope)."},
        403: {"description": "Authorization Error: a credential CKAN's way refused."},
        404: {
            "description": "Not found: an unknown action, or a dataset, organisation, tag "
            "or resource the caller may not see (CKAN envelope)."
        },
        409: {"description": "Validation Error: a parameter CKAN would refuse (CKAN envelope)."},
    },
    "openapi_extra": {"security": [{"bearer": []}, {"apiKey": []}]},
}


@router.get(
    "/api/3/action/{action}",
    summary="CKAN action (query parameters)",
    operation_id="ckan_action_get",
    **ACTION_DOC,
)
@router.post(
    "/api/3/action/{action}",
    summary="CKAN action (JSON body)",
    operation_id="ckan_action_post",
    **ACTION_DOC,
)
@router.api_route("/api/action/{action}", methods=["GET", "POST"], include_in_schema=False)
async def ckan_action(action: str, request: Request) -> Response:
    """A CKAN action in CKAN's envelope: `package_list`, `package_show`, `package_search`,
    `current_package_list_with_resources`, `package_autocomplete`, `resource_show`,
    `organization_list`, `organization_show`, `group_list`, `group_show`, `tag_list`,
    `tag_show`, `license_list`, `status_show`, `site_read`, `help_show`."""
    started = time.perf_counter()
    help_url = f"{str(request.base_url).rstrip('/')}/api/3/action/help_show?name={action}"
    try:
        principal = ckan_principal(request)
    except CkanError as exc:
        return _failure(help_url, exc)
    actions = Actions(catalog_of(request), principal, str(request.base_url).rstrip("/"))
    tasks = BackgroundTasks()
    asked = None  # a POST's parameters, for the audit record (a GET's are in its URL)
    try:
        params = await _params(request)
        if request.method == "POST":
            asked = json.dumps(params, ensure_ascii=False, sort_keys=True, default=str)
        result = await run_in_threadpool(actions.run, action, params)
    except CkanError as exc:
        error = exc.message or exc.kind
        audit_later(
            tasks, request, principal, started, outcome=Outcome.error, error=error, body=asked
        )
        return _failure(help_url, exc, tasks)
    audit_later(tasks, request, principal, started, datasets=actions.touched, body=asked)
    return _answer(help_url, 200, {"success": True, "result": result}, tasks)
