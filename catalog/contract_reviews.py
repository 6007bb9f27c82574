"""Contracts submitted through the product: versions with a state, reviewed by the sector.

A steward submits a contract (a new dataset, or a new version of one of the agency's datasets):
draft → in_review → active, or rejected with a reason; an active version becomes deprecated when
a later one is approved. A submission is linted and diffed against the dataset's current
contract with the same semver rules as a delivery's, so what is refused at publish time is
refused at submission. The owning sector's secretariat decides; when the secretariat's own agency
submitted, an operator does (nobody approves their own agency's contract). The files under
`contracts/` stay the seed ("contracts as code"): they count as active versions, and an approved
version above a file's replaces it.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field
from sqlalchemy import Engine, func, insert, select, update

from catalog.access.grants import Grant
from catalog.access.principal import Principal, Role
from catalog.db import contract_reviews
from catalog.products import definition_refusals
from contracts.diff import Change, diff_contracts, semver_key
from contracts.lint import LintIssue, lint
from contracts.loader import ContractError, parse_contract, refuse_aliases
from contracts.model import Contract
from sectors.registry import Registry

log = logging.getLogger(__name__)
CATALOG_PATH = "catalog:"  # the `Contract.path` of an approved version: catalog:<id>@<version>
# How long another process's approval may take to reach this one: the table is read at most
# this often unless this process wrote it.
RECHECK_SECONDS = 0.25


class ReviewState(StrEnum):
    """Where a submitted contract version stands."""

    draft = "draft"
    in_review = "in_review"
    active = "active"
    rejected = "rejected"
    deprecated = "deprecated"


class Submission(BaseModel):
    """One submitted version of a dataset's contract and its review."""

    dataset_id: str
    version: str
    state: ReviewState
    sector: str
    agency: str
    yaml: str = Field(repr=False)
    sha256: str
    follows: str | None = Field(None, description="The version it was diffed against.")
    changes: list[Change] = Field(default_factory=list)
    submitted_by: str
    submitted_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    updated_at: datetime


class Preview(BaseModel):
    """A contract as it would be submitted: lint problems, and the diff with what it follows."""

    model_config = {"arbitrary_types_allowed": True}

    contract: Contract | None = None
    issues: list[LintIssue] = Field(default_factory=list)
    follows: str | None = None
    changes: list[Change] = Field(default_factory=list)
    refusals: list[str] = Field(
        default_factory=list, description="Why it may not follow the current version."
    )
    product_refusals: list[str] = Field(
        default_factory=list, description="Why a joint product may not be defined as it is."
    )

    @property
    def errors(self) -> list[str]:
        """Every reason it cannot be submitted, as `file:field: message` lines."""
        found = [str(i) for i in self.issues if i.severity == "error"]
        found += [f"contract.yaml:customProperties.product: {r}" for r in self.product_refusals]
        return found + [f"contract.yaml:version: {r}" for r in self.refusals]


class ReviewError(ValueError):
    """A submission or decision that cannot be made; `str` says why and what to do."""

    status = 400


class ReviewRefused(ReviewError):
    """The caller may not do this."""

    status = 403


class UnknownSubmission(ReviewError):
    """No such dataset version, or not one the caller may see."""

    status = 404


class ReviewConflict(ReviewError):
    """The submission is not in a state that allows this."""

    status = 409


class LintFailed(ReviewError):
    """The contract does not lint, or may not follow the current version."""

    status = 422

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors))


def from_catalog(contract: Contract) -> bool:
    """Whether the contract is an approved version from the catalog (not a file)."""
    return str(contract.path).startswith(CATALOG_PATH)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _raw_custom(text: str) -> dict[str, Any]:
    """The id, sector and agency the text claims (and whether it is a product), before it is
    known to load."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    if not isinstance(raw, dict):
        return {}
    custom = {
        e.get("property"): e.get("value")
        for e in raw.get("customProperties") or []
        if isinstance(e, dict)
    }
    return {
        "id": raw.get("id"),
        "sector": custom.get("sector"),
        "agency": custom.get("agency"),
        "product": "product" in custom,
    }


def _submitter(agency: str) -> Principal:
    """The submitting agency's steward, as whom an approval re-checks the diff."""
    return Principal(subject="review", agency=agency, role=Role.steward, via="api_key")


