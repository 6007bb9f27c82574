"""The contract editor's form: a contract's columns as table rows, the edits made in the table
applied to its YAML (PyYAML), and the drafter's `# suggested:` notes kept beside them; and the
form that drafts a joint product from its SQL, read into the drafter's arguments.

The page posts the YAML as shown (editable) and `base`, the YAML the table was drawn from; a
table field is applied only where it differs from `base`, so an edit made in the YAML itself
is kept unless the same field was also changed in the table. Unedited text is returned as it
came, comments and all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from catalog.contract_reviews import LintFailed, ReviewError
from contracts.loader import ContractError, refuse_aliases
from contracts.model import AccessLevel, Aggregate, Classification, LogicalType

TYPES = tuple(t.value for t in LogicalType)
CLASSIFICATIONS = tuple(c.value for c in Classification)
ACCESS_LEVELS = tuple(a.value for a in AccessLevel)
MAX_COLUMNS = 300
# The table's fields per column, and the header's and the buttons' around them.
MAX_FIELDS = 8 * MAX_COLUMNS + 16
NOTE = re.compile(r"#\s*suggested:\s*(.+)$")
PHYSICAL = re.compile(r"^\s*physicalName:\s*['\"]?(.+?)['\"]?\s*(?:#.*)?$")
FLOW_CHARS = 72  # a mapping or list this short (as Python writes it) is dumped on one line
ACCESS_NOTE = "accessLevel"  # the key of the access level's note among the columns' notes
# The product form's fields (`product_request`), and the longest query it takes.
PRODUCT_FIELDS = ("dataset", "sector", "title", "sql", "access", "count_column", "k")
MAX_SQL_CHARS = 64 * 1024
MAX_PRODUCT_FIELD_CHARS = 300
DEFAULT_K = 5  # the small-cell threshold an aggregate gets when the form leaves k empty
# A column's field in `Column` and its name in the form (`c<i>.<name>`).
ROW_FIELDS = {
    "name": "name",
    "logical_type": "type",
    "classification": "classification",
    "description": "description",
}


@dataclass(frozen=True)
class Header:
    """The contract's fields the editor shows above the table."""

    title: str = ""
    description: str = ""
    access: str = ""


@dataclass(frozen=True)
class Column:
    """One property of the contract's table as the editor's row shows it."""

    physical: str
    name: str = ""
    logical_type: str = ""
    required: bool = False
    classification: str = Classification.none.value
    description: str = ""


@dataclass
class Editor:
    """What the editor page draws: the text, the table drawn from `base`, and the notes."""

    text: str
    base: str
    facts: dict[str, str]
    header: Header
    columns: list[Column]
    notes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    """Why a step on a contract was not taken: its status, the domain's message (English) and,
    for a contract that does not lint, each error; `lead` is the sentence read first."""

    status: int
    detail: str
    errors: tuple[str, ...] = ()

    @property
    def lead(self) -> str:
        """The message key of the page's first sentence about it."""
        return f"contracts.error_{self.status}"

    @classmethod
    def of(cls, exc: ReviewError) -> Problem:
        """The problem a domain error describes."""
        errors = tuple(exc.errors) if isinstance(exc, LintFailed) else ()
        return cls(exc.status, str(exc), errors)


def normalised(text: object) -> str:
    """A posted text with the browser's CRLF line ends made LF."""
    return str(text or "").replace("\r\n", "\n")


def load(text: str) -> dict[str, Any] | None:
    """The YAML as a mapping, or None when it is not one (or uses aliases, which the preview
    reports)."""
    try:
        refuse_aliases(text, Path("contract.yaml"))
        doc = yaml.safe_load(text)
    except (yaml.YAMLError, ContractError):
        return None
    return doc if isinstance(doc, dict) else None


def is_product(text: str) -> bool:
    """Whether the contract text defines a joint product (`customProperties.product`)."""
    doc = load(text)
    return bool(doc and _custom(doc.get("customProperties")).get("product"))


