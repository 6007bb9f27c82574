"""Where zone files and the warehouse live: the `Store`/`Storage` interface and its local folder.

Callers get a `Store` from `gongyu.ground.stores.open_store` and use only this interface; the
bucket behind the same interface is `gongyu.ground.s3`.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from gongyu.ground.workspace import Workspace

CHUNK = 8 * 1024 * 1024
INCOMING = ".incoming"


@dataclass(frozen=True)
class Incoming:
    """An object on its way to its key: its content hash is known before it is kept."""

    digest: str
    _keep: Callable[[str], None]

    def keep(self, key: str) -> None:
        """Store the object under `key`, immutably (FileExistsError if the key is taken)."""
        self._keep(key)


class Storage(ABC):
    """One zone (landing, results): objects under `/`-separated keys."""

    @property
    @abstractmethod
    def uri(self) -> str:
        """The zone's location as a URI (`file://…` or `s3://bucket/zone`), for lineage."""

    @abstractmethod
    def incoming(self, source: Path) -> AbstractContextManager[Incoming]:
        """Take a copy of `source`, hashing it; `keep(key)` stores it immutably."""

    @abstractmethod
    def in_place(self, key: str) -> AbstractContextManager[Incoming]:
        """An object already stored (dropped into a zone), hashed where it lies; `keep(key)`
        moves it under its new key; not kept, it stays where it is."""

    @abstractmethod
    def hide(self, key: str, prefix: str) -> None:
        """Rename an object to a hidden `.<prefix>-<name>` beside it: kept, but no longer listed."""

    @abstractmethod
    def put_text(self, key: str, text: str) -> None:
        """Write (or replace) a small text object."""

    @abstractmethod
    def read_text(self, key: str) -> str | None:
        """A small text object, or None when there is none."""

    @abstractmethod
    def size(self, key: str) -> int:
        """Bytes of a stored object."""

    @abstractmethod
    def local(self, key: str) -> AbstractContextManager[Path]:
        """The object as a local file for readers that open paths (a temporary copy if remote)."""

    @abstractmethod
    def list_files(self, prefix: str = "") -> list[str]:
        """Keys of every stored object under `prefix`, sorted; hidden names excluded."""


class FolderStorage(Storage):
    """A zone in a local folder. Keys are `/`-separated paths below `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def uri(self) -> str:
        """The folder's `file://` URI."""
        return self.root.resolve().as_uri()

    def path(self, key: str) -> Path:
        """Local path of a key (folder zones only)."""
        resolved = (self.root / key).resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            raise ValueError(f"key {key!r} escapes the storage root")
        return resolved

    @contextmanager
    def incoming(self, source: Path) -> Iterator[Incoming]:
        """Copy `source` to a hidden temporary file, hashing it on the way (one read).

        `keep(key)` stores it under `key`, immutably; an incoming copy not kept is removed.
        """
        tmp = self.root / INCOMING / uuid.uuid4().hex
        tmp.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        try:
            # Hashing and writing both release the GIL: hash each block in a worker thread
            # while the next is written, so a large delivery lands in max(hash, copy) time.
            with (
                source.open("rb") as src,
                tmp.open("wb") as dst,
                ThreadPoolExecutor(1, thread_name_prefix="sha256") as hasher,
            ):
                hashed = hasher.submit(lambda: None)
                while block := src.read(CHUNK):
                    hashed.result()
                    hashed = hasher.submit(digest.update, block)
                    dst.write(block)
                hashed.result()
                dst.flush()
                os.fsync(dst.fileno())
            yield Incoming(digest.hexdigest(), lambda key: self._keep(tmp, key))
        finally:
            tmp.unlink(missing_ok=True)

    @contextmanager
    def in_place(self, key: str) -> Iterator[Incoming]:
        """A file dropped into the zone, hashed where it lies; `keep(key)` renames it."""
        path = self.path(key)
        digest = hashlib.sha256()
        with path.open("rb") as f:
            while block := f.read(CHUNK):
                digest.update(block)
        yield Incoming(digest.hexdigest(), lambda new: self._keep(path, new))

    def hide(self, key: str, prefix: str) -> None:
        """Rename a file to a hidden `.<prefix>-<name>` beside it."""
        path = self.path(key)
        os.replace(path, path.with_name(f".{prefix}-{path.name}"))

    def _keep(self, tmp: Path, key: str) -> None:
        target = self.path(key)
        if target.exists():
            raise FileExistsError(f"{key} is already stored; raw deliveries are immutable")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
        target.chmod(0o444)

    def put_text(self, key: str, text: str) -> None:
        """Write (or replace) a small text file atomically."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # A name of its own per writer, synced before the rename: a reader, a concurrent writer
        # or a crash sees the old text or the new, never part of it.
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.partial")
        try:
            with tmp.open("w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def read_text(self, key: str) -> str | None:
        """A small text file, or None."""
        path = self.path(key)
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def size(self, key: str) -> int:
        """Bytes of a stored file."""
        return self.path(key).stat().st_size

    @contextmanager
    def local(self, key: str) -> Iterator[Path]:
        """The file itself: it is already local."""
        yield self.path(key)

    def list_files(self, prefix: str = "") -> list[str]:
        """Keys of every stored file under `prefix`, sorted; temporary files excluded."""
        base = self.path(prefix) if prefix else self.root
        if not base.is_dir():
            return []
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(base).parts)
        )


class Store(ABC):
    """Every place Gongyu keeps files: the zones and the Iceberg warehouse."""

    @abstractmethod
    def zone(self, name: str) -> Storage:
        """A zone (`landing`, `results`)."""

    @property
    @abstractmethod
    def warehouse(self) -> str:
        """The Iceberg warehouse location (a URI)."""

    @property
    @abstractmethod
    def iceberg_properties(self) -> dict[str, str]:
        """pyiceberg FileIO properties that reach the warehouse."""


class FolderStore(Store):
    """The embedded default: zones and warehouse in the workspace folder."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def zone(self, name: str) -> Storage:
        """The zone's folder in the workspace."""
        return FolderStorage(self.workspace.root / name)

    @property
    def warehouse(self) -> str:
        """`file://<home>/warehouse`."""
        self.workspace.warehouse.mkdir(parents=True, exist_ok=True)
        return self.workspace.warehouse.resolve().as_uri()

    @property
    def iceberg_properties(self) -> dict[str, str]:
        """None needed for local files."""
        return {}