class ContractReviews:
    """Submitted contract versions in the catalog database, and their review."""

    def __init__(
        self,
        engine: Engine,
        registry: Registry,
        current: Callable[[], dict[str, Contract]],
        grants: Callable[[str, str], list[Grant]],
    ) -> None:
        self.engine = engine
        self.registry = registry
        self.current = current
        self.grants = grants  # (agency, dataset id) -> working grants: what a product may read
        self._lock = threading.Lock()
        self._seen: tuple[Any, ...] | None = None
        self._checked = 0.0
        self._wrote = True
        self._parsed: dict[tuple[str, str], Contract] = {}

    # What the live contracts read (contracts.live.ContractSource).

    def changed(self) -> bool:
        """Whether the active versions may have changed since the last call."""
        with self._lock:
            now = time.monotonic()
            if not self._wrote and now - self._checked < RECHECK_SECONDS:
                return False
            self._wrote, self._checked = False, now
            query = select(func.count(), func.max(contract_reviews.c.updated_at))
            with self.engine.connect() as conn:
                seen = tuple(conn.execute(query).one())
            moved, self._seen = seen != self._seen, seen
            return moved

    def contracts(self) -> list[Contract]:
        """The active versions as contracts (parsed once per version and text)."""
        rows = self._where(contract_reviews.c.state == ReviewState.active)
        found = []
        for row in rows:
            key = (row.dataset_id, row.sha256)
            if key not in self._parsed:
                try:
                    self._parsed[key] = parse_contract(
                        row.yaml,
                        Path(f"{CATALOG_PATH}{row.dataset_id}@{row.version}"),
                        self.registry,
                    )
                except ContractError as exc:  # e.g. its agency left sectors.yaml
                    log.error("approved contract %s %s no longer loads: %s", *key, exc)
                    continue
            found.append(self._parsed[key])
        return found

    # Reading.

    def _where(self, condition: Any) -> list[Submission]:
        """The submissions that meet `condition`."""
        with self.engine.connect() as conn:
            found = conn.execute(select(contract_reviews).where(condition))
            return [Submission.model_validate(r._mapping) for r in found]

    def versions(self, dataset_id: str) -> list[Submission]:
        """Every submitted version of a dataset, oldest first."""
        found = self._where(contract_reviews.c.dataset_id == dataset_id)
        return sorted(found, key=lambda s: semver_key(s.version))

    def get(self, dataset_id: str, version: str) -> Submission:
        """One submitted version; UnknownSubmission if there is none."""
        for found in self.versions(dataset_id):
            if found.version == version:
                return found
        raise UnknownSubmission(f"no submitted contract {dataset_id} {version}")

    def waiting(self, principal: Principal) -> list[Submission]:
        """Versions in review that the principal decides, oldest first."""
        found = self._where(contract_reviews.c.state == ReviewState.in_review)
        mine = [s for s in found if self.decides(principal, s)]
        return sorted(mine, key=lambda s: s.submitted_at)

    def of_agency(self, agency: str) -> list[Submission]:
        """An agency's submissions, newest first."""
        found = self._where(contract_reviews.c.agency == agency)
        return sorted(found, key=lambda s: s.updated_at, reverse=True)

    def may_see(self, principal: Principal, submission: Submission) -> bool:
        """The submitting agency, the sector's secretariat and operators see a submission."""
        return (
            principal.role == Role.operator
            or principal.agency == submission.agency
            or self._secretariat(submission.sector) == principal.agency
        )

    def decides(self, principal: Principal, submission: Submission) -> bool:
        """Whether the principal approves or rejects this submission."""
        secretariat = self._secretariat(submission.sector)
        if secretariat == submission.agency:
            return principal.role == Role.operator  # the secretariat may not approve its own
        return principal.role == Role.secretariat and principal.agency == secretariat

    def _secretariat(self, sector_id: str) -> str | None:
        sector = self.registry.sector(sector_id)
        return sector.secretariat if sector else None

    # Submitting.

    def preview(self, principal: Principal, text: str) -> Preview:
        """Lint the text and diff it with the dataset's current contract, as a submission by
        the principal would meet them."""
        try:
            refuse_aliases(text, Path("contract.yaml"))
        except ContractError as exc:  # checked before anything walks the document
            return Preview(
                issues=[LintIssue(file="contract.yaml", path=w, message=m) for w, m in exc.problems]
            )
        claimed = _raw_custom(text)
        parts = [claimed.get(k) for k in ("sector", "agency", "id")]
        name = f"{parts[2] if isinstance(parts[2], str) else 'contract'}.yaml"
        with tempfile.TemporaryDirectory(prefix="gongyu-contract-") as tmp:
            root = Path(tmp)
            if all(isinstance(p, str) and p.isidentifier() for p in parts):
                path = root.joinpath(*map(str, parts[:2]), f"{parts[2]}.yaml")
            else:
                path = root / "contract.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            issues = [
                i.model_copy(update={"file": name}) for i in lint([path], self.registry, root)
            ]
        try:
            contract = parse_contract(text, Path(name), self.registry)
        except ContractError:
            return Preview(issues=issues)
        preview = Preview(contract=contract, issues=issues)
        if contract.product is not None:
            preview.product_refusals = definition_refusals(
                contract, self.current().values(), self.registry, self.grants
            )
        before = self.current().get(contract.id)
        if before is None:
            return preview
        product = contract.product is not None
        if before.agency != contract.agency or not self._edits(principal, before.agency, product):
            # Another agency's dataset: its contract is not shown, not even as a diff.
            preview.refusals.append(f"dataset id {contract.id!r} is taken; choose another id")
            return preview
        diff = diff_contracts(before, contract)
        preview.follows, preview.changes = before.version, diff.changes
        preview.refusals += diff.reasons
        if not diff.refused and semver_key(contract.version) <= semver_key(before.version):
            preview.refusals.append(
                f"version {contract.version} is already {before.version}'s place; "
                f"give the new version a number above {before.version}"
            )
        return preview

    @staticmethod
    def _edits(principal: Principal, agency: str, product: bool = False) -> bool:
        """Stewards of the agency, and operators, write its contracts; a secretariat also
        writes its own agency's joint products."""
        writers = (Role.steward, Role.secretariat) if product else (Role.steward,)
        return principal.role == Role.operator or (
            principal.role in writers and principal.agency == agency
        )

    def submit(self, principal: Principal, text: str, *, for_review: bool = True) -> Submission:
        """Record a contract version as a draft or in review; LintFailed lists what to fix."""
        if principal.role not in (Role.steward, Role.secretariat, Role.operator):
            raise ReviewRefused("only stewards, secretariats (products) and operators submit")
        preview = self.preview(principal, text)
        contract = preview.contract
        product = contract is not None and contract.product is not None
        if contract is not None and not self._edits(principal, contract.agency, product):
            raise ReviewRefused(
                f"only a steward of {contract.agency} (or an operator) submits its contracts; "
                "a secretariat submits its own agency's joint products"
            )
        if contract is None or preview.errors:
            raise LintFailed(preview.errors or ["contract.yaml:(file): the contract does not load"])
        now = _now()
        row = {
            "dataset_id": contract.id,
            "version": contract.version,
            "state": ReviewState.in_review if for_review else ReviewState.draft,
            "sector": contract.sector,
            "agency": contract.agency,
            "yaml": text,
            "sha256": _digest(text),
            "follows": preview.follows,
            "changes": [c.model_dump() for c in preview.changes],
            "submitted_by": principal.subject,
            "submitted_at": now,
            "updated_at": now,
        }
        existing = {s.version: s for s in self.versions(contract.id)}
        open_ = [s for s in existing.values() if s.state == ReviewState.in_review]
        if open_ and open_[0].version != contract.version:
            raise ReviewConflict(
                f"version {open_[0].version} of {contract.id} is in review; "
                "wait for its decision before submitting another"
            )
        same = existing.get(contract.version)
        with self.engine.begin() as conn:
            if same is None:
                conn.execute(insert(contract_reviews).values(**row))
            elif same.state == ReviewState.draft:
                conn.execute(
                    update(contract_reviews)
                    .where(self._at(same))
                    .values({k: v for k, v in row.items() if k != "submitted_at"})
                )
            else:
                raise ReviewConflict(
                    f"version {contract.version} of {contract.id} is already {same.state.value}; "
                    "submit a higher version"
                )
        self._touched()
        return self.get(contract.id, contract.version)

    def send_for_review(self, principal: Principal, dataset_id: str, version: str) -> Submission:
        """Move the agency's draft into review."""
        found = self._visible(principal, dataset_id, version)
        product = bool(_raw_custom(found.yaml)["product"])
        if not self._edits(principal, found.agency, product):
            raise ReviewRefused(f"only a steward of {found.agency} sends its drafts for review")
        return self.submit(principal, found.yaml)

    # Deciding.

    def approve(self, principal: Principal, dataset_id: str, version: str) -> Submission:
        """Make a version in review active (the previous active version is deprecated)."""
        found = self._deciding(principal, dataset_id, version)
        again = self.preview(_submitter(found.agency), found.yaml)
        if again.errors:
            raise ReviewConflict(
                "the dataset's contract moved since this version was submitted: "
                + "; ".join(again.errors)
            )
        now = _now()
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(contract_reviews)
                .where(self._at(found) & (contract_reviews.c.state == ReviewState.in_review))
                .values(
                    state=ReviewState.active,
                    decided_by=principal.subject,
                    decided_at=now,
                    updated_at=now,
                )
            ).rowcount
            if not moved:
                raise ReviewConflict(f"{dataset_id} {version} was decided meanwhile")
            conn.execute(
                update(contract_reviews)
                .where(
                    (contract_reviews.c.dataset_id == dataset_id)
                    & (contract_reviews.c.version != version)
                    & (contract_reviews.c.state == ReviewState.active)
                )
                .values(
                    state=ReviewState.deprecated,
                    reason=f"superseded by {version}",
                    updated_at=now,
                )
            )
        self._touched()
        return self.get(dataset_id, version)

    def reject(
        self, principal: Principal, dataset_id: str, version: str, reason: str
    ) -> Submission:
        """Reject a version in review, with the reason the steward will read."""
        if not reason.strip():
            raise ReviewError("a rejection needs a reason the steward can act on")
        found = self._deciding(principal, dataset_id, version)
        now = _now()
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(contract_reviews)
                .where(self._at(found) & (contract_reviews.c.state == ReviewState.in_review))
                .values(
                    state=ReviewState.rejected,
                    reason=reason.strip(),
                    decided_by=principal.subject,
                    decided_at=now,
                    updated_at=now,
                )
            ).rowcount
        if not moved:
            raise ReviewConflict(f"{dataset_id} {version} was decided meanwhile")
        self._touched()
        return self.get(dataset_id, version)

    def _visible(self, principal: Principal, dataset_id: str, version: str) -> Submission:
        found = self.get(dataset_id, version)
        if not self.may_see(principal, found):
            raise UnknownSubmission(f"no submitted contract {dataset_id} {version}")
        return found

    def _deciding(self, principal: Principal, dataset_id: str, version: str) -> Submission:
        found = self._visible(principal, dataset_id, version)
        if not self.decides(principal, found):
            who = (
                "an operator"
                if self._secretariat(found.sector) == found.agency
                else f"the secretariat of {found.sector}"
            )
            raise ReviewRefused(f"{who} decides this contract")
        if found.state != ReviewState.in_review:
            raise ReviewConflict(f"{dataset_id} {version} is {found.state.value}, not in review")
        return found

    @staticmethod
    def _at(found: Submission) -> Any:
        return (contract_reviews.c.dataset_id == found.dataset_id) & (
            contract_reviews.c.version == found.version
        )

    def _touched(self) -> None:
        with self._lock:
            self._wrote = True
