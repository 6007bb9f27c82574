"""`GET /catalog.jsonld`: the public catalog as DCAT-AP 3 JSON-LD, for national portals to harvest.

Only `public` datasets are listed. The `@context` is inline (air-gapped harvesters cannot fetch
a remote one). The document passes the official DCAT-AP 3.0.0 SHACL shapes, class ranges and
controlled vocabularies included (tests/api/browse/shapes/): a shape checks only what the
document says, so every value it uses is typed there (`dct:MediaType`, `foaf:Document`,
`dct:LicenseDocument`…) and every EU vocabulary term (frequency, access right, file type,
language, data theme) is stated with its `skos:inScheme`, once, beside the catalogue.

A joint product is a dcat:Dataset like the others, derived from its inputs: `dct:source` (DCAT-AP's
"a related Dataset from which the described Dataset is derived") and `prov:wasDerivedFrom` name
the inputs listed in the same document, and a `dct:provenance` statement says who built it from
how many datasets of which agencies.

Authenticated like every route (a harvester gets a key), unless `GONGYU_DCAT_ANONYMOUS` lets a
request that presents no credential at all read it: the same document, which holds only public
metadata. A credential that is presented is checked as everywhere (a wrong one is 401).
"""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request
from fastapi.responses import Response
from sqlalchemy import Engine, func, select

from api.auth import AUTH_FAILURES, SESSION_COOKIE, ApiKey, Bearer, Purpose, current_principal
from api.browse.audit import audit_later
from api.deps import Catalog, platform_of
from api.sql.answers import EXTENSIONS, Format, download_url
from catalog.access.principal import Principal, anonymous
from catalog.db import deliveries
from catalog.deliveries import DeliveryState
from catalog.history import utc
from contracts.licences import LICENCES, Licence
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
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "prov": "http://www.w3.org/ns/prov#",
}
EU = "http://publications.europa.eu/resource/authority"
IANA = "https://www.iana.org/assignments/media-types"

# An SLA frequency (as the contract loader reads units: a month is 31 days, a year 366) →
# the EU frequency vocabulary; any other period is OTHER, no frequency none.
FREQUENCIES = {
    timedelta(hours=1): "HOURLY",
    timedelta(hours=2): "BIHOURLY",
    timedelta(hours=3): "TRIHOURLY",
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
    timedelta(days=1464): "QUADRENNIAL",
    timedelta(days=1830): "QUINQUENNIAL",
    timedelta(days=3660): "DECENNIAL",
}
# A contract's access level → the EU access-right vocabulary (only PUBLIC is ever listed).
ACCESS_RIGHTS = {
    AccessLevel.public: "PUBLIC",
    AccessLevel.sector: "RESTRICTED",
    AccessLevel.restricted: "RESTRICTED",
    AccessLevel.private: "NON_PUBLIC",
}
# Sectors → EU data themes (DCAT-AP's theme vocabulary), beside the sector itself.
THEMES = {
    "environment_energy": ("ENVI", "ENER"),
    "transport_logistics": ("TRAN",),
    "finance_insurance": ("ECON",),
    "welfare_safety": ("HEAL", "SOCI", "JUST"),
    "industry_sme": ("ECON",),
}
# The English labels of the EU vocabulary terms used here (skos:prefLabel, which the shapes
# require of a skos:Concept; the vocabularies have no Korean labels).
LABELS = {
    "language/KOR": "Korean",
    "language/ENG": "English",
    "access-right/PUBLIC": "public",
    "access-right/RESTRICTED": "restricted",
    "access-right/NON_PUBLIC": "non-public",
    "file-type/JSON": "JSON",
    "file-type/CSV": "CSV",
    "file-type/PARQUET": "Parquet",
    "data-theme/ENVI": "Environment",
    "data-theme/ENER": "Energy",
    "data-theme/TRAN": "Transport",
    "data-theme/ECON": "Economy and finance",
    "data-theme/HEAL": "Health",
    "data-theme/SOCI": "Population and society",
    "data-theme/JUST": "Justice, legal system and public safety",
    # The frequencies' labels are their codes in lower case, but twice a year's.
    **{f"frequency/{code}": code.lower() for code in (*FREQUENCIES.values(), "OTHER")},
    "frequency/ANNUAL_2": "semiannual",
}
# The DCAT-AP class of each EU vocabulary's terms where a property uses them.
VOCABULARY_CLASSES = {
    "language": "dct:LinguisticSystem",
    "access-right": "dct:RightsStatement",
    "file-type": "dct:MediaTypeOrExtent",
    "frequency": "dct:Frequency",
    "data-theme": "skos:Concept",
}
SCHEME_TITLES = {
    "language": "Language",
    "access-right": "Access right",
    "file-type": "File type",
    "frequency": "Frequency",
    "data-theme": "Data theme",
}
# The SQL API's answer formats: (key, title, EU file type or None, IANA media type); all but
# JSON are also a download of the whole table (`dcat:downloadURL`).
FORMATS = (
    ("json", "JSON", "JSON", "application/json"),
    ("csv", "CSV", "CSV", "text/csv"),
    ("parquet", "Parquet", "PARQUET", "application/vnd.apache.parquet"),
    ("arrow", "Arrow IPC stream", None, "application/vnd.apache.arrow.stream"),
)
LANGUAGES = ("language/KOR", "language/ENG")
UNSTATED = ("이용 조건 미기재: 제공 기관에 문의", "Licence not stated: ask the publishing agency")


