"""Grants: a dataset opened to another agency for a stated purpose until an expiry date.

A grant is valid through the end of its expiry date in Korea (Asia/Seoul) and stops working by
itself afterwards: `active` filters by date, so no job has to expire anything.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import Engine, insert, select, update

from catalog.access.keys import require_agency
from catalog.access.requestable import Requestable
from catalog.db import grants
from contracts.model import Classification, Contract
from sectors.registry import Registry

KOREA = ZoneInfo("Asia/Seoul")


class GrantError(ValueError):
    """A grant that may not be made as asked."""


class UnknownGrant(ValueError):
    """No grant has this id."""


class Grant(BaseModel):
    """One dataset opened to one agency for one purpose until `expires` (inclusive, KST)."""

    grant_id: str
    dataset_id: str
    agency: str = Field(description="The agency the dataset is granted to.")
    purpose: str
    expires: date = Field(description="Last day of validity, in Korea (Asia/Seoul).")
    columns: tuple[str, ...] | None = Field(
        None, description="Columns the grant names: sensitive ones among them are unmasked."
    )
    row_filter: str | None = Field(
        None,
        description="Iceberg filter expression over the published columns limiting the rows "
        "it opens (`catalog.access.row_filter`).",
    )
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    project_id: str | None = Field(
        None, description="The AI project holding it: it serves that project and ends with it."
    )

    def active_on(self, day: date) -> bool:
        """True when the grant works on this Korean calendar day."""
        return self.revoked_at is None and day <= self.expires


def korean_day(moment: datetime) -> date:
    """The date in Korea at a moment (aware), the calendar grants expire by."""
    return moment.astimezone(KOREA).date()


def korean_today() -> date:
    """Today's date in Korea."""
    return korean_day(datetime.now(UTC))


