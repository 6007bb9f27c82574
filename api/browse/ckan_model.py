"""Gongyu's catalog in CKAN's shapes: a dataset is a package, an agency an organization, a
sector a group; its downloads (CSV, Parquet, Arrow) and the SQL API (JSON) are its resources.
A joint product is a package like any other, its extras saying what it is: `kind` product,
`inputs` (the ids of the packages it reads, comma-separated) and `product_sql` (its query).

Resource ids are UUIDs (CKAN 2.10 allows only letters, digits, `_` and `-` in them, CKAN 2.11
only UUIDs), the same for a dataset and format every time: UUID 5 of `RESOURCE_NAMESPACE` and
`<dataset>/<format key>`. A package's licence comes from its contract (`contracts.licences`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from api.sql.answers import EXTENSIONS, Format, download_url
from catalog.entries import DatasetSummary
from catalog.freshness import update_cycle
from contracts.licences import LICENCES, Licence
from contracts.model import AccessLevel, Contract
from sectors.registry import Agency, Registry, Sector

# Fixed for good: harvesters keep the resource ids they saw.
RESOURCE_NAMESPACE = uuid.UUID("e189eb92-fbcf-4120-ace5-cfc089c18f5c")
# CKAN's own id for a package that names no licence.
NOT_SPECIFIED = {
    "id": "notspecified",
    "title": "라이선스 미기재 (License not specified)",
    "url": "",
    "isopen": False,
}

# A package's resources: (key, format, media type).
RESOURCES = (
    ("json", "JSON", "application/json"),
    ("csv", "CSV", "text/csv"),
    ("parquet", "Parquet", "application/vnd.apache.parquet"),
    ("arrow", "Arrow", "application/vnd.apache.arrow.stream"),
)


def _stamp(moment: datetime | None) -> str | None:
    """A time as CKAN writes it: ISO 8601, UTC, no zone suffix."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat()


def tag(name: str) -> dict[str, Any]:
    """A free tag (no vocabulary) in CKAN's shape; its id is UUID 5 of its name."""
    tag_id = str(uuid.uuid5(RESOURCE_NAMESPACE, f"tag/{name}"))
    return {
        "id": tag_id,
        "name": name,
        "display_name": name,
        "vocabulary_id": None,
        "state": "active",
    }


def _group(
    *,
    is_organization: bool,
    id_: str,
    name: str,
    description: str,
    extras: dict[str, str],
    url: str,
    count: int | None,
) -> dict[str, Any]:
    """CKAN's group shape, which organizations share (`package_count` when counted)."""
    found = {
        "id": id_,
        "name": id_,
        "title": name,
        "display_name": name,
        "description": description,
        "image_url": "",
        "image_display_url": "",
        "created": None,
        "is_organization": is_organization,
        "approval_status": "approved",
        "state": "active",
        "type": "organization" if is_organization else "group",
        "num_followers": 0,
        "extras": [{"key": k, "value": v} for k, v in extras.items()],
        "url": url,
    }
    return found if count is None else {**found, "package_count": count}


def organization(agency: Agency, base: str, count: int | None = None) -> dict[str, Any]:
    """An agency as a CKAN organization (`package_count` in lists and `organization_show`)."""
    return _group(
        is_organization=True,
        id_=agency.id,
        name=agency.name,
        description=f"{agency.name_en} — {agency.contact}",
        extras={"name_en": agency.name_en, "contact": agency.contact},
        url=f"{base}/api/v1/catalog/agencies/{agency.id}",
        count=count,
    )


def group(sector: Sector, base: str, count: int | None = None) -> dict[str, Any]:
    """A sector as a CKAN group (`package_count` in lists and `group_show`)."""
    return _group(
        is_organization=False,
        id_=sector.id,
        name=sector.name,
        description=f"{sector.name_en}; secretariat: {sector.secretariat}",
        extras={"name_en": sector.name_en, "secretariat": sector.secretariat},
        url=f"{base}/api/v1/catalog/sectors/{sector.id}",
        count=count,
    )


def resource_id(dataset_id: str, key: str) -> str:
    """A resource's id: UUID 5 of the dataset and format key, stable for good."""
    return str(uuid.uuid5(RESOURCE_NAMESPACE, f"{dataset_id}/{key}"))


def licence_fields(licence: Licence | None) -> dict[str, Any]:
    """A package's `license_id`, `license_title`, `license_url` and `isopen`."""
    if licence is None:
        found = NOT_SPECIFIED
        return {f"license_{k}": v for k, v in found.items() if k != "isopen"} | {"isopen": False}
    info = LICENCES[licence]
    return {
        "license_id": licence.value,
        "license_title": info.title_ko,
        "license_url": str(info.url) if info.url else "",
        "isopen": info.isopen,
    }


