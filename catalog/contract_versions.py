"""Contract history: every version of a dataset's contract that deliveries ran under.

A delivery's contract is admitted before the gate reads a row: recorded if new, and refused
when it may not follow the last recorded version (semver, as `contracts.diff` decides; a type
the Iceberg table cannot promote in place; or a changed text under the same version).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from catalog.db import contract_versions
from catalog.lakehouse import iceberg_schema, unpromotable
from contracts.diff import Change, diff_contracts, semver_key
from contracts.loader import parse_contract
from contracts.model import Contract
from quality.results import CheckKind, CheckResult
from quality.wording import Param, Phrase
from sectors.registry import Registry

RULE = "contract:version"


class ContractVersion(BaseModel):
    """One recorded contract version, with the text deliveries ran under."""

    dataset_id: str
    version: str
    sha256: str = Field(description="SHA-256 of the contract file's text.")
    yaml: str = Field(repr=False)
    path: str = Field(description="The file it was read from.")
    table_version: int = Field(description="The major version: one Iceberg table per major.")
    iceberg_table: str
    recorded_at: datetime


class Admission(BaseModel):
    """The contract check of one delivery and the digest of the text it checked."""

    check: CheckResult
    sha256: str


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ContractVersions:
    """The contract history in the catalog database."""

    def __init__(self, engine: Engine, registry: Registry) -> None:
        self.engine = engine
        self.registry = registry

    def history(self, dataset_id: str) -> list[ContractVersion]:
        """Every recorded version of a dataset's contract, oldest first."""
        query = select(contract_versions).where(contract_versions.c.dataset_id == dataset_id)
        with self.engine.connect() as conn:
            found = [ContractVersion.model_validate(r._mapping) for r in conn.execute(query)]
        return sorted(found, key=lambda v: semver_key(v.version))

    def get(self, dataset_id: str, version: str) -> ContractVersion:
        """One recorded version; KeyError if it was never recorded."""
        query = select(contract_versions).where(
            (contract_versions.c.dataset_id == dataset_id)
            & (contract_versions.c.version == version)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise KeyError(f"no recorded contract {dataset_id} {version}")
        return ContractVersion.model_validate(row._mapping)

    def contract(self, recorded: ContractVersion) -> Contract:
        """A recorded version read back as a contract."""
        return parse_contract(recorded.yaml, Path(recorded.path), self.registry)

    def admit(self, contract: Contract) -> Admission:
        """Record the contract a delivery runs under, or refuse it (a failed, blocking check)."""
        # The text the contract was read from, not the file as it is now: only what the
        # delivery is checked under may be recorded.
        text = contract.text
        # A product's query beside its YAML is part of what its builds run under: editing it
        # without a new version is refused like any other edit of a recorded version.
        query = contract.product.sql if contract.product and contract.product.sql_file else ""
        sha = _digest(text + query)
        history = self.history(contract.id)
        if not history:
            return self._record(contract, text, sha)
        latest = history[-1]
        if (latest.version, latest.sha256) == (contract.version, sha):
            check = _checked("contract.as_recorded", version=contract.version)
            return Admission(check=check, sha256=sha)
        return Admission(check=self._follows(latest, contract, sha, text), sha256=sha)

    def _follows(
        self, latest: ContractVersion, contract: Contract, sha: str, text: str
    ) -> CheckResult:
        """Whether `contract` may follow the latest recorded version; records it if so."""
        previous = self.contract(latest)
        diff = diff_contracts(previous, contract)  # both semver: the loader saw to it
        why = [Phrase.of(f"contract.{code}", **values) for code, values in diff.refusals]
        listed = diff.breaking
        old_major, new_major = semver_key(latest.version)[0], semver_key(contract.version)[0]
        kept = (
            unpromotable(iceberg_schema(previous), iceberg_schema(contract))
            if new_major == old_major
            else []
        )
        if kept:
            index = {c.name: i for i, c in enumerate(contract.columns)}
            listed += [
                Change(
                    kind="breaking",
                    path=f"schema.0.properties.{index[name]}",
                    message=f"{name}: published as {old} in {latest.iceberg_table}, "
                    f"which Iceberg cannot change to {new} in place",
                )
                for name, old, new in kept
            ]
            why.append(
                Phrase.of(
                    "contract.unpromotable",
                    count=len(kept),
                    old=latest.version,
                    major=old_major + 1,
                )
            )
        if contract.version == latest.version and not diff.changes:
            why.append(
                Phrase.of(
                    "contract.text_changed",
                    version=latest.version,
                    recorded=latest.sha256[:12],
                    now=sha[:12],
                )
            )
        if not why:
            return self._record(contract, text, sha, len(diff.changes), latest.version).check
        needs_major = bool(kept) or (bool(diff.breaking) and new_major <= old_major)
        return _refused(
            latest.version,
            contract,
            why,
            listed,
            "contract.refused.major" if needs_major else "contract.refused.bump",
            major=old_major + 1,
        )

    def _record(
        self, contract: Contract, text: str, sha: str, changes: int = 0, follows: str | None = None
    ) -> Admission:
        row = {
            "dataset_id": contract.id,
            "version": contract.version,
            "sha256": sha,
            "yaml": text,
            "path": str(contract.path),
            "table_version": semver_key(contract.version)[0],
            "iceberg_table": contract.table,
            "recorded_at": datetime.now(UTC),
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(contract_versions).values(**row))
        except IntegrityError:
            # Another delivery recorded this version first: check against what it recorded.
            return self.admit(contract)
        key = "contract.recorded.first" if follows is None else "contract.recorded.compatible"
        return Admission(
            check=_checked(
                key, version=contract.version, table=contract.table, count=changes, old=follows
            ),
            sha256=sha,
        )


def _checked(key: str, **params: Param) -> CheckResult:
    return CheckResult(kind=CheckKind.contract, rule=RULE, passed=True, key=key, params=params)


def _refused(
    old: str, contract: Contract, why: list[Phrase], changes: list[Change], hint: str, major: int
) -> CheckResult:
    """A blocking failure whose message says why and lists each change with its field path."""
    listed = [Phrase.of("contract.change", path=c.path, message=c.message) for c in changes]
    return CheckResult(
        kind=CheckKind.contract,
        rule=RULE,
        passed=False,
        count=max(len(changes), 1),
        key="contract.refused",
        params={
            "old": old,
            "new": contract.version,
            "why": why,
            "changes": listed,
            "major": major,
            "dataset": contract.id,
        },
        hint_key=hint,
    )