class Grants:
    """The grants in the catalog database."""

    def __init__(self, engine: Engine, registry: Registry) -> None:
        self.engine = engine
        self.registry = registry

    def add(
        self,
        contract: Requestable,
        agency: str,
        purpose: str,
        expires: date,
        *,
        columns: tuple[str, ...] | None = None,
        row_filter: str | None = None,
        created_by: str,
        today: date | None = None,
        project_id: str | None = None,
    ) -> Grant:
        """Grant the contract's dataset (or a model, whole) to an agency (for a project, when it
        names one); GrantError says what is wrong with it."""
        require_agency(self.registry, agency)
        if not purpose.strip():
            raise GrantError("a grant needs a purpose: say what the data will be used for")
        today = today or korean_today()
        if expires < today:
            raise GrantError(f"expiry {expires} is in the past (today in Korea is {today})")
        self.check_terms(contract, columns, row_filter)
        row = {
            "grant_id": secrets.token_hex(8),
            "dataset_id": contract.id,
            "agency": agency,
            "purpose": purpose.strip(),
            "expires": expires,
            "columns": list(columns) if columns is not None else None,
            "row_filter": row_filter,
            "created_at": datetime.now(UTC),
            "created_by": created_by,
            "revoked_at": None,
            "project_id": project_id,
        }
        with self.engine.begin() as conn:
            conn.execute(insert(grants).values(**row))
        return Grant.model_validate(row)

    @staticmethod
    def check_terms(
        contract: Requestable, columns: tuple[str, ...] | None, row_filter: str | None
    ) -> None:
        """GrantError unless the columns exist and the row filter reads only visible columns
        (a model, having neither, is granted whole)."""
        if not isinstance(contract, Contract):
            if columns is not None or row_filter is not None:
                raise GrantError(f"{contract.id} is granted whole: name no columns or row filter")
            return
        if columns is not None:
            _check_columns(contract, columns)
        if row_filter is not None:
            _check_row_filter(contract, row_filter, columns)

    def revoke(self, grant_id: str) -> Grant:
        """Revoke a grant (it stops working at once); UnknownGrant if there is no such grant."""
        with self.engine.begin() as conn:
            conn.execute(
                update(grants)
                .where((grants.c.grant_id == grant_id) & grants.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
            row = conn.execute(select(grants).where(grants.c.grant_id == grant_id)).first()
        if row is None:
            raise UnknownGrant(f"no grant {grant_id!r} (see `gongyu grants list --all`)")
        return Grant.model_validate(row._mapping)

    def made_by(self, created_by: str) -> list[Grant]:
        """Every grant one maker made (`request:<id>` for an approval), revoked ones too."""
        query = select(grants).where(grants.c.created_by == created_by).order_by(grants.c.agency)
        with self.engine.connect() as conn:
            return [Grant.model_validate(r._mapping) for r in conn.execute(query)]

    def end_with_project(
        self, project_id: str, members: Collection[str], end: date | None, stopped: bool
    ) -> list[tuple[Grant, str]]:
        """Bring the project's live grants into its terms: all revoked when it stopped, those of
        agencies no longer members revoked, expiries past its end moved to it. Each grant
        changed, with what happened to it (`revoked` or `shortened`)."""
        query = select(grants).where(
            (grants.c.project_id == project_id) & grants.c.revoked_at.is_(None)
        )
        changed: list[tuple[Grant, str]] = []
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            for row in conn.execute(query).all():
                grant = Grant.model_validate(row._mapping)
                if stopped or grant.agency not in members:
                    values: dict[str, object] = {"revoked_at": now}
                    what = "revoked"
                elif end is not None and grant.expires > end:
                    values, what = {"expires": end}, "shortened"
                else:
                    continue
                conn.execute(
                    update(grants).where(grants.c.grant_id == grant.grant_id).values(**values)
                )
                changed.append((grant.model_copy(update=values), what))
        return changed

    def list(
        self,
        dataset_id: str | None = None,
        agency: str | None = None,
        include_expired: bool = False,
        today: date | None = None,
    ) -> list[Grant]:
        """Grants, oldest first; only active ones unless `include_expired` (then revoked too)."""
        query = select(grants).order_by(grants.c.created_at, grants.c.grant_id)
        if dataset_id:
            query = query.where(grants.c.dataset_id == dataset_id)
        if agency:
            query = query.where(grants.c.agency == agency)
        if not include_expired:
            query = query.where(
                grants.c.revoked_at.is_(None) & (grants.c.expires >= (today or korean_today()))
            )
        with self.engine.connect() as conn:
            return [Grant.model_validate(r._mapping) for r in conn.execute(query)]

    def active(self, agency: str, dataset_id: str, today: date | None = None) -> list[Grant]:
        """The grants that let the agency read the dataset today (in Korea)."""
        return self.list(dataset_id=dataset_id, agency=agency, today=today)


def visible_columns(contract: Contract, named: tuple[str, ...] | None) -> set[str]:
    """The columns a grantee sees: all but sensitive ones, and sensitive ones the grant names."""
    return {
        c.name
        for c in contract.columns
        if c.classification != Classification.sensitive or c.name in (named or ())
    }


def _check_row_filter(contract: Contract, row_filter: str, columns: tuple[str, ...] | None) -> None:
    # Here, not at the top: listing or revoking grants needs no Iceberg expressions.
    from catalog.access.row_filter import RowFilterError, check_row_filter
    from catalog.lakehouse import iceberg_schema

    try:
        check_row_filter(row_filter, iceberg_schema(contract), visible_columns(contract, columns))
    except RowFilterError as exc:
        raise GrantError(str(exc)) from None


def _check_columns(contract: Contract, columns: tuple[str, ...]) -> None:
    if not columns:
        raise GrantError("the column list is empty: name at least one column, or give none")
    known = [c.name for c in contract.columns]
    unknown = [c for c in columns if c not in known]
    if unknown:
        raise GrantError(
            f"{contract.id} has no column(s) {', '.join(unknown)}; its columns: {', '.join(known)}"
        )
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise GrantError(f"column(s) named twice: {', '.join(repeated)}")
