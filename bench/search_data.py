"""The search benchmark's catalogue: N generated contracts drawn from the shipped ones' words.

Each generated dataset takes a topic from a shipped contract's title (agency names removed), a
시·도 and a year; its purpose, usage and limitations are the shipped texts (Korean with English)
of that and two other contracts; its 10–40 columns (names, file headers, descriptions,
examples) and 3–6 tags are drawn from all shipped ones. Sector, agency, access level and SLA are
drawn too. Written as ODCS YAML beside a copy of the shipped contracts (so the demo datasets are
in the catalogue) and cached per N in `bench/.work/search-<N>/`.
"""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from bench import WORK
from contracts.loader import DEFAULT_DIR, load_contracts
from contracts.model import Contract
from sectors.registry import default_registry

DATA_VERSION = 1  # bump when the generator changes: the cache is rebuilt
SEED = 20_250_601
SIDO = (
    "서울", "부산", "대구", "인천", "광주", "대전", "울산", "세종", "경기",
    "강원", "충북", "충남", "전북", "전남", "경북", "경남", "제주",
)  # fmt: skip
ACCESS = (("public", 70), ("sector", 15), ("restricted", 10), ("private", 5))
FREQUENCIES = ((1, "d"), (1, "w"), (1, "month"), (6, "month"), (1, "y"))
_DROP = {"primaryKey", "primaryKeyPosition", "quality", "required", "unique"}


def _topics(contracts: list[Contract]) -> list[str]:
    """Shipped titles without agency names or parentheses: what a dataset is about."""
    names = {a.name for a in default_registry().agencies}
    topics = []
    for c in contracts:
        words = [w for w in re.sub(r"\(.*?\)", "", c.title).split() if w not in names]
        topics.append(" ".join(words))
    return topics


def _columns(contracts: list[Contract]) -> list[dict[str, Any]]:
    """Every shipped column as an ODCS property, keys and classes a generated one may keep."""
    found: dict[str, dict[str, Any]] = {}
    for c in contracts:
        for prop in (c.odcs.schema_ or [])[0].properties or []:
            raw = prop.model_dump(by_alias=True, exclude_none=True)
            for key in _DROP:
                raw.pop(key, None)
            cls = "sensitive" if "sensitive" in str(raw.get("customProperties")) else "none"
            raw["customProperties"] = [{"property": "classification", "value": cls}]
            found.setdefault(raw["name"], raw)
    return list(found.values())


def generated(i: int, rng: random.Random, shipped: list[Contract], vocab: dict) -> dict[str, Any]:
    """The ODCS document of generated dataset `i`."""
    registry = default_registry()
    sector = rng.choice(registry.sectors)
    agency = registry.agency(rng.choice(sector.members))
    assert agency is not None
    k = rng.randrange(len(shipped))
    source, others = shipped[k], rng.sample(shipped, 2)
    region, year = rng.choice(SIDO), rng.randint(2015, 2024)
    title = f"{agency.name} {region} {vocab['topics'][k]} ({year})"
    described = [c.odcs.description for c in (source, *others)]
    access = rng.choices([a for a, _ in ACCESS], [w for _, w in ACCESS])[0]
    value, unit = rng.choice(FREQUENCIES)
    columns = rng.sample(vocab["columns"], rng.randint(10, 40))
    return {
        "apiVersion": "v3.2.0",
        "kind": "DataContract",
        "id": f"gen_{i:05d}",
        "name": title,
        "version": "1.0.0",
        "status": "active",
        "tags": [*rng.sample(vocab["tags"], rng.randint(3, 6)), region],
        "description": {
            "purpose": f"{region} {year}년. {described[0].purpose if described[0] else ''}",
            "usage": described[1].usage if described[1] else None,
            "limitations": described[2].limitations if described[2] else None,
        },
        "team": {
            "name": agency.name,
            "members": [{"username": agency.contact, "role": "data steward"}],
        },
        "slaProperties": [{"property": "frequency", "value": value, "unit": unit}],
        "customProperties": [
            {"property": "sector", "value": sector.id},
            {"property": "agency", "value": agency.id},
            {"property": "accessLevel", "value": access},
        ],
        "schema": [{"name": f"gen_{i:05d}", "physicalType": "file", "properties": columns}],
    }


def catalogue(n: int) -> Path:
    """The contracts folder of an n-dataset catalogue plus the shipped ones (built once)."""
    root = WORK / f"search-{n}"
    contracts = root / "contracts"
    stamp = root / f".version-{DATA_VERSION}"
    if stamp.exists():
        return contracts
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(DEFAULT_DIR, contracts, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    shipped = load_contracts()
    vocab = {
        "topics": _topics(shipped),
        "columns": _columns(shipped),
        "tags": sorted({t for c in shipped for t in c.odcs.tags or []}),
    }
    rng = random.Random(SEED)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    for i in range(n):
        doc = generated(i, rng, shipped, vocab)
        sector = doc["customProperties"][0]["value"]
        agency = doc["customProperties"][1]["value"]
        path = contracts / sector / agency / f"{doc['id']}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            yaml.dump(doc, Dumper=dumper, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
    stamp.touch()
    return contracts
