"""Who may read what: entitlements, column masks and row filters — the one place policy lives.

A caller's agency decides what it reads (the role only narrows: operators run the platform
and read public data like anyone). Access levels:
- `public`: every caller;
- `sector`: agencies of the dataset's sector, and agencies holding an active grant;
- `restricted`: agencies holding an active grant;
- `private`: the owning agency.
The owning agency reads its own data whole. Everyone else sees `sensitive` columns as NULL
unless an active grant names them, and a grant's row filter applies to every query of the
grantee (several grants: any of their filters lets a row through). Pseudonymised columns are
stored as pseudonyms, so they stay pseudonyms here.

The catalog shows every dataset's entry to every caller except another agency's `private` one;
who reads a dataset is shown to its agency, its sector's secretariat and operators; why a
delivery was quarantined to its agency and operators.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict

from catalog.access.grants import Grant
from catalog.access.principal import Principal, Role
from contracts.model import AccessLevel, Classification, Contract
from sectors.registry import Registry


class ColumnView(BaseModel):
    """One column as a caller sees it: its value, or NULL when masked."""

    model_config = ConfigDict(frozen=True)

    name: str
    masked: bool = False


class TablePolicy(BaseModel):
    """What one caller may see of one dataset: which columns are masked, which rows pass."""

    model_config = ConfigDict(frozen=True)

    dataset_id: str
    sector: str
    columns: tuple[ColumnView, ...]
    row_filters: tuple[str, ...] = ()
    grants: tuple[str, ...] = ()

    @property
    def filtered(self) -> bool:
        """True when only rows some grant's filter lets through are visible."""
        return bool(self.row_filters)

    def masked(self, name: str) -> bool:
        """True when the column reads as NULL for this caller."""
        return any(c.masked for c in self.columns if c.name == name)


class Shared(Protocol):
    """What decides who may read a thing: its access level, owning agency and sector (a
    dataset's contract, a shared model's card)."""

    @property
    def access(self) -> AccessLevel: ...

    @property
    def agency(self) -> str: ...

    @property
    def sector(self) -> str: ...


def may_read(principal: Principal, shared: Shared, registry: Registry, grants: list[Grant]) -> bool:
    """True when the caller's agency may read the dataset (or use the model) at all."""
    if shared.access == AccessLevel.public:
        return True
    if principal.role == Role.operator:
        return False
    if principal.agency == shared.agency:
        return True
    if shared.access == AccessLevel.sector:
        member = shared.sector in {s.id for s in registry.sectors_of(principal.agency)}
        return member or bool(grants)  # an approved request opens it beyond the sector
    if shared.access == AccessLevel.restricted:
        return bool(grants)
    return False


def may_see(principal: Principal, contract: Contract, registry: Registry) -> bool:
    """True when the dataset's catalog entry exists for the caller: every dataset's but another
    agency's `private` one (a private entry exists exactly for those who may read it)."""
    return contract.access != AccessLevel.private or may_read(principal, contract, registry, [])


def sees_usage(principal: Principal, contract: Contract, registry: Registry) -> bool:
    """True when the caller may see which agencies read the dataset: its owning agency, the
    secretariat of its sector and operators. Who reads what can reveal grants and studies."""
    if principal.role == Role.operator or principal.agency == contract.agency:
        return True
    sector = registry.sector(contract.sector)
    return (
        principal.role == Role.secretariat
        and sector is not None
        and principal.agency == sector.secretariat
    )


def sees_deliveries(principal: Principal, contract: Contract) -> bool:
    """True when the caller may read why the dataset's deliveries were quarantined: the owning
    agency and operators (reasons quote values of the raw delivery)."""
    return principal.role == Role.operator or principal.agency == contract.agency


def table_policy(
    principal: Principal, contract: Contract, registry: Registry, grants: list[Grant]
) -> TablePolicy | None:
    """The caller's view of one dataset, or None when it does not exist for them.

    `grants` are the active grants of the caller's agency on this dataset.
    """
    if principal.role == Role.operator:
        grants = []  # grants are given to an agency's analysts, not to the platform's operators
    if not may_read(principal, contract, registry, grants):
        return None
    owner = principal.agency == contract.agency and principal.role != Role.operator
    named = {c for g in grants for c in (g.columns or ())}
    columns = tuple(
        ColumnView(
            name=c.name,
            masked=not owner
            and c.classification == Classification.sensitive
            and c.name not in named,
        )
        for c in contract.columns
    )
    filters = tuple(g.row_filter or "" for g in grants)
    # Any grant without a filter lets every row through; the owner is never filtered.
    row_filters = filters if filters and not owner and all(filters) else ()
    return TablePolicy(
        dataset_id=contract.id,
        sector=contract.sector,
        columns=columns,
        row_filters=row_filters,
        grants=tuple(g.grant_id for g in grants),
    )
