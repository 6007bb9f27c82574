"""Every Gongyu setting, declared once: name, default and help (environment prefix `GONGYU_`)."""

from __future__ import annotations

from functools import cache
from importlib.util import find_spec
from pathlib import Path

from pydantic import Field, HttpUrl, IPvAnyNetwork, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def shipped(package: str, name: str = "") -> Path:
    """A file or folder shipped inside one of Gongyu's packages, found without importing it
    (the ground floor names the default files; the floors above read them)."""
    spec = find_spec(package)
    assert spec is not None and spec.origin is not None, f"{package} is not installed"
    return Path(spec.origin).parent / name


class Settings(BaseSettings):
    """Gongyu's configuration; read from `GONGYU_*` environment variables or passed in."""

    # Errors never echo input values: some settings are secrets.
    model_config = SettingsConfigDict(
        env_prefix="GONGYU_", extra="ignore", hide_input_in_errors=True
    )

    home: Path = Field(
        Path(".gongyu"),
        description="The workspace folder: landing zones, warehouse, catalog and Dagster instance.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the catalog database: the Iceberg SQL catalog, the "
        "platform's tables and, on PostgreSQL, Dagster's instance storage; default "
        "`sqlite:///<home>/catalog.db`.",
    )
    contracts_dir: Path = Field(
        shipped("contracts"),
        description="Root of the contract files (`<sector>/<agency>/<dataset>.yaml`).",
    )
    sectors_file: Path = Field(
        shipped("sectors", "sectors.yaml"),
        description="The sectors, secretariats and member agencies.",
    )
    max_delivery_bytes: int = Field(
        2 * 1024**3, description="Largest delivery file accepted, in bytes."
    )
    delivery_lease_seconds: float = Field(
        300.0,
        gt=0,
        description="How long a worker's claim on a delivery lasts unless renewed (it renews "
        "every third of it); a delivery whose worker died is picked up again after this.",
    )
    sample_rows: int = Field(
        10, ge=1, le=10, description="Sample rows kept per failing rule in quarantine reports."
    )
    sql_timeout_seconds: float = Field(
        30.0, gt=0, description="Time limit of one SQL API query; it is cancelled past it."
    )
    sql_memory_limit: str = Field(
        "1GB", description="Memory limit of one caller's DuckDB sandbox (DuckDB syntax)."
    )
    sql_threads: int = Field(2, ge=1, description="Threads of one caller's DuckDB sandbox.")
    sql_max_rows: int = Field(
        100_000,
        ge=1,
        description="Row limit of answers built whole (JSON, Parquet); CSV and Arrow stream.",
    )
    sql_memory_budget: str | None = Field(
        None,
        description="Resident memory one API process may hold (DuckDB syntax, e.g. `8GB`); "
        "from 5 % below it, the oldest running query is cancelled. With `sql_memory_limit` it "
        "also sets how many queries run at once. Default: half the machine's memory (with "
        "several workers, give each its share).",
    )
    sql_max_running: int | None = Field(
        None,
        ge=1,
        description="Queries running at once in one API process; default: as many sandbox "
        "memory limits as fit in the memory budget, less one kept for the server itself.",
    )
    sql_max_running_per_caller: int | None = Field(
        None,
        ge=1,
        description="Queries one caller (API key or token) may run at once; default: half of "
        "`sql_max_running`, so that no caller holds every slot.",
    )
    sql_queue: int = Field(
        64, ge=0, description="Queries that may wait for a slot at once; more get 429 at once."
    )
    sql_queue_seconds: float = Field(
        10.0, ge=0, description="How long a query waits for a slot before it gets 429."
    )
    sql_max_value_bytes: int = Field(
        65_536,
        ge=1024,
        description="How much one function call may grow a value beyond its input (repeat, "
        "lpad, range as a list, concatenation, ...): DuckDB's memory limit does not count "
        "such values, and a vector of 2,048 rows holds 2,048 of them.",
    )
    trino_client_timeout_seconds: float = Field(
        15.0,
        gt=0,
        description="A Trino statement whose client asks for no page for this long is "
        "abandoned (Trino's `query.client.timeout`, 5 minutes there).",
    )
    trino_max_statements: int = Field(
        64, ge=1, description="Live Trino statements in one API process; more get QUERY_QUEUE_FULL."
    )
    trino_max_statements_per_caller: int = Field(
        8, ge=1, description="Live Trino statements of one caller; more get QUERY_QUEUE_FULL."
    )
    trino_buffer_bytes: int = Field(
        256 * 1024**2,
        ge=1024**2,
        description="Pages of Trino answers held in one API process, produced but not yet "
        "fetched, in bytes; a statement waits for room before it produces more.",
    )
    max_request_bytes: int = Field(
        1024**2,
        ge=1024,
        description="Largest request body of any route but an upload (SQL text, forms), in "
        "bytes; counted while it streams, and refused with 413 past it.",
    )
    auth_failures_per_minute: int = Field(
        60,
        ge=0,
        description="Failed authentications one client address, or one API key id or token "
        "subject, may make in a minute before its further failures get 429 (0: no limit); a "
        "valid credential is always accepted.",
    )
    trusted_proxies: list[IPvAnyNetwork] = Field(
        [],
        description="Addresses or networks of the reverse proxies in front of the API (JSON "
        'list, e.g. `["10.0.0.0/8"]`): only from them are `X-Forwarded-For` and '
        "`X-Forwarded-Proto` believed. Empty: the connecting address is the client.",
    )
    pseudonym_key_file: Path | None = Field(
        None,
        description="Key file of the pseudonym keyring (JSON, mode 0600), kept outside the "
        "lakehouse; default `<home>/keys/pseudonyms.json`, created on first use.",
    )
    session_hours: float = Field(
        8.0,
        gt=0,
        description="Lifetime of a web session after sign-in, in hours (a bearer token's own "
        "expiry ends it sooner).",
    )
    token_secret: SecretStr | None = Field(
        None,
        description="Shared secret (at least 32 characters) of HS256-signed bearer tokens. "
        "Bearer tokens are refused unless this or `token_key_file` is set.",
    )
    token_key_file: Path | None = Field(
        None,
        description="The token issuer's public key: a PEM file or a JWKS JSON file (keys chosen "
        "by `kid`), read locally and re-read when it changes; never fetched from a URL.",
    )
    token_issuer: str | None = Field(
        None, description="Required `iss` of bearer tokens; must be set with a token key."
    )
    token_audience: str | None = Field(
        None, description="Required `aud` of bearer tokens; unset, tokens must carry no `aud`."
    )
    token_algorithms: list[str] | None = Field(
        None,
        description='Accepted token signature algorithms (JSON list); default `["HS256"]` '
        'with a secret, `["RS256"]` with a key file.',
    )
    lineage_file: Path | None = Field(
        None,
        description="OpenLineage events of every delivery run, appended as JSON Lines; "
        "default `<home>/lineage/events.jsonl`.",
    )
    lineage_url: HttpUrl | None = Field(
        None,
        description="An OpenLineage HTTP endpoint that also receives every event (Marquez: "
        "`http://HOST:5000/api/v1/lineage`); when it is down, the run goes on and the file "
        "keeps the event.",
    )
    lineage_api_key: SecretStr | None = Field(
        None, description="API key sent to `lineage_url` as `Authorization: Bearer …`."
    )
    lineage_timeout_seconds: float = Field(
        2.0, gt=0, description="How long one event may take to send to `lineage_url`."
    )
    s3_endpoint: str | None = Field(
        None,
        description="`host:port` of an S3-compatible store (MinIO); set, the landing zone, "
        "gate results and Iceberg warehouse live in `s3_bucket` instead of the workspace.",
    )
    s3_bucket: str = Field("gongyu", description="The bucket (it must exist).")
    s3_access_key: str | None = Field(None, description="Access key of the S3 store.")
    s3_secret_key: SecretStr | None = Field(None, description="Secret key of the S3 store.")
    s3_secure: bool = Field(True, description="Reach the S3 store over TLS (HTTPS).")
    s3_region: str = Field("us-east-1", description="Region the S3 store signs requests for.")

    @model_validator(mode="after")
    def _s3_complete(self) -> Settings:
        # Each client (minio, pyarrow, DuckDB) wants `host:port` plus a TLS flag, not a URL.
        if self.s3_endpoint is None:
            return self
        if "/" in self.s3_endpoint:
            raise ValueError("GONGYU_S3_ENDPOINT is host:port (TLS by GONGYU_S3_SECURE), not a URL")
        if not (self.s3_access_key and self.s3_secret_key):
            raise ValueError("GONGYU_S3_ACCESS_KEY and GONGYU_S3_SECRET_KEY are required with S3")
        return self

    @model_validator(mode="after")
    def _one_token_key(self) -> Settings:
        # Refuse a half-made token setup at startup rather than at a caller's first request.
        if self.token_secret and self.token_key_file:
            raise ValueError("set GONGYU_TOKEN_SECRET or GONGYU_TOKEN_KEY_FILE, not both")
        if not (self.token_secret or self.token_key_file):
            return self
        if not self.token_issuer:
            raise ValueError("GONGYU_TOKEN_ISSUER is required when bearer tokens are enabled")
        if self.token_secret and len(self.token_secret.get_secret_value()) < 32:
            raise ValueError("GONGYU_TOKEN_SECRET must be at least 32 characters")
        # A public key may never verify an HMAC token, nor a secret an asymmetric one (the
        # classic algorithm-confusion attack), and `none` is never a signature.
        hmac_key = self.token_secret is not None
        for algorithm in self.token_algorithms or ():
            if algorithm.lower() == "none" or algorithm.startswith("HS") != hmac_key:
                kind = "GONGYU_TOKEN_SECRET" if hmac_key else "GONGYU_TOKEN_KEY_FILE"
                raise ValueError(f"token algorithm {algorithm!r} does not fit {kind}")
        return self


@cache
def get_settings() -> Settings:
    """The process's settings from the environment (cached; tests build their own)."""
    return Settings()
