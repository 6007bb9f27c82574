"""Gongyu's catalog in CKAN's shapes: a dataset is a package, an agency an organization, a
sector a group; its downloads (CSV, Parquet, Arrow) and the SQL API (JSON) are its resources."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.sql.answers import EXTENSIONS, Format, download_url
from catalog.entries import DatasetSummary
from contracts.model import AccessLevel, Contract
from sectors.registry import Agency, Registry, Sector

# A package's resources: (key, format, media type).
RESOURCES = (
    ("json", "JSON", "application/json"),
    ("csv", "CSV", "text/csv"),
    ("parquet", "Parquet", "application/vnd.apache.parquet"),
    ("arrow", "Arrow", "application/vnd.apache.arrow.stream"),
)


def _stamp(moment: datetime | None) -> str | None:
    """A time as CKAN writes it: ISO 8601, UTC, no zone suffix."""
    return moment.replace(tzinfo=None).isoformat() if moment else None


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


def resource(
    contract: Contract, base: str, position: int, key: str, fmt: str, media: str
) -> dict[str, Any]:
    """One format as a CKAN resource: the whole table's download, or the SQL API for JSON
    (whose answers stop at a row limit)."""
    sql = f"SELECT * FROM {contract.table}"
    found = {
        "id": f"{contract.id}.{key}",
        "package_id": contract.id,
        "format": fmt,
        "mimetype": media,
        "position": position,
        "state": "active",
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


def package(
    contract: Contract, summary: DatasetSummary, registry: Registry, base: str
) -> dict[str, Any]:
    """A dataset as a CKAN package; its resources are its downloads and the SQL API."""
    agency, sector = registry.agency(contract.agency), registry.sector(contract.sector)
    described = contract.odcs.description
    tags = list(contract.odcs.tags or [])
    resources = [resource(contract, base, i, *r) for i, r in enumerate(RESOURCES)]
    modified = _stamp(summary.last_published_at)
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
        "license_id": None,
        "metadata_created": modified,
        "metadata_modified": modified,
        "owner_org": contract.agency,
        "organization": organization(agency, base) if agency else None,
        "groups": [group(sector, base)] if sector else [],
        "tags": [{"name": t, "display_name": t, "state": "active"} for t in tags],
        "num_tags": len(tags),
        "resources": resources,
        "num_resources": len(resources),
        "extras": [
            {"key": "access_level", "value": contract.access.value},
            {"key": "sql_table", "value": contract.table},
            {"key": "freshness", "value": summary.freshness},
            {"key": "readable", "value": str(summary.readable).lower()},
            {"key": "usage", "value": (described.usage if described else None) or ""},
            {"key": "limitations", "value": (described.limitations if described else None) or ""},
        ],
    }
