"""Scan published Iceberg data for raw personal identifiers: the gate's last line of defence.

The scan reads the data files themselves (each once, however many snapshots share it), so it
also sees rows a later snapshot deleted: raw bytes in the lakehouse are what matter. A declared
direct identifier must hold pseudonyms only; every other column must pass the detectors, less
what its contract allows.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel, Field
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table

from catalog.lakehouse import SUMMARY_PREFIX, Auditor, Staged
from contracts.model import Classification, Contract
from quality.privacy.detectors import detect_identifiers
from quality.privacy.pseudonyms import PSEUDONYM_PATTERN
from quality.results import MAX_SAMPLES

RAW_DIRECT = "raw_direct_identifier"


class Finding(BaseModel):
    """Raw identifiers of one kind found in one column of one data file; samples masked."""

    table: str
    file: str
    column: str
    detector: str
    count: int
    samples: list[str] = Field(default_factory=list, max_length=MAX_SAMPLES)

    def describe(self) -> str:
        """One line for reports and audit problems."""
        shown = ", ".join(self.samples[:3])
        return (
            f"{self.table}.{self.column}: {self.count} raw value(s) that look like a "
            f"{self.detector.replace('_', ' ')} in {self.file.rsplit('/', 1)[-1]} ({shown})"
        )


def _mask(value: str) -> str:
    """Enough to recognise the shape, never the value: first two characters, then stars."""
    return value[:2] + "*" * max(len(value) - 2, 1)


def snapshot_files(table: Table, snapshot_id: int | None) -> set[str]:
    """Data files a snapshot reads (none for a table without one)."""
    if snapshot_id is None:
        return set()
    return {task.file.file_path for task in table.scan(snapshot_id=snapshot_id).plan_files()}


def _read(
    table: Table, path: str, columns: list[str] | None = None, *, dictionary: bool = True
) -> pa.Table:
    with table.io.new_input(path).open() as f:
        present = pq.read_schema(f).names
        f.seek(0)
        wanted = None if columns is None else [c for c in columns if c in present]
        # As dictionaries where the file has them: each distinct value is checked once.
        as_dictionary = wanted if dictionary else None
        return pq.read_table(f, columns=wanted, read_dictionary=as_dictionary)


def _not_pseudonyms(values: pa.ChunkedArray) -> pa.Array:
    """The values of a column that are not pseudonyms, each distinct one once if dictionary."""
    values = values.combine_chunks().drop_null()
    if pa.types.is_dictionary(values.type):
        values = values.dictionary.take(pc.unique(values.indices))
    values = values.cast(pa.string())
    return values.filter(pc.invert(pc.match_substring_regex(values, PSEUDONYM_PATTERN)))


def _raw_direct(data: pa.Table, contract: Contract, path: str) -> list[Finding]:
    direct = contract.classified(Classification.direct_identifier)
    names = [n for n in direct if n in data.column_names]
    # The regex lets go of the GIL: the columns are checked side by side.
    with ThreadPoolExecutor() as pool:
        raws = list(pool.map(_not_pseudonyms, [data[name] for name in names]))
    return [
        Finding(
            table=contract.table,
            file=path,
            column=name,
            detector=RAW_DIRECT,
            count=len(raw),
            samples=[_mask(v) for v in raw.slice(0, MAX_SAMPLES).to_pylist()],
        )
        for name, raw in zip(names, raws, strict=True)
        if len(raw)
    ]


def _detected(data: pa.Table, contract: Contract, path: str) -> list[Finding]:
    columns = {c.name: c for c in contract.columns}
    direct = set(contract.classified(Classification.direct_identifier))
    found = []
    for name in data.column_names:
        if name in direct:
            continue
        allowed = columns[name].allowed_identifiers if name in columns else ()
        for d in detect_identifiers(data, [name]):
            if d.detector in allowed:
                continue
            found.append(
                Finding(
                    table=contract.table,
                    file=path,
                    column=name,
                    detector=d.detector,
                    count=d.count,
                    samples=[str(s.values.get(name, "")) for s in d.samples],
                )
            )
    return found


def scan_file(table: Table, contract: Contract, path: str) -> list[Finding]:
    """Findings in one data file of `table`, judged by `contract`'s classifications."""
    data = _read(table, path)
    return _raw_direct(data, contract, path) + _detected(data, contract, path)


def scan_published(table: Table, contract: Contract) -> list[Finding]:
    """Findings in every data file of every snapshot of `table` (staging branches included)."""
    files: set[str] = set()
    for snapshot in table.snapshots():
        files |= snapshot_files(table, snapshot.snapshot_id)
    return [f for path in sorted(files) for f in scan_file(table, contract, path)]


def pseudonyms_only(table: Table, contract: Contract, files: Iterable[str]) -> list[Finding]:
    """Raw values in the direct-identifier columns of `files`: the check every publish runs."""
    direct = contract.classified(Classification.direct_identifier)
    if not direct:
        return []
    # Read value by value: pseudonyms rarely repeat, and a dictionary of them costs more to
    # build than the check saves.
    found = []
    for path in sorted(files):
        found += _raw_direct(_read(table, path, direct, dictionary=False), contract, path)
    return found


def raw_identifier_auditor(contract: Contract) -> Auditor:
    """An audit of each staged snapshot: the files it adds hold pseudonyms, never raw values."""

    def audit(table: Table, staged: Staged) -> list[str]:
        added = snapshot_files(table, staged.snapshot_id) - snapshot_files(
            table, staged.base_snapshot_id
        )
        return [f.describe() for f in pseudonyms_only(table, contract, added)]

    return audit


def scan_catalog(catalog: Catalog, contracts: dict[str, Contract]) -> list[Finding]:
    """Findings in every table of every namespace whose dataset has a contract.

    Tables are found through the catalog, not the contracts, so older table versions of a
    dataset are scanned too.
    """
    found: list[Finding] = []
    for namespace in catalog.list_namespaces():
        for identifier in catalog.list_tables(namespace):
            table = catalog.load_table(identifier)
            contract = contracts.get(table.properties.get(f"{SUMMARY_PREFIX}dataset", ""))
            if contract is not None:
                found += scan_published(table, contract)
    return found
