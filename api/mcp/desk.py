"""What an AI assistant's tools do for one caller: search, describe, query, list requests.

Each call runs as the caller, through the same services as the HTTP API (the catalog's
visibility, the SQL sandbox with its masks, row filters, statement rules and limits), and
leaves its audit record; the principal carries `client="mcp"`, so the record says so.
"""

from __future__ import annotations

import json
import math
import time
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
from pydantic import BaseModel

from api.browse.service import CatalogService
from catalog.access.audit import AuditKind, Outcome
from catalog.access.principal import Principal
from catalog.entries import SearchFilters
from gongyu.platform import Platform
from gongyu.query.query import Answer, QueryError, QueryService, audit_query, outcome_of

MAX_HITS = 20
MAX_ROWS = 200
# The dataset entry's fields an assistant gets: no sample rows, no column examples.
DESCRIBED = {
    "summary": True,
    "table": True,
    "purpose": True,
    "usage_note": True,
    "limitations": True,
    "how_to_request": True,
    "k": True,
    "freshness": True,
    "licence": True,
    "coverage": True,
    "update_cycle": True,
    "english": True,
    "columns": {
        "__all__": {
            "name",
            "type",
            "description",
            "classification",
            "required",
            "primary_key",
            "published_as",
            "generalisation",
            "masked",
        }
    },
}


class ToolFailure(Exception):
    """A call refused or failed; its message is what the assistant reads (JSON)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(
            json.dumps({"error": {"kind": kind, "message": message}}, ensure_ascii=False)
        )


class RequestLine(BaseModel):
    """One access request as its parties see it, for an assistant."""

    id: str
    dataset: str
    owner_agency: str
    requester_agency: str
    state: str
    waiting_for: list[str]
    for_you: bool
    purpose: str
    legal_basis: str
    columns: list[str] | None
    row_filter: str | None
    until: date
    reason: str | None
    grant_id: str | None
    created_at: datetime
    updated_at: datetime


def _plain(value: Any) -> Any:
    """A value as JSON carries it: exact decimals as text, NaN as null, times in ISO 8601."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def dumps(payload: Any) -> str:
    """The JSON text a tool answers with."""
    return json.dumps(payload, ensure_ascii=False, default=str)


