"""Where zone files live. The only module that knows it is a folder (S3 comes by settings later)."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

CHUNK = 1024 * 1024


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


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

    def exists(self, key: str) -> bool:
        """True when an object is stored under `key`."""
        return self.path(key).is_file()

    def put_immutable(self, key: str, source: Path) -> None:
        """Store a copy of `source` under `key`; an existing key is never overwritten.

        Written to a temporary name, flushed and renamed, so a crash leaves no partial object.
        """
        target = self.path(key)
        if target.exists():
            raise FileExistsError(f"{key} is already stored; raw deliveries are immutable")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.partial")
        with source.open("rb") as src, tmp.open("wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
            dst.flush()
            os.fsync(dst.fileno())
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
            if p.is_file() and not p.name.startswith(".")
        )
