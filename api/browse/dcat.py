"""`GET /catalog.jsonld`: the public catalog as DCAT-AP 3 JSON-LD, for national portals to harvest.

Only `public` datasets are listed. The `@context` is inline (air-gapped harvesters cannot fetch
a remote one); controlled values use the EU vocabularies DCAT-AP names (frequency, access right,
file type, language, data theme). Authenticated like every route: a harvester gets a key.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import Response

from api.auth import AUTH_FAILURES, CurrentPrincipal
from api.browse.audit import audit_later
from api.deps import Catalog
from api.sql.answers import EXTENSIONS, Format, download_url
from catalog.freshness import last_published
from contracts.model import AccessLevel, Contract
from sectors.registry import Registry

router = APIRouter(tags=["catalog"], responses=AUTH_FAILURES)
MEDIA_TYPE = "application/ld+json"

CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
EU = "http://publications.europa.eu/resource/authority"
IANA = "https://www.iana.org/assignments/media-types"
# An SLA frequency (as the contract loader reads units: a month is 31 days, a year 366) →
# the EU frequency vocabulary; other periods get no dct:accrualPeriodicity.
FREQUENCIES = {
    timedelta(hours=1): "HOURLY",
    timedelta(days=1): "DAILY",
    timedelta(weeks=1): "WEEKLY",
    timedelta(weeks=2): "BIWEEKLY",
    timedelta(days=31): "MONTHLY",
    timedelta(days=62): "BIMONTHLY",
    timedelta(days=93): "QUARTERLY",
    timedelta(days=186): "ANNUAL_2",
    timedelta(days=366): "ANNUAL",
    timedelta(days=732): "BIENNIAL",
    timedelta(days=1098): "TRIENNIAL",
}
# Sectors → EU data themes (DCAT-AP's mandatory theme vocabulary), beside the sector itself.
THEMES = {
    "environment_energy": ("ENVI", "ENER"),
    "transport_logistics": ("TRAN",),
    "finance_insurance": ("ECON",),
    "welfare_safety": ("HEAL", "SOCI", "JUST"),
    "industry_sme": ("ECON",),
}
# The SQL API's answer formats: (key, title, EU file type or None, IANA media type); all but
# JSON are also a download of the whole table (`dcat:downloadURL`).
FORMATS = (
    ("json", "JSON", "JSON", "application/json"),
    ("csv", "CSV", "CSV", "text/csv"),
    ("parquet", "Parquet", "PARQUET", "application/vnd.apache.parquet"),
    ("arrow", "Arrow IPC stream", None, "application/vnd.apache.arrow.stream"),
)


def _text(value: str, language: str = "ko") -> dict[str, str]:
    return {"@value": value, "@language": language}


def _language(word: str) -> str:
    """`ko` for text with Hangul, else `en` (tags mix both)."""
    return "ko" if any("\uac00" <= ch <= "\ud7a3" for ch in word) else "en"


def _ref(uri: str) -> dict[str, str]:
    return {"@id": uri}


def _distributions(base: str, uri: str, contract: Contract) -> list[dict[str, Any]]:
    sql = f"SELECT * FROM {contract.table}"
    out = []
    for key, title, eu_type, media in FORMATS:
        dist: dict[str, Any] = {
            "@id": f"{uri}#{key}",
            "@type": "dcat:Distribution",
            "dct:title": _text(f"SQL API ({title})", "en"),
            "dct:description": _text(
                f'POST {base}/api/v1/sql {{"sql": "{sql}", "format": "{key}"}}', "en"
            ),
            "dcat:accessURL": _ref(f"{base}/api/v1/sql"),
            "dcat:accessService": _ref(f"{base}/api/v1/sql"),
            "dcat:mediaType": _ref(f"{IANA}/{media}"),
        }
        if key in EXTENSIONS:
            dist["dcat:downloadURL"] = _ref(download_url(base, contract.id, Format(key)))
        if eu_type:
            dist["dct:format"] = _ref(f"{EU}/file-type/{eu_type}")
        out.append(dist)
    return out


def dataset(
    base: str, contract: Contract, registry: Registry, modified: datetime | None
) -> dict[str, Any]:
    """One contract as a dcat:Dataset."""
    uri = f"{base}/api/v1/catalog/datasets/{contract.id}"
    agency = registry.agency(contract.agency)
    sector = registry.sector(contract.sector)
    described = contract.odcs.description
    tags = list(contract.odcs.tags or [])
    node: dict[str, Any] = {
        "@id": uri,
        "@type": "dcat:Dataset",
        "dct:identifier": contract.id,
        "dct:title": _text(contract.title),
        "dct:publisher": {
            "@id": f"{base}/api/v1/catalog/agencies/{contract.agency}",
            "@type": ["foaf:Agent", "foaf:Organization"],
            "foaf:name": [_text(agency.name), _text(agency.name_en, "en")] if agency else [],
        },
        "dcat:contactPoint": {
            "@type": "vcard:Organization",
            "vcard:fn": agency.name if agency else contract.agency,
            "vcard:hasEmail": _ref(
                f"mailto:{contract.steward or (agency.contact if agency else '')}"
            ),
        },
        "dcat:theme": [_ref(f"{base}/api/v1/catalog/sectors/{contract.sector}")]
        + [_ref(f"{EU}/data-theme/{t}") for t in THEMES.get(contract.sector, ())],
        "dcat:keyword": [_text(t, _language(t)) for t in tags]
        + ([_text(sector.name), _text(sector.name_en, "en")] if sector else []),
        "dct:accessRights": _ref(f"{EU}/access-right/PUBLIC"),
        "dct:language": [_ref(f"{EU}/language/KOR"), _ref(f"{EU}/language/ENG")],
        "dct:conformsTo": {
            "@id": f"{uri}/contract",
            "@type": "dct:Standard",
            "dct:title": _text(f"ODCS v3 data contract {contract.id} {contract.version}", "en"),
        },
        "dcat:landingPage": _ref(f"{base}/datasets/{contract.id}"),
        "dcat:distribution": _distributions(base, uri, contract),
    }
    purpose = described.purpose if described else contract.description
    if purpose:
        node["dct:description"] = _text(purpose)
    if modified:
        node["dct:modified"] = {"@value": modified.isoformat(), "@type": "xsd:dateTime"}
    frequency = contract.sla.frequency
    if frequency in FREQUENCIES:
        node["dct:accrualPeriodicity"] = _ref(f"{EU}/frequency/{FREQUENCIES[frequency]}")
    return node


def catalog_document(
    base: str, contracts: list[Contract], registry: Registry, published: dict[str, datetime]
) -> dict[str, Any]:
    """The dcat:Catalog of the public datasets among `contracts`, with the SQL API as its
    dcat:DataService and the sectors as a skos:ConceptScheme of themes."""
    public = [c for c in contracts if c.access == AccessLevel.public]
    catalog = {
        "@id": f"{base}/catalog.jsonld",
        "@type": "dcat:Catalog",
        "dct:title": [
            _text("공유 — 공공기관 데이터 공유 카탈로그"),
            _text("Gongyu data commons", "en"),
        ],
        "dct:description": [
            _text("공공기관 5개 분과의 공개 데이터셋 (데이터 계약, 품질·개인정보 검사 통과)."),
            _text(
                "Public datasets of Korea's public institutions in five sectors, published "
                "under data contracts through quality and privacy checks.",
                "en",
            ),
        ],
        "dct:publisher": {"@type": "foaf:Agent", "foaf:name": _text("공유 (Gongyu)")},
        "foaf:homepage": _ref(f"{base}/"),
        "dct:language": [_ref(f"{EU}/language/KOR"), _ref(f"{EU}/language/ENG")],
        "dcat:themeTaxonomy": {
            "@id": f"{base}/api/v1/catalog/sectors",
            "@type": "skos:ConceptScheme",
            "dct:title": _text("분과 (sectors)"),
        },
        "dcat:service": {
            "@id": f"{base}/api/v1/sql",
            "@type": "dcat:DataService",
            "dct:title": _text("Gongyu SQL API", "en"),
            "dcat:endpointURL": _ref(f"{base}/api/v1/sql"),
            "dcat:endpointDescription": _ref(f"{base}/openapi.json"),
            "dcat:servesDataset": [_ref(f"{base}/api/v1/catalog/datasets/{c.id}") for c in public],
        },
        "dcat:dataset": [
            dataset(base, c, registry, published.get(c.id))
            for c in sorted(public, key=lambda c: c.id)
        ],
    }
    sectors = [
        {
            "@id": f"{base}/api/v1/catalog/sectors/{s.id}",
            "@type": "skos:Concept",
            "skos:prefLabel": [_text(s.name), _text(s.name_en, "en")],
            "skos:inScheme": _ref(f"{base}/api/v1/catalog/sectors"),
        }
        for s in registry.sectors
    ]
    return {"@context": CONTEXT, "@graph": [catalog, *sectors]}


@router.get(
    "/catalog.jsonld",
    responses={200: {"content": {MEDIA_TYPE: {}}}},
    summary="The public catalog as DCAT-AP 3 JSON-LD",
)
def dcat_catalog(
    request: Request, principal: CurrentPrincipal, catalog: Catalog, background: BackgroundTasks
) -> Response:
    """Every `public` dataset as a dcat:Dataset (titles and descriptions in Korean, publisher,
    contact point, themes, keywords, modified, frequency, SQL API and download distributions),
    for harvesting by data portals."""
    started = time.perf_counter()
    platform = catalog.platform
    base = str(request.base_url).rstrip("/")
    document = catalog_document(
        base,
        catalog.visible(principal),
        platform.registry,
        last_published(platform.deliveries.engine),
    )
    audit_later(background, request, principal, started)
    body = json.dumps(document, ensure_ascii=False)
    return Response(body, media_type=MEDIA_TYPE)
