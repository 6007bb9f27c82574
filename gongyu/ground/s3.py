"""Zones and the warehouse in an S3-compatible bucket (MinIO): reached only via
`gongyu.ground.stores`."""

from __future__ import annotations

import hashlib
import io
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

import duckdb
import duckdb_extension_httpfs
from minio import Minio
from minio.commonconfig import REPLACE, CopySource
from minio.error import S3Error

from gongyu.ground.settings import Settings
from gongyu.ground.storage import CHUNK, Incoming, Storage, Store

HASH_METADATA = "sha256"  # user metadata (`x-amz-meta-sha256`) of every kept raw object
MISSING = {"NoSuchKey", "NoSuchObject"}


def httpfs_extension() -> Path:
    """The httpfs extension file shipped by the `duckdb-extension-httpfs` wheel (never INSTALLed:
    the platform may be air-gapped)."""
    root = Path(duckdb_extension_httpfs.__file__).parent
    found = sorted(root.rglob(f"v{duckdb.__version__}/*.duckdb_extension"))
    if not found:
        raise RuntimeError(f"no httpfs extension for DuckDB {duckdb.__version__} in {root}")
    return found[0]


class S3Storage(Storage):
    """A zone under `<prefix>/` of a bucket, written with the minio client."""

    def __init__(self, client: Minio, bucket: str, prefix: str, scratch: Path) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/"
        self.scratch = scratch

    @property
    def uri(self) -> str:
        """`s3://<bucket>/<zone>`."""
        return f"s3://{self.bucket}/{self.prefix.rstrip('/')}"

    def _name(self, key: str) -> str:
        parts = PurePosixPath(key).parts
        if not parts or ".." in parts or key.startswith("/"):
            raise ValueError(f"key {key!r} escapes the storage root")
        return self.prefix + key

    def _exists(self, key: str) -> bool:
        try:
            self.client.stat_object(self.bucket, self._name(key))
        except S3Error as error:
            if error.code in MISSING:
                return False
            raise
        return True

    @contextmanager
    def incoming(self, source: Path) -> Iterator[Incoming]:
        """Hash `source` (one read); `keep(key)` uploads it under `key` with its hash."""
        digest = hashlib.sha256()
        with source.open("rb") as f:
            while block := f.read(CHUNK):
                digest.update(block)
        hexdigest = digest.hexdigest()

        def keep(key: str) -> None:
            self._refuse_taken(key)
            self.client.fput_object(
                self.bucket, self._name(key), str(source), metadata={HASH_METADATA: hexdigest}
            )

        yield Incoming(hexdigest, keep)

    @contextmanager
    def in_place(self, key: str) -> Iterator[Incoming]:
        """An object dropped into the zone, hashed as it streams; `keep(new)` moves it
        server-side (copy, then delete the dropped name)."""
        digest = hashlib.sha256()
        response = self.client.get_object(self.bucket, self._name(key))
        try:
            for block in response.stream(CHUNK):
                digest.update(block)
        finally:
            response.close()
            response.release_conn()
        hexdigest = digest.hexdigest()

        def keep(new: str) -> None:
            self._refuse_taken(new)
            self._move(key, new, {HASH_METADATA: hexdigest})

        yield Incoming(hexdigest, keep)

    def _refuse_taken(self, key: str) -> None:
        # S3 has no rename-if-absent; keys carry a timestamp and the hash, and the ledger
        # refuses the same bytes twice, so this check only guards against a bug overwriting.
        if self._exists(key):
            raise FileExistsError(f"{key} is already stored; raw deliveries are immutable")

    def _move(self, key: str, new: str, metadata: dict[str, str] | None = None) -> None:
        source = CopySource(self.bucket, self._name(key))
        directive = REPLACE if metadata else None
        self.client.copy_object(
            self.bucket, self._name(new), source, metadata=metadata, metadata_directive=directive
        )
        self.client.remove_object(self.bucket, self._name(key))

    def hide(self, key: str, prefix: str) -> None:
        """Move an object to a hidden `.<prefix>-<name>` beside it."""
        path = PurePosixPath(key)
        self._move(key, str(path.with_name(f".{prefix}-{path.name}")))

    def put_text(self, key: str, text: str) -> None:
        """Write (or replace) a small text object (a PUT is atomic on S3)."""
        data = text.encode("utf-8")
        self.client.put_object(
            self.bucket,
            self._name(key),
            io.BytesIO(data),
            len(data),
            content_type="text/plain; charset=utf-8",
        )

    def read_text(self, key: str) -> str | None:
        """A small text object, or None."""
        try:
            response = self.client.get_object(self.bucket, self._name(key))
        except S3Error as error:
            if error.code in MISSING:
                return None
            raise
        try:
            return response.read().decode("utf-8")
        finally:
            response.close()
            response.release_conn()

    def size(self, key: str) -> int:
        """Bytes of a stored object."""
        return int(self.client.stat_object(self.bucket, self._name(key)).size or 0)

    @contextmanager
    def local(self, key: str) -> Iterator[Path]:
        """A temporary local copy under the scratch folder, with the object's own name (the
        gate's readers look at it), removed afterwards."""
        self.scratch.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="s3-", dir=self.scratch))
        try:
            path = folder / PurePosixPath(key).name
            self.client.fget_object(self.bucket, self._name(key), str(path))
            yield path
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def list_files(self, prefix: str = "") -> list[str]:
        """Keys of every object under `prefix`, sorted; names with a hidden part excluded."""
        start = self._name(prefix) if prefix else self.prefix
        keys = []
        for obj in self.client.list_objects(self.bucket, prefix=start, recursive=True):
            name = obj.object_name or ""
            if any(part.startswith(".") for part in name.removeprefix(start).split("/")):
                continue
            keys.append(name.removeprefix(self.prefix))
        return sorted(keys)


class S3Store(Store):
    """Zones at `s3://<bucket>/<zone>/`, the warehouse at `s3://<bucket>/warehouse`."""

    def __init__(self, settings: Settings, scratch: Path) -> None:
        self.settings = settings
        self.scratch = scratch
        secret = settings.s3_secret_key.get_secret_value() if settings.s3_secret_key else None
        self.client = Minio(
            settings.s3_endpoint or "",
            access_key=settings.s3_access_key,
            secret_key=secret,
            secure=settings.s3_secure,
            region=settings.s3_region,
        )

    def zone(self, name: str) -> Storage:
        """The zone's prefix in the bucket."""
        return S3Storage(self.client, self.settings.s3_bucket, name, self.scratch)

    @property
    def warehouse(self) -> str:
        """`s3://<bucket>/warehouse`."""
        return f"s3://{self.settings.s3_bucket}/warehouse"

    @property
    def _secret(self) -> str:
        return self.settings.s3_secret_key.get_secret_value() if self.settings.s3_secret_key else ""

    @property
    def iceberg_properties(self) -> dict[str, str]:
        """pyiceberg's PyArrowFileIO on the endpoint, path-style (MinIO's default)."""
        scheme = "https" if self.settings.s3_secure else "http"
        return {
            "py-io-impl": "pyiceberg.io.pyarrow.PyArrowFileIO",
            "s3.endpoint": f"{scheme}://{self.settings.s3_endpoint}",
            "s3.access-key-id": self.settings.s3_access_key or "",
            "s3.secret-access-key": self._secret,
            "s3.region": self.settings.s3_region,
            "s3.force-virtual-addressing": "false",
        }
