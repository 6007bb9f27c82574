"""The contracts under a folder as they are now, so a running server follows every change.

`refresh()` compares each contract file's and folder's stat (modification time, size, inode)
with what was read last and re-reads only what changed; it costs one `stat` per file and
folder, so servers call it before every request. A file that stops parsing, or an id two files
claim, fails closed: the dataset leaves the catalog (nobody reads it) until the file is fixed,
and the error is logged — a tightening with a typo must never leave the old, looser contract
serving. A second source (the catalog's approved contracts) joins the files: for each dataset the
highest version wins, a file on a tie (contracts as code).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Protocol

from contracts.diff import semver_key
from contracts.loader import ContractError, load_contract, load_contracts
from contracts.model import Contract
from sectors.registry import Registry

log = logging.getLogger(__name__)

Stamp = tuple[int, int, int]


class ContractSource(Protocol):
    """Contracts kept elsewhere than files (the catalog's approved versions)."""

    def changed(self) -> bool:
        """Whether `contracts()` may answer differently than at the last call."""
        ...

    def contracts(self) -> list[Contract]:
        """Every active contract of the source."""
        ...


def _stamp(path: str) -> Stamp | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _contract_stamp(path: str) -> tuple[Stamp | None, Stamp | None]:
    """A contract file's stamp and its product SQL's (`<stem>.sql` beside it), so an edited
    query is read again as an edited contract is."""
    return _stamp(path), _stamp(path[: -len(".yaml")] + ".sql")


class LiveContracts:
    """Every contract under `root` by dataset id, re-read when its file changes."""

    def __init__(
        self, root: Path, registry: Registry, source: ContractSource | None = None
    ) -> None:
        self.root = root
        self.registry = registry
        self.source = source
        self._lock = threading.Lock()
        loaded = load_contracts(root, registry)  # the first read raises, as a start-up must
        self._parsed: dict[str, tuple[tuple[Stamp | None, Stamp | None], Contract | None]] = {
            str(c.path): (_contract_stamp(str(c.path)), c) for c in loaded
        }
        self._folders = self._scan_folders()
        self._files: dict[str, Contract] = {c.id: c for c in loaded}
        self.current = self._merged()
        self.version = 1

    def _scan_folders(self) -> dict[str, Stamp | None]:
        """`<root>`, `<root>/<sector>` and `<root>/<sector>/<agency>`: a file added, removed or
        renamed changes its folder's stamp."""
        folders = {str(self.root): _stamp(str(self.root))}
        for sector in _subfolders(str(self.root)):
            folders[sector] = _stamp(sector)
            for agency in _subfolders(sector):
                folders[agency] = _stamp(agency)
        return folders

    def refresh(self) -> int:
        """Re-read what changed since the last call; returns the version (it grows on change)."""
        with self._lock:
            moved = any(_stamp(f) != s for f, s in self._folders.items())
            if moved:
                self._folders = self._scan_folders()
                paths = [str(p) for p in sorted(self.root.glob("*/*/*.yaml"))]
            else:
                paths = list(self._parsed)
            changed = moved | self._source_changed()
            parsed: dict[str, tuple[tuple[Stamp | None, Stamp | None], Contract | None]] = {}
            for path in paths:
                stamp = _contract_stamp(path)
                old = self._parsed.get(path)
                if old is not None and old[0] == stamp:
                    parsed[path] = old
                    continue
                changed = True
                parsed[path] = (stamp, self._read(path))
            if not changed:
                return self.version
            self._parsed = parsed
            self._files = self._by_id([c for _, c in parsed.values() if c is not None])
            self.current = self._merged()
            self.version += 1
            return self.version

    def _source_changed(self) -> bool:
        return self.source is not None and self.source.changed()

    def _merged(self) -> dict[str, Contract]:
        """The files' contracts, replaced by a source's version above theirs."""
        merged = dict(self._files)
        if self.source is None:
            return merged
        for contract in self.source.contracts():
            held = merged.get(contract.id)
            if held is None or semver_key(contract.version) > semver_key(held.version):
                merged[contract.id] = contract
        return merged

    def _read(self, path: str) -> Contract | None:
        try:
            return load_contract(Path(path), self.registry)
        except ContractError as exc:
            log.error("contract %s no longer loads; its dataset is withdrawn: %s", path, exc)
        except OSError as exc:  # removed between the listing and the read
            log.error("contract %s cannot be read: %s", path, exc)
        return None

    @staticmethod
    def _by_id(contracts: list[Contract]) -> dict[str, Contract]:
        by_id: dict[str, Contract] = {}
        claimed: set[str] = set()
        for contract in contracts:
            if contract.id in by_id or contract.id in claimed:
                log.error("dataset id %r is claimed by two contract files; withdrawn", contract.id)
                by_id.pop(contract.id, None)
                claimed.add(contract.id)
                continue
            by_id[contract.id] = contract
        return by_id


def _subfolders(path: str) -> list[str]:
    try:
        return sorted(e.path for e in os.scandir(path) if e.is_dir())
    except OSError:
        return []