def product_request(fields: Mapping[str, str]) -> dict[str, Any]:
    """The product form's fields as `gongyu.products.draft.draft_product`'s arguments;
    ValueError saying what to fill in."""
    dataset, sql = fields.get("dataset", ""), fields.get("sql", "")
    if not dataset or not sql:
        raise ValueError("give the product's id and its SQL")
    if len(sql) > MAX_SQL_CHARS:
        raise ValueError(f"the SQL is longer than {MAX_SQL_CHARS:,} characters")
    short = {k: fields.get(k, "")[:MAX_PRODUCT_FIELD_CHARS] for k in ("sector", "title")}
    access = fields.get("access", "")
    if access and access not in ACCESS_LEVELS:
        raise ValueError(f"access level {access!r} is not one of {', '.join(ACCESS_LEVELS)}")
    aggregate = None
    if column := fields.get("count_column", ""):
        k = fields.get("k", "") or str(DEFAULT_K)
        if not k.isdigit() or not 2 <= int(k) <= 1000:
            raise ValueError(f"k must be a whole number from 2 to 1000, not {k!r}")
        aggregate = Aggregate(countColumn=column[:MAX_PRODUCT_FIELD_CHARS], k=int(k))
    return {
        "dataset": dataset[:MAX_PRODUCT_FIELD_CHARS],
        "sql": sql,
        "sector": short["sector"] or None,
        "title": short["title"] or None,
        "access": AccessLevel(access) if access else None,
        "aggregate": aggregate,
    }


def _custom(entries: object) -> dict[str, Any]:
    if not isinstance(entries, list):
        return {}
    return {e.get("property"): e.get("value") for e in entries if isinstance(e, dict)}


def _set_custom(holder: dict[str, Any], name: str, value: Any) -> None:
    entries = holder.setdefault("customProperties", [])
    for entry in entries:
        if isinstance(entry, dict) and entry.get("property") == name:
            entry["value"] = value
            return
    entries.append({"property": name, "value": value})


