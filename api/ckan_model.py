"""Gongyu's catalog in CKAN's shapes: a dataset is a package, an agency an organization, a
sector a group; the SQL API's formats are the package's resources."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from catalog.entries import DatasetSummary
from contracts.model import AccessLevel, Contract
from sectors.registry import Agency, Registry, Sector

# The SQL API's answer formats as CKAN resources: (key, format, media type).
RESOURCES = (
    ("json", "JSON", "application/json"),
    ("csv", "CSV", "text/csv"),
    ("parquet", "Parquet", "application/vnd.apache.parquet"),
    ("arrow", "Arrow", "application/vnd.apache.arrow.stream"),
)


def _stamp(moment: datetime | None) -> str | None:
    """A time as CKAN writes it: ISO 8601, UTC, no zone suffix."""
    return moment.replace(tzinfo=None).isoformat() if moment else None


def organization(agency: Agency, base: str, count: int | None = None) -> dict[str, Any]:
    """An agency as a CKAN organization (`package_count` in lists and `organization_show`)."""
    found = {
        "id": agency.id,
        "name": agency.id,
        "title": agency.name,
        "display_name": agency.name,
        "description": f"{agency.name_en} — {agency.contact}",
        "image_url": "",
        "image_display_url": "",
        "created": None,
        "is_organization": True,
        "approval_status": "approved",
        "state": "active",
        "type": "organization",
        "num_followers": 0,
        "extras": [
            {"key": "name_en", "value": agency.name_en},
            {"key": "contact", "value": agency.contact},
        ],
        "url": f"{base}/api/v1/catalog/agencies/{agency.id}",
    }
    return found if count is None else {**found, "package_count": count}


def group(sector: Sector, base: str, count: int | None = None) -> dict[str, Any]:
    """A sector as a CKAN group (`package_count` in lists and `group_show`)."""
    found = {
        "id": sector.id,
        "name": sector.id,
        "title": sector.name,
        "display_name": sector.name,
        "description": f"{sector.name_en}; secretariat: {sector.secretariat}",
        "image_url": "",
        "image_display_url": "",
        "created": None,
        "is_organization": False,
        "approval_status": "approved",
        "state": "active",
        "type": "group",
        "num_followers": 0,
        "extras": [
            {"key": "name_en", "value": sector.name_en},
            {"key": "secretariat", "value": sector.secretariat},
        ],
        "url": f"{base}/api/v1/catalog/sectors/{sector.id}",
    }
    return found if count is None else {**found, "package_count": count}


def package(
    contract: Contract, summary: DatasetSummary, registry: Registry, base: str
) -> dict[str, Any]:
    """A dataset as a CKAN package; its resources are the SQL API's formats."""
    agency, sector = registry.agency(contract.agency), registry.sector(contract.sector)
    described = contract.odcs.description
    tags = list(contract.odcs.tags or [])
    sql = f"SELECT * FROM {contract.table}"
    resources = [
        {
            "id": f"{contract.id}.{key}",
            "package_id": contract.id,
            "name": f"SQL API ({fmt})",
            "description": f'POST {{"sql": "{sql}", "format": "{key}"}}',
            "format": fmt,
            "mimetype": media,
            "url": f"{base}/api/v1/sql",
            "url_type": "api",
            "position": i,
            "state": "active",
        }
        for i, (key, fmt, media) in enumerate(RESOURCES)
    ]
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
