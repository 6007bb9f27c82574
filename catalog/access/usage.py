"""Who reads a dataset: its queries in the audit log, summed per reading agency."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Engine, func, select

from catalog.access.audit import AuditKind, Outcome
from catalog.db import audit_log
from catalog.entries import Usage

# Requests that read rows; catalog page views (and their sample rows) are not usage.
READS = (AuditKind.sql.value, AuditKind.trino.value, AuditKind.download.value)


def usage(engine: Engine, dataset_id: str, exclude_agency: str | None = None) -> list[Usage]:
    """Successful reads of the dataset per agency (queries, rows, last time), most queries
    first; `exclude_agency` (the owner) is left out."""
    # `datasets` is a JSON list of ids: a quoted id matches exactly one element.
    query = (
        select(
            audit_log.c.agency,
            func.count(),
            func.coalesce(func.sum(audit_log.c.rows), 0),
            func.max(audit_log.c.at),
        )
        .where(audit_log.c.datasets.contains(json.dumps(dataset_id), autoescape=True))
        .where(audit_log.c.kind.in_(READS))
        .where(audit_log.c.outcome == Outcome.ok.value)
        .group_by(audit_log.c.agency)
    )
    if exclude_agency:
        query = query.where(audit_log.c.agency != exclude_agency)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    found = [
        Usage(agency=agency, queries=n, rows=int(total), last_at=datetime.fromisoformat(last))
        for agency, n, total, last in rows
    ]
    return sorted(found, key=lambda u: (-u.queries, u.agency))