def properties(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The first schema object's properties (the only table a Gongyu contract has)."""
    schema = doc.get("schema")
    if not isinstance(schema, list) or not schema or not isinstance(schema[0], dict):
        return []
    props = schema[0].get("properties")
    return [p for p in props if isinstance(p, dict)] if isinstance(props, list) else []


def _text(value: object) -> str:
    return "" if value is None else str(value)


def header_of(doc: Mapping[str, Any]) -> Header:
    """Title, description (its purpose) and access level as the contract states them."""
    described = doc.get("description")
    purpose = described.get("purpose") if isinstance(described, dict) else described
    return Header(
        title=_text(doc.get("name")),
        description=_text(purpose),
        access=_text(_custom(doc.get("customProperties")).get("accessLevel")),
    )


def columns_of(doc: Mapping[str, Any]) -> list[Column]:
    """The table's rows, keyed by the source header (`physicalName`, else the name)."""
    return [
        Column(
            physical=_text(p.get("physicalName") or p.get("name")),
            name=_text(p.get("name")),
            logical_type=_text(p.get("logicalType")),
            required=bool(p.get("required")),
            classification=_text(
                _custom(p.get("customProperties")).get("classification")
                or Classification.none.value
            ),
            description=_text(p.get("description")),
        )
        for p in properties(doc)[:MAX_COLUMNS]
    ]


def title_of(text: str) -> str:
    """The contract's title, or '' when the text does not load."""
    doc = load(text)
    return header_of(doc).title if doc else ""


def notes_of(text: str) -> dict[str, str]:
    """The drafter's `# suggested:` note on each column's classification line (by source
    header) and on the access level's line (`ACCESS_NOTE`)."""
    found: dict[str, str] = {}
    physical = None
    for line in text.splitlines():
        if matched := PHYSICAL.match(line):
            physical = matched.group(1)
        note = NOTE.search(line)
        if note is None:
            continue
        if "property: classification" in line and physical:
            found[physical] = note.group(1).strip()
        elif "property: accessLevel" in line:
            found[ACCESS_NOTE] = note.group(1).strip()
    return found


def posted_notes(form: Mapping[str, Any]) -> dict[str, str]:
    """The notes the page carried in hidden fields."""
    found = {}
    for i in range(_count(form)):
        physical, note = form.get(f"c{i}.physical"), form.get(f"c{i}.note")
        if isinstance(physical, str) and isinstance(note, str) and note:
            found[physical] = note
    access = form.get("access_note")
    if isinstance(access, str) and access:
        found[ACCESS_NOTE] = access
    return found


def _count(form: Mapping[str, Any]) -> int:
    raw = form.get("columns")
    return min(int(raw), MAX_COLUMNS) if isinstance(raw, str) and raw.isdigit() else 0


def _posted_columns(form: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Each row's source header and the fields the form holds for it (a checkbox is always
    held: unchecked is not sent)."""
    found = []
    for i in range(_count(form)):
        physical = form.get(f"c{i}.physical")
        if not isinstance(physical, str):
            continue
        values: dict[str, Any] = {"required": form.get(f"c{i}.required") is not None}
        for name, key in ROW_FIELDS.items():
            value = form.get(f"c{i}.{key}")
            if isinstance(value, str):
                values[name] = normalised(value).strip()
        found.append((physical, values))
    return found


def _set_header(doc: dict[str, Any], name: str, value: str) -> None:
    if name == "title":
        doc["name"] = value
    elif name == "description":
        described = doc.get("description")
        if isinstance(described, dict):
            described["purpose"] = value
        else:
            doc["description"] = {"purpose": value}
    else:
        _set_custom(doc, "accessLevel", value)


def _rename(doc: dict[str, Any], old: str, new: str) -> None:
    """Keep the privacy settings naming a renamed column."""
    privacy = _custom(doc.get("customProperties")).get("privacy")
    generalise = privacy.get("generalise") if isinstance(privacy, dict) else None
    if isinstance(generalise, dict) and old in generalise:
        privacy["generalise"] = {new if k == old else k: v for k, v in generalise.items()}


def _set_column(doc: dict[str, Any], prop: dict[str, Any], name: str, value: Any) -> None:
    if name == "name":
        _rename(doc, _text(prop.get("name")), value)
        prop["name"] = value
    elif name == "logical_type":
        prop["logicalType"] = value
    elif name == "required":
        if value:
            prop["required"] = True
        else:
            prop.pop("required", None)
    elif name == "classification":
        _set_custom(prop, "classification", value)
    else:
        prop["description"] = value


class _Dumper(yaml.SafeDumper):
    """Small mappings and lists of scalars on one line, as contracts are written by hand."""


def _short(data: Any) -> bool:
    if isinstance(data, dict):
        items: list[Any] = list(data.values())
    elif isinstance(data, list):
        items = data
    else:
        return True
    return all(
        not isinstance(i, (dict, list)) or (isinstance(i, dict) and _short(i)) for i in items
    )


def _flow(data: Any) -> bool:
    return _short(data) and len(repr(data)) <= FLOW_CHARS


_Dumper.add_representer(
    dict, lambda d, data: d.represent_mapping("tag:yaml.org,2002:map", data, _flow(data))
)
_Dumper.add_representer(
    list, lambda d, data: d.represent_sequence("tag:yaml.org,2002:seq", data, _flow(data))
)
# Text of several lines (a product's SQL) as a literal block, readable as written.
_Dumper.add_representer(
    str,
    lambda d, data: d.represent_scalar(
        "tag:yaml.org,2002:str", data, style="|" if "\n" in data else None
    ),
)


def dump(doc: Mapping[str, Any]) -> str:
    """The contract as YAML in its own key order, Korean as written."""
    return yaml.dump(dict(doc), Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)


def apply_edits(text: str, base: str, form: Mapping[str, Any]) -> str:
    """The text with the table's and header's edits (fields that differ from `base`); the text
    unchanged when nothing was edited or either YAML does not load."""
    doc, was = load(text), load(base)
    if doc is None or was is None:
        return text
    edited = False
    before = header_of(was)
    for name in (f.name for f in fields(Header)):
        value = form.get(name)
        if isinstance(value, str) and normalised(value).strip() != getattr(before, name):
            _set_header(doc, name, normalised(value).strip())
            edited = True
    targets = {_text(p.get("physicalName") or p.get("name")): p for p in properties(doc)}
    drawn = {c.physical: c for c in columns_of(was)}
    for physical, values in _posted_columns(form):
        prop, old = targets.get(physical), drawn.get(physical)
        if prop is None or old is None:
            continue
        for name, value in values.items():
            # An empty name, type or class is no edit (the table never offers one).
            if value != getattr(old, name) and (value or name in ("required", "description")):
                _set_column(doc, prop, name, value)
                edited = True
    return dump(doc) if edited else text


def editor(text: str, notes: Mapping[str, str], base: str | None = None) -> Editor:
    """The editor for `text`; when it does not load, its table stays the one drawn from
    `base` (the last text that did)."""
    doc = load(text)
    if doc is None and base is not None and load(base) is not None:
        drawn_from, shown = base, load(base) or {}
    else:
        drawn_from, shown = text, doc or {}
    custom = _custom(shown.get("customProperties"))
    facts = {
        "id": _text(shown.get("id")),
        "version": _text(shown.get("version")),
        "agency": _text(custom.get("agency")),
        "sector": _text(custom.get("sector")),
    }
    return Editor(
        text=text,
        base=drawn_from,
        facts=facts,
        header=header_of(shown),
        columns=columns_of(shown),
        notes={**notes, **notes_of(text)},
    )