def _text(value: str, language: str = "ko") -> dict[str, str]:
    return {"@value": value, "@language": language}


def _texts(korean: str | None, english: str | None) -> list[dict[str, str]]:
    """The Korean and English versions of a text, each its own language-tagged literal."""
    return [_text(v, lang) for v, lang in ((korean, "ko"), (english, "en")) if v]


def _language(word: str) -> str:
    """`ko` for text with Hangul, else `en` (tags mix both)."""
    return "ko" if any("\uac00" <= ch <= "\ud7a3" for ch in word) else "en"


def _ref(uri: str) -> dict[str, str]:
    return {"@id": uri}


def _typed(uri: str, kind: str) -> dict[str, str]:
    """A reference that also states the class DCAT-AP's range shapes expect of the value."""
    return {"@id": uri, "@type": kind}


def _moment(at: datetime) -> dict[str, str]:
    return {"@value": at.isoformat(), "@type": "xsd:dateTime"}


def _day(day: date) -> dict[str, str]:
    return {"@value": day.isoformat(), "@type": "xsd:date"}


class Terms:
    """The EU vocabulary terms and licences a document uses, each described once in its graph."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.used: dict[str, dict[str, Any]] = {}

    def eu(self, term: str) -> dict[str, str]:
        """A reference to an EU vocabulary term, e.g. `frequency/DAILY`."""
        uri = f"{EU}/{term}"
        if uri not in self.used:
            vocabulary = term.split("/", 1)[0]
            node: dict[str, Any] = {
                "@id": uri,
                "@type": VOCABULARY_CLASSES[vocabulary],
                "skos:inScheme": _ref(f"{EU}/{vocabulary}"),
                "skos:prefLabel": _text(LABELS.get(term, term.split("/")[1]), "en"),
            }
            self.used[uri] = node
        return _ref(uri)

    def media_type(self, media: str) -> dict[str, str]:
        uri = f"{IANA}/{media}"
        self.used.setdefault(uri, _typed(uri, "dct:MediaType"))
        return _ref(uri)

    def licence(self, licence: Licence | None) -> dict[str, str]:
        """The licence document of a contract's licence: its published terms, or, for a
        licence without a page (or none stated), a node of this document naming it."""
        if licence is None:
            uri, titles = f"{self.base}/catalog.jsonld#licence-unstated", _texts(*UNSTATED)
        else:
            info = LICENCES[licence]
            uri = str(info.url) if info.url else f"{self.base}/catalog.jsonld#licence-{licence}"
            titles = _texts(info.title_ko, info.title_en)
        if uri not in self.used:
            self.used[uri] = {
                "@id": uri,
                "@type": "dct:LicenseDocument",
                "dct:title": titles,
                **({"dct:identifier": licence.value} if licence else {}),
            }
        return _ref(uri)

    def schemes(self) -> list[dict[str, Any]]:
        """The EU vocabularies the used terms are in (a taxonomy must be a titled scheme)."""
        vocabularies = {u.removeprefix(f"{EU}/").split("/")[0] for u in self.used if EU in u}
        return [
            {
                "@id": f"{EU}/{v}",
                "@type": "skos:ConceptScheme",
                "dct:title": _text(SCHEME_TITLES[v], "en"),
            }
            for v in sorted(vocabularies)
        ]


def _distributions(base: str, uri: str, contract: Contract, terms: Terms) -> list[dict[str, Any]]:
    sql = f"SELECT * FROM {contract.table}"
    licence = terms.licence(contract.licence)
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
            "dcat:mediaType": terms.media_type(media),
            "dct:license": licence,
        }
        if key in EXTENSIONS:
            dist["dcat:downloadURL"] = _typed(
                download_url(base, contract.id, Format(key)), "rdfs:Resource"
            )
        if eu_type:
            dist["dct:format"] = terms.eu(f"file-type/{eu_type}")
        out.append(dist)
    return out


def provenance(
    contract: Contract, registry: Registry, contracts: dict[str, Contract]
) -> dict[str, Any] | None:
    """A joint product's provenance statement (Korean and English): the agency that builds it
    and the agencies whose datasets it reads (`contracts`, by id); None for a dataset."""
    if contract.product is None:
        return None
    inputs = contract.product.inputs
    agencies = dict.fromkeys(contracts[i].agency for i in inputs if i in contracts)
    ko_names, en_names = [], []
    for agency_id in (contract.agency, *agencies):
        agency = registry.agency(agency_id)
        ko_names.append(agency.name if agency else agency_id)
        en_names.append(agency.name_en if agency else agency_id)
    ko = (
        f"공동 상품: {ko_names[0]}에서 데이터 계약의 SQL로 자료 {len(inputs)}건을 결합해 "
        f"만든다 (입력 자료 제공 기관: {', '.join(ko_names[1:])}). 입력 자료가 새로 게시되면 "
        "다시 만들고, 같은 품질·개인정보 검사를 거쳐 게시한다."
    )
    en = (
        f"Joint product: built by {en_names[0]} with its data contract's SQL from "
        f"{len(inputs)} datasets (published by {', '.join(en_names[1:])}); rebuilt whenever "
        "an input publishes, through the same quality and privacy checks."
    )
    return {"@type": "dct:ProvenanceStatement", "rdfs:label": _texts(ko, en)}


def dataset(
    base: str,
    contract: Contract,
    registry: Registry,
    published: tuple[datetime, datetime] | None,
    terms: Terms,
    sources: list[str] | None = None,
    statement: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One contract as a dcat:Dataset; `published` is its first and last publication. For a
    joint product: `sources`, the ids of its inputs listed in the same document (each a
    dcat:Dataset there, as `dct:source`'s range wants), and its provenance `statement`."""
    uri = f"{base}/api/v1/catalog/datasets/{contract.id}"
    agency = registry.agency(contract.agency)
    sector = registry.sector(contract.sector)
    described = contract.odcs.description
    purpose = (described.purpose if described else None) or contract.description
    english = contract.english
    email = contract.steward or (agency.contact if agency else None)
    contact: dict[str, Any] = {
        "@type": ["vcard:Kind", "vcard:Organization"],
        "vcard:fn": agency.name if agency else contract.agency,
    }
    if email:
        contact["vcard:hasEmail"] = _ref(f"mailto:{email}")
    node: dict[str, Any] = {
        "@id": uri,
        "@type": "dcat:Dataset",
        "dct:identifier": contract.id,
        "dct:title": _texts(contract.title, english.title),
        # Mandatory in DCAT-AP: a contract without a purpose is described by its title.
        "dct:description": _texts(purpose or contract.title, english.description),
        "dct:publisher": {
            "@id": f"{base}/api/v1/catalog/agencies/{contract.agency}",
            "@type": ["foaf:Agent", "foaf:Organization"],
            "foaf:name": _texts(agency.name, agency.name_en) if agency else contract.agency,
        },
        "dcat:contactPoint": contact,
        "dcat:theme": [_ref(f"{base}/api/v1/catalog/sectors/{contract.sector}")]
        + [terms.eu(f"data-theme/{t}") for t in THEMES.get(contract.sector, ())],
        "dcat:keyword": [_text(t, _language(t)) for t in contract.odcs.tags or []]
        + (_texts(sector.name, sector.name_en) if sector else []),
        "dct:accessRights": terms.eu(f"access-right/{ACCESS_RIGHTS[contract.access]}"),
        "dct:language": [terms.eu(term) for term in LANGUAGES],
        "dct:conformsTo": {
            "@id": f"{uri}/contract",
            "@type": "dct:Standard",
            "dct:title": _text(f"ODCS v3 data contract {contract.id} {contract.version}", "en"),
        },
        "dcat:landingPage": _typed(f"{base}/datasets/{contract.id}", "foaf:Document"),
        "dcat:distribution": _distributions(base, uri, contract, terms),
    }
    if published:
        node["dct:issued"], node["dct:modified"] = _moment(published[0]), _moment(published[1])
    frequency = contract.sla.frequency
    if frequency:
        node["dct:accrualPeriodicity"] = terms.eu(
            f"frequency/{FREQUENCIES.get(frequency, 'OTHER')}"
        )
    if sources:
        derived = [_ref(f"{base}/api/v1/catalog/datasets/{i}") for i in sources]
        node["dct:source"], node["prov:wasDerivedFrom"] = derived, derived
    if statement:
        node["dct:provenance"] = statement
    coverage = contract.coverage
    if coverage.start or coverage.end:
        period: dict[str, Any] = {"@type": "dct:PeriodOfTime"}
        if coverage.start:
            period["dcat:startDate"] = _day(coverage.start)
        if coverage.end:
            period["dcat:endDate"] = _day(coverage.end)
        node["dct:temporal"] = period
    return node


