"""Where zone files live. The only module that knows it is a folder (S3 comes by settings later)."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CHUNK = 8 * 1024 * 1024
INCOMING = ".incoming"


@dataclass(frozen=True)
class Incoming:
    """An object on its way to its key: its content hash is known before it is kept."""

    storage: FolderStorage
    tmp: Path
    digest: str

    def keep(self, key: str) -> None:
        """Store the object under `key` (atomic rename; never overwrites)."""
        self.storage._keep(self.tmp, key)


class FolderStorage:
    """Zones in a local folder. Keys are `/`-separated paths below `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        """Local path of a key (readers open files by path)."""
        resolved = (self.root / key).resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            raise ValueError(f"key {key!r} escapes the storage root")
        return resolved

    @contextmanager
    def incoming(self, source: Path) -> Iterator[Incoming]:
        """Copy `source` to a hidden temporary object, hashing it on the way (one read).

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
            incoming = Incoming(self, tmp, digest.hexdigest())
            yield incoming
        finally:
            tmp.unlink(missing_ok=True)

    @contextmanager
    def in_place(self, key: str) -> Iterator[Incoming]:
        """An object already stored (a file dropped into a zone), hashed where it lies.

        `keep(key)` moves it under its new key; not kept, it stays where it is.
        """
        path = self.path(key)
        digest = hashlib.sha256()
        with path.open("rb") as f:
            while block := f.read(CHUNK):
                digest.update(block)
        yield Incoming(self, path, digest.hexdigest())

    def hide(self, key: str, prefix: str) -> None:
        """Rename an object to a hidden `.<prefix>-<name>` beside it: kept, but no longer listed."""
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
        """Write (or replace) a small text object atomically."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.partial")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)

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
