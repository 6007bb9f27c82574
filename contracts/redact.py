"""A contract as shown outside its agency: the raw `examples` of its personal columns removed.

A steward's examples are values of the raw delivery (an exact time, a police station); the
published table holds them generalised, pseudonymised or not at all, so another agency must not
read them in the contract either. Everything else of the document is kept as written.
"""

from __future__ import annotations

from typing import Any

import yaml

from contracts.model import Classification, Contract


def without_raw_examples(contract: Contract, text: str) -> str:
    """The contract's YAML text with `examples` removed from every property not classified
    `none` (identifiers, quasi-identifiers, sensitive values)."""
    doc: Any = yaml.safe_load(text)
    personal = {c.name for c in contract.columns if c.classification != Classification.none}
    changed = False
    for obj in doc.get("schema") or []:
        for prop in obj.get("properties") or []:
            if prop.get("name") in personal and "examples" in prop:
                del prop["examples"]
                changed = True
    if not changed:
        return text
    note = (
        "# 원자료 예시는 제공 기관 밖에 보이지 않습니다 (raw examples of personal columns are "
        "shown only to the providing agency).\n"
    )
    return note + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=100)