def catalog_document(
    base: str,
    contracts: list[Contract],
    registry: Registry,
    published: dict[str, tuple[datetime, datetime]],
) -> dict[str, Any]:
    """The dcat:Catalog of the public datasets among `contracts`, with the SQL API as its
    dcat:DataService, the sectors as a skos:ConceptScheme of themes beside the EU data themes,
    and the EU vocabulary terms it uses; `published` holds each dataset's first and last
    publication."""
    public = sorted((c for c in contracts if c.access == AccessLevel.public), key=lambda c: c.id)
    listed = {c.id for c in public}
    by_id = {c.id: c for c in contracts}
    terms = Terms(base)
    sectors_scheme = f"{base}/api/v1/catalog/sectors"
    catalog: dict[str, Any] = {
        "@id": f"{base}/catalog.jsonld",
        "@type": "dcat:Catalog",
        "dct:title": _texts("공유 — 공공기관 데이터 공유 카탈로그", "Gongyu data commons"),
        "dct:description": _texts(
            "공공기관 5개 분과의 공개 데이터셋 (데이터 계약, 품질·개인정보 검사 통과).",
            "Public datasets of Korea's public institutions in five sectors, published "
            "under data contracts through quality and privacy checks.",
        ),
        "dct:publisher": {
            "@id": f"{base}/catalog.jsonld#publisher",
            "@type": ["foaf:Agent", "foaf:Organization"],
            "foaf:name": _texts("공유 (Gongyu) 운영", "Gongyu operators"),
            "foaf:homepage": _typed(f"{base}/", "foaf:Document"),
        },
        "foaf:homepage": _typed(f"{base}/", "foaf:Document"),
        "dct:language": [terms.eu(term) for term in LANGUAGES],
        "dcat:themeTaxonomy": [_ref(sectors_scheme), _ref(f"{EU}/data-theme")],
        "dcat:service": {
            "@id": f"{base}/api/v1/sql",
            # The service's IRI is also its endpoint and every distribution's access URL,
            # which DCAT-AP 3.0.0's range shape wants typed as a resource.
            "@type": ["dcat:DataService", "rdfs:Resource"],
            "dct:title": _texts("공유 SQL API", "Gongyu SQL API"),
            "dcat:endpointURL": _ref(f"{base}/api/v1/sql"),
            "dcat:endpointDescription": _typed(f"{base}/openapi.json", "rdfs:Resource"),
            "dcat:servesDataset": [_ref(f"{base}/api/v1/catalog/datasets/{c.id}") for c in public],
        },
        "dcat:dataset": [
            dataset(
                base,
                c,
                registry,
                published.get(c.id),
                terms,
                [i for i in c.product.inputs if i in listed] if c.product else None,
                provenance(c, registry, by_id),
            )
            for c in public
        ],
    }
    times = [published[c.id] for c in public if c.id in published]
    if times:
        catalog["dct:issued"] = _moment(min(first for first, _ in times))
        catalog["dct:modified"] = _moment(max(last for _, last in times))
    sectors: list[dict[str, Any]] = [
        {
            "@id": sectors_scheme,
            "@type": "skos:ConceptScheme",
            "dct:title": _texts("분과", "Sectors"),
        },
        *(
            {
                "@id": f"{sectors_scheme}/{s.id}",
                "@type": "skos:Concept",
                "skos:prefLabel": _texts(s.name, s.name_en),
                "skos:inScheme": _ref(sectors_scheme),
            }
            for s in registry.sectors
        ),
    ]
    vocabulary = [*terms.schemes(), *terms.used.values()]
    return {"@context": CONTEXT, "@graph": [catalog, *sectors, *vocabulary]}