def licence_entry(licence: Licence | None) -> dict[str, Any]:
    """A licence in `license_list`'s shape (CKAN's `License.license_dictize`)."""
    if licence is None:
        isopen, title, url, title_en = False, NOT_SPECIFIED["title"], "", "License not specified"
        licence_id = NOT_SPECIFIED["id"]
    else:
        info = LICENCES[licence]
        isopen, title, title_en = info.isopen, info.title_ko, info.title_en
        url, licence_id = (str(info.url) if info.url else ""), licence.value
    return {
        "id": licence_id,
        "title": title,
        "title_en": title_en,
        "url": url,
        "status": "active",
        "maintainer": "",
        "family": "",
        "domain_content": False,
        "domain_data": True,
        "domain_software": False,
        "is_generic": licence is None,
        "is_okd_compliant": isopen,
        "is_osi_compliant": False,
        "od_conformance": "approved" if isopen else "not reviewed",
        "osd_conformance": "not reviewed",
    }


def resource(
    contract: Contract,
    base: str,
    position: int,
    key: str,
    fmt: str,
    media: str,
    created: str | None = None,
    modified: str | None = None,
) -> dict[str, Any]:
    """One format as a CKAN resource: the whole table's download, or the SQL API for JSON
    (whose answers stop at a row limit)."""
    sql = f"SELECT * FROM {contract.table}"
    found = {
        "id": resource_id(contract.id, key),
        "package_id": contract.id,
        "format": fmt,
        "mimetype": media,
        "position": position,
        "state": "active",
        "created": created,
        "last_modified": modified,
        "metadata_modified": modified,
    }
    if key in EXTENSIONS:
        # CKAN's `url` is the file itself; a link rather than an upload has no `url_type`.
        return found | {
            "name": f"{contract.id} ({fmt})",
            "description": f"The whole table as you may read it; or SQL: {sql}",
            "url": download_url(base, contract.id, Format(key)),
            "url_type": None,
        }
    return found | {
        "name": f"SQL API ({fmt})",
        "description": f'POST {{"sql": "{sql}", "format": "{key}"}}',
        "url": f"{base}/api/v1/sql",
        "url_type": "api",
    }


def _extras(contract: Contract, summary: DatasetSummary, inputs: list[str]) -> list[dict[str, str]]:
    described = contract.odcs.description
    found = {
        "kind": contract.kind,
        "access_level": contract.access.value,
        "sql_table": contract.table,
        "freshness": summary.freshness,
        "readable": str(summary.readable).lower(),
        "usage": (described.usage if described else None) or "",
        "limitations": (described.limitations if described else None) or "",
    }
    cycle = update_cycle(contract)
    optional = {
        # ckanext-dcat's names for the period covered.
        "temporal_start": contract.coverage.start and contract.coverage.start.isoformat(),
        "temporal_end": contract.coverage.end and contract.coverage.end.isoformat(),
        "update_cycle": cycle and f"{cycle.every} {cycle.unit}",
        "title_en": contract.english.title,
        "notes_en": contract.english.description,
        "inputs": ",".join(inputs),
        "product_sql": contract.product.sql if contract.product else None,
    }
    found |= {k: v for k, v in optional.items() if v}
    return [{"key": k, "value": v} for k, v in found.items()]


def package(
    contract: Contract,
    summary: DatasetSummary,
    registry: Registry,
    base: str,
    created: datetime | None = None,
    modified: datetime | None = None,
    inputs: list[str] | None = None,
) -> dict[str, Any]:
    """A dataset as a CKAN package; its resources are its downloads and the SQL API.

    `created` is when it was first published (fixed from then on), `modified` when its package
    last changed (a publication or a contract change); both default to the last publication.
    `inputs`: for a joint product, the packages it reads that the caller sees."""
    agency, sector = registry.agency(contract.agency), registry.sector(contract.sector)
    described = contract.odcs.description
    tags = list(contract.odcs.tags or [])
    modified_at = _stamp(modified or summary.last_published_at)
    created_at = _stamp(created or modified or summary.last_published_at)
    resources = [
        resource(contract, base, i, *r, created=created_at, modified=modified_at)
        for i, r in enumerate(RESOURCES)
    ]
    return {
        "id": contract.id,
        "name": contract.id,
        "title": contract.title,
        "notes": described.purpose if described else contract.description,
        "type": "dataset",
        "state": "active",
        # CKAN's private: only the organization's members see it, as Gongyu's private level.
        "private": contract.access == AccessLevel.private,
        "version": contract.version,
        "url": f"{base}/datasets/{contract.id}",
        "author": agency.name if agency else contract.agency,
        "author_email": agency.contact if agency else None,
        "maintainer": contract.steward,
        "maintainer_email": contract.steward,
        **licence_fields(contract.licence),
        "metadata_created": created_at,
        "metadata_modified": modified_at,
        "owner_org": contract.agency,
        "organization": organization(agency, base) if agency else None,
        "groups": [group(sector, base)] if sector else [],
        "tags": [tag(t) for t in tags],
        "num_tags": len(tags),
        "resources": resources,
        "num_resources": len(resources),
        "extras": _extras(contract, summary, inputs or []),
    }