class Desk:
    """The four tools' work, shared by the HTTP and stdio transports."""

    def __init__(self, platform: Platform, queries: QueryService, catalog: CatalogService) -> None:
        self.platform = platform
        self.queries = queries
        self.catalog = catalog

    def _record(
        self,
        principal: Principal,
        call: str,
        started: float,
        datasets: list[str] | tuple[str, ...] = (),
        rows: int | None = None,
    ) -> None:
        """The catalog record of one call (search, describe, requests), as the API's."""
        self.platform.audit.append(
            principal,
            AuditKind.catalog,
            f"MCP {call}",
            datasets=datasets,
            rows=rows,
            duration_ms=(time.perf_counter() - started) * 1000,
        )

    def search_datasets(
        self, principal: Principal, query: str, sector: str | None, limit: int
    ) -> dict[str, Any]:
        """Datasets the caller sees matching the query, best first, with their SQL names."""
        started = time.perf_counter()
        found = self.catalog.search(
            principal, query, SearchFilters(sector=sector), limit=max(1, min(limit, MAX_HITS))
        )
        payload = found.model_dump(mode="json", exclude={"filters"})
        for hit in payload["hits"]:
            contract = self.catalog.contract(principal, hit["dataset"]["id"])
            hit["table"] = contract.table if contract else None
        args = dumps({"query": query, "sector": sector, "limit": limit})
        self._record(principal, f"search_datasets {args}", started, rows=len(payload["hits"]))
        return payload

    def describe_dataset(self, principal: Principal, dataset_id: str) -> dict[str, Any]:
        """Schema with classifications, access level, freshness; unknown when not visible."""
        started = time.perf_counter()
        entry = self.catalog.dataset(principal, dataset_id)
        call = f"describe_dataset {dumps({'dataset_id': dataset_id})}"
        if entry is None:
            self._record(principal, call, started)
            raise ToolFailure("unknown", f"unknown dataset: {dataset_id}")
        self._record(principal, call, started, datasets=[dataset_id])
        return entry.model_dump(mode="json", include=DESCRIBED)

    def run_sql(self, principal: Principal, sql: str, limit: int) -> dict[str, Any]:
        """One read-only query exactly as POST /api/v1/sql runs it, cut at `limit` rows."""
        audit = self.platform.audit
        cap = max(1, min(limit, MAX_ROWS, self.platform.settings.sql_max_rows))
        started = time.perf_counter()
        try:
            answer = self.queries.run(principal, sql)
        except QueryError as exc:
            outcome = outcome_of(exc)
            audit_query(
                audit, principal, sql, None, started, outcome, exc.message, datasets=exc.datasets
            )
            raise ToolFailure(exc.kind, exc.message) from None
        opened = None
        try:
            # Written before any of its data leaves, as the SQL API's opening record.
            opened = audit.append(
                principal,
                AuditKind.sql,
                sql,
                datasets=answer.datasets,
                duration_ms=(time.perf_counter() - started) * 1000,
                outcome=Outcome.opened,
            )
            table, truncated = _limited(answer, cap)
        except Exception as exc:
            failed = exc if isinstance(exc, QueryError) else None
            outcome = outcome_of(failed) if failed else Outcome.error
            error = failed.message if failed else repr(exc)
            record = audit_query(
                audit, principal, sql, answer, started, outcome, error, completes=opened
            )
            if failed:
                raise ToolFailure(failed.kind, failed.message) from None
            raise ToolFailure("internal", f"internal error, recorded as {record.seq}") from None
        finally:
            answer.close()
        audit_query(audit, principal, sql, answer, started, Outcome.ok, completes=opened)
        return {
            "columns": [{"name": f.name, "type": str(f.type)} for f in table.schema],
            "rows": [_plain(list(r.values())) for r in table.to_pylist()],
            "row_count": table.num_rows,
            "truncated": truncated,
            "note": f"only the first {cap} rows: aggregate or add LIMIT" if truncated else None,
        }

    def my_access_requests(self, principal: Principal) -> list[dict[str, Any]]:
        """The caller's agency's requests and those waiting for the caller's decision."""
        started = time.perf_counter()
        requests = self.platform.requests
        found = [
            RequestLine(
                id=r.request_id,
                dataset=r.dataset_id,
                owner_agency=r.owner_agency,
                requester_agency=r.requester_agency,
                state=r.state.value,
                waiting_for=[s.value for s in r.waiting_for],
                for_you=requests.step_for(principal, r) is not None,
                purpose=r.purpose,
                legal_basis=r.legal_basis.value,
                columns=list(r.columns) if r.columns is not None else None,
                row_filter=r.row_filter,
                until=r.until,
                reason=r.reason,
                grant_id=r.grant_id,
                created_at=r.created_at,
                updated_at=r.updated_at,
            )
            for r in requests.listed(principal)
        ]
        datasets = sorted({f.dataset for f in found})
        self._record(principal, "my_access_requests", started, datasets=datasets, rows=len(found))
        return [f.model_dump(mode="json") for f in found]


def _limited(answer: Answer, limit: int) -> tuple[pa.Table, bool]:
    """Up to `limit` rows of the answer, and whether more were left."""
    taken, batches = 0, []
    for batch in answer.stream():
        if taken + batch.num_rows > limit:
            batches.append(batch.slice(0, limit - taken))
            return pa.Table.from_batches(batches, schema=answer.schema), True
        batches.append(batch)
        taken += batch.num_rows
    return pa.Table.from_batches(batches, schema=answer.schema), False