def publications(engine: Engine) -> dict[str, tuple[datetime, datetime]]:
    """When each dataset was first and last published, by dataset id (UTC)."""
    # A delivery's `updated_at` is set when it moves to `published`, its last state.
    at = deliveries.c.updated_at
    query = (
        select(deliveries.c.dataset_id, func.min(at), func.max(at))
        .where(deliveries.c.state == DeliveryState.published.value)
        .group_by(deliveries.c.dataset_id)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return {d: (utc(first), utc(last)) for d, first, last in rows}


async def harvester(
    request: Request,
    bearer: Bearer,
    api_key: ApiKey,
    purpose: Purpose = None,
) -> Principal | None:
    """The caller as every route has it; None, for an anonymous harvester, only when
    `GONGYU_DCAT_ANONYMOUS` is on and the request carries no credential of any kind."""
    anonymous = not (bearer or api_key or request.cookies.get(SESSION_COOKIE))
    if anonymous and platform_of(request).settings.dcat_anonymous:
        return None
    return await current_principal(request, bearer, api_key, purpose)


@router.get(
    "/catalog.jsonld",
    responses={200: {"content": {MEDIA_TYPE: {}}}},
    summary="The public catalog as DCAT-AP 3 JSON-LD",
)
def dcat_catalog(
    request: Request,
    principal: Annotated[Principal | None, Depends(harvester)],
    catalog: Catalog,
    background: BackgroundTasks,
) -> Response:
    """Every `public` dataset as a dcat:Dataset (titles and descriptions in Korean and English,
    publisher, contact point, themes, keywords, issued and modified, frequency, temporal
    coverage, access rights, licence, SQL API and download distributions), for harvesting by
    data portals. Without credentials only when the operators turned `GONGYU_DCAT_ANONYMOUS`
    on."""
    started = time.perf_counter()
    platform = catalog.platform
    base = str(request.base_url).rstrip("/")
    # Public datasets exist for every signed-in caller, so the document is the same for all.
    contracts = catalog.visible(principal) if principal else list(platform.contracts.values())
    document = catalog_document(
        base, contracts, platform.registry, publications(platform.deliveries.engine)
    )
    client = request.client.host if request.client else None
    audit_later(background, request, principal or anonymous(client), started)
    body = json.dumps(document, ensure_ascii=False)
    return Response(body, media_type=MEDIA_TYPE)
