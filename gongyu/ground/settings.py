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


# Hosts a provider may be reached on without TLS (tests, a provider beside the catalog).
LOOPBACK = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


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
        "platform's tables (deliveries, contract versions, keys, grants, audit, sessions) and, "
        "on PostgreSQL, Dagster's run, event and schedule storage, e.g. "
        "`postgresql+psycopg2://gongyu@db:5432/gongyu`. Its schema is migrated (Alembic) on "
        "first connection.",
        json_schema_extra={"documented_default": "`sqlite:///<home>/catalog.db`"},
    )
    contracts_dir: Path = Field(
        shipped("contracts"),
        description="Root of the contract files (`<sector>/<agency>/<dataset>.yaml`).",
        json_schema_extra={"documented_default": "`contracts/`"},
    )
    sectors_file: Path = Field(
        shipped("sectors", "sectors.yaml"),
        description="The sectors, secretariats and member agencies.",
        json_schema_extra={"documented_default": "`sectors/sectors.yaml`"},
    )
    max_delivery_bytes: int = Field(
        2 * 1024**3, description="Largest delivery file accepted, in bytes."
    )
    delivery_lease_seconds: float = Field(
        300.0,
        gt=0,
        description="How long a worker's claim on a delivery lasts unless renewed; the worker "
        "renews it every third of that while it works, so a delivery whose worker died "
        "(`validating`, lease lapsed) is run again after at most this long.",
    )
    worker_poll_seconds: float = Field(
        1.0,
        gt=0,
        description="How often the delivery worker (`gongyu worker`, which `gongyu serve` "
        "starts) asks the catalog database for pending deliveries, in seconds: an upload waits "
        "at most this long before its run starts.",
    )
    dagster_ui: bool = Field(
        False,
        description="Serve Dagster's UI inside the API at `/dagster`, behind Gongyu's sign-in: "
        "operators see all of it, stewards a read-only view, other roles nothing. Dagster's "
        "webserver has no sign-in of its own, so it never listens on a port of its own; "
        "`gongyu demo` turns this on.",
    )
    sample_rows: int = Field(
        10, ge=1, le=10, description="Sample rows kept per failing rule in quarantine reports."
    )
    sql_timeout_seconds: float = Field(
        30.0, gt=0, description="Time limit of one SQL API query; it is cancelled past it."
    )
    product_timeout_seconds: float = Field(
        900.0, gt=0, description="Time limit of one joint product's query at each build."
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
        "from 5 % below it, the oldest running query is cancelled, so the peak stays under it "
        "(`kind: memory`, Trino `EXCEEDED_GLOBAL_MEMORY_LIMIT`). With "
        "`GONGYU_SQL_MEMORY_LIMIT` it also sets how many queries run at once. With several "
        "workers, give each its share.",
        json_schema_extra={"documented_default": "half the machine's memory"},
    )
    sql_max_running: int | None = Field(
        None,
        ge=1,
        description="Queries running at once in one API process (SQL API, downloads, Trino, "
        "catalog samples); each may fill its sandbox's memory limit. Default: as many sandbox "
        "memory limits as fit in the memory budget, less one kept for the server itself.",
        json_schema_extra={"documented_default": "budget ÷ memory limit − 1"},
    )
    sql_max_running_per_caller: int | None = Field(
        None,
        ge=1,
        description="Queries one caller (API key or token) may run at once, so that no caller "
        "holds every slot.",
        json_schema_extra={"documented_default": "half of `GONGYU_SQL_MAX_RUNNING`"},
    )
    sql_queue: int = Field(
        64,
        ge=0,
        description="Queries that may wait for a slot at once; more are turned away at once (429).",
    )
    sql_queue_seconds: float = Field(
        10.0,
        ge=0,
        description="How long a query waits for a slot; then `429` with `Retry-After` "
        "(`kind: busy`; Trino `QUERY_QUEUE_FULL`).",
    )
    sql_max_value_bytes: int = Field(
        65_536,
        ge=1024,
        description="How much one function call may grow a value beyond its input (`repeat`, "
        "`lpad`, `range` as a list, `printf` widths, concatenation…); DuckDB's memory limit "
        "does not count such values, and a vector of 2,048 rows holds 2,048 of them.",
    )
    trino_client_timeout_seconds: float = Field(
        15.0,
        gt=0,
        description="A Trino statement whose client asks for no page this long is abandoned "
        "(Trino's `query.client.timeout`, 5 minutes there).",
    )
    trino_max_statements: int = Field(
        64,
        ge=1,
        description="Live Trino statements in one API process; more fail with `QUERY_QUEUE_FULL`.",
    )
    trino_max_statements_per_caller: int = Field(
        8,
        ge=1,
        description="Live Trino statements of one caller; more fail with `QUERY_QUEUE_FULL`.",
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
        description="Largest request body of any route but the steward upload (which takes "
        "`GONGYU_MAX_DELIVERY_BYTES` plus 64 KiB of form), in bytes. Bodies are counted while "
        "they stream, with or without `Content-Length`, and refused with `413` at the limit: "
        "nothing past it is read, spooled or parsed (`api/middleware/bodylimit.py`).",
    )
    auth_failures_per_minute: int = Field(
        60,
        ge=0,
        description="Failed authentications (API key, token, sign-in form, CKAN key) one "
        "client address, or one API key id or token subject, may make in a sliding minute; its "
        "further failures get `429` with `Retry-After` until the window frees up (`0`: no "
        "limit). A valid credential is always accepted. Counted in memory per worker process "
        "(`api/ratelimit.py`): with N workers a key gets up to N times the limit.",
    )
    dcat_anonymous: bool = Field(
        False,
        description="Let a request with no credential at all (no key, token or session "
        "cookie) read the DCAT-AP catalogue, `GET /catalog.jsonld`: the metadata of the "
        "`public` datasets only, for portals that harvest without a key. Nothing else opens; "
        "these reads are logged, not written to the audit log (they have no principal), and a "
        "wrong credential is still refused.",
    )
    disclosure_public: bool = Field(
        True,
        description="Open the public disclosure of AI use (`/disclosure`, `/disclosure.json`, "
        "`/disclosure.csv`: counts per agency and sector, and the titles of projects marked "
        "`public`) to requests with no credential at all, audited as anonymous. Off: the three "
        "addresses need a sign-in or key like every other page.",
    )
    disclosure_projects: bool = Field(
        True,
        description="List the titles, status, period and budget band of projects marked "
        "`public` on the disclosure; off, it shows their counts by status only.",
    )
    trusted_proxies: list[IPvAnyNetwork] = Field(
        [],
        description='Addresses or networks (JSON list, e.g. `["10.0.0.0/8"]`) of the reverse '
        "proxies in front of the API: only from them are `X-Forwarded-For` (the client address "
        "the failure limit counts) and `X-Forwarded-Proto` (Secure cookies) believed. Empty: "
        "the connecting address is the client, whatever headers it sends. `gongyu serve` turns "
        "uvicorn's own proxy-header handling (which trusts 127.0.0.1) off; run uvicorn "
        "yourself with `--no-proxy-headers`.",
    )
    pseudonym_key_file: Path | None = Field(
        None,
        description="Key file of the pseudonym keyring (JSON, mode 0600), kept outside the "
        "lakehouse; created on first use. Mount it from a secret store in production.",
        json_schema_extra={"documented_default": "`<home>/keys/pseudonyms.json`"},
    )
    signin_lockout_failures: int = Field(
        5,
        ge=1,
        le=100,
        description="Failed sign-in factors in a row (password, one-time code, recovery code) "
        "after which a person is locked out of every factor for `GONGYU_SIGNIN_LOCKOUT_MINUTES`.",
    )
    signin_lockout_minutes: float = Field(
        15.0,
        gt=0,
        description="How long a locked-out person is refused, in minutes (an operator may "
        "unlock sooner by enabling them again).",
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
        "Bearer tokens are refused unless this or `GONGYU_TOKEN_KEY_FILE` is set.",
    )
    token_key_file: Path | None = Field(
        None,
        description="The token issuer's public key: a PEM file (key or certificate) or a JWKS "
        "JSON file (keys chosen by `kid`), read locally and re-read when it changes; never "
        "fetched from a URL.",
    )
    token_issuer: str | None = Field(
        None, description="Required `iss` of bearer tokens; must be set with a token key."
    )
    token_audience: str | None = Field(
        None, description="Required `aud` of bearer tokens; unset, tokens must carry no `aud`."
    )
    token_algorithms: list[str] | None = Field(
        None,
        description="Accepted signature algorithms (JSON list); HMAC ones only with the "
        "secret, others only with the key file; never `none`.",
        json_schema_extra={
            "documented_default": '`["HS256"]` with a secret, `["RS256"]` with a key file'
        },
    )
    oidc_issuer: HttpUrl | None = Field(
        None,
        description="Issuer of the identity provider people sign in with (OpenID Connect), e.g. "
        "`https://sso.example.go.kr/realms/gov`; its discovery document and keys are read from "
        "`<issuer>/.well-known/openid-configuration` only. HTTPS unless on loopback. Unset, "
        "there is no single sign-on.",
    )
    oidc_client_id: str | None = Field(
        None, description="Gongyu's client id at the identity provider; required with an issuer."
    )
    oidc_client_secret: SecretStr | None = Field(
        None,
        description="Gongyu's client secret at the identity provider (sent with HTTP Basic to "
        "its token endpoint); unset for a public client, which PKCE still protects.",
    )
    oidc_scopes: str = Field(
        "openid profile email",
        description="Scopes asked for at sign-in (space-separated; `openid` is always sent).",
    )
    oidc_agency_claim: str = Field(
        "agency",
        description="ID-token claim holding the person's agency id as sectors.yaml names it; "
        "a sign-in naming no known agency is refused.",
    )
    oidc_roles_claim: str = Field(
        "roles",
        description="ID-token claim holding the person's Gongyu roles (a list, or a space- or "
        "comma-separated string); unknown roles are ignored, none known is refused, the first "
        "known one is the role the session starts in.",
    )
    oidc_name: str = Field(
        "정부 통합인증 (SSO)",
        description="Label of the single sign-on button on the sign-in page, e.g. "
        "`행정전자서명(GPKI) / 정부 통합인증`.",
    )
    lineage_file: Path | None = Field(
        None,
        description="OpenLineage events of every delivery run, appended as JSON Lines.",
        json_schema_extra={"documented_default": "`<home>/lineage/events.jsonl`"},
    )
    lineage_url: HttpUrl | None = Field(
        None,
        description="An OpenLineage HTTP endpoint that also receives every event, e.g. "
        "Marquez's `http://HOST:5000/api/v1/lineage` or DataHub's "
        "`http://HOST:8080/openapi/openlineage/api/v1/lineage`; when it is down the run goes "
        "on and the file keeps the event.",
    )
    lineage_api_key: SecretStr | None = Field(
        None,
        description="API key sent to `GONGYU_LINEAGE_URL` as `Authorization: Bearer …`.",
    )
    lineage_timeout_seconds: float = Field(
        2.0,
        gt=0,
        description="How long one event may take to send to the endpoint (no retries: the "
        "file has it).",
    )
    s3_endpoint: str | None = Field(
        None,
        description="`host:port` of an S3-compatible store (MinIO). Set, the landing zone, "
        "gate results and Iceberg warehouse live in the bucket instead of the workspace.",
    )
    s3_bucket: str = Field(
        "gongyu",
        description="The bucket (it must exist): `landing/`, `results/` and `warehouse/` prefixes.",
    )
    s3_access_key: str | None = Field(
        None, description="Access key of the S3 store; required with an endpoint."
    )
    s3_secret_key: SecretStr | None = Field(
        None, description="Secret key of the S3 store; required with an endpoint."
    )
    s3_secure: bool = Field(
        True,
        description="Reach the S3 store over TLS (HTTPS); `false` only on a private network or "
        "loopback.",
    )
    s3_region: str = Field(
        "us-east-1",
        description="Region the S3 store signs requests for (MinIO's default).",
    )
    smtp_host: str | None = Field(
        None,
        description="Host of the SMTP server that mails notices (access requests, decisions, "
        "grants ending) to each agency's contact address. Unset, no e-mail is sent; the "
        "notices still show in the web pages.",
    )
    smtp_port: int = Field(25, ge=1, le=65535, description="Port of the SMTP server.")
    smtp_from: str = Field(
        "gongyu@localhost", description="Sender address (`From`) of the notice e-mails."
    )
    smtp_starttls: bool = Field(
        False,
        description="Switch the SMTP connection to TLS (STARTTLS) before logging in or sending.",
    )
    smtp_username: str | None = Field(
        None, description="User name to log in to the SMTP server with; unset, no login."
    )
    smtp_password: SecretStr | None = Field(
        None, description="Password to log in to the SMTP server with."
    )
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="The catalog's address as people reach it (behind any proxy), e.g. "
        "`https://gongyu.example.go.kr`; the links in notice e-mails start with it.",
    )

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
    def _oidc_complete(self) -> Settings:
        # A provider reached over plain HTTP could hand out its own keys: TLS off loopback only.
        if self.oidc_issuer is None:
            return self
        if not self.oidc_client_id:
            raise ValueError("GONGYU_OIDC_CLIENT_ID is required with GONGYU_OIDC_ISSUER")
        if self.oidc_issuer.scheme != "https" and self.oidc_issuer.host not in LOOPBACK:
            raise ValueError("GONGYU_OIDC_ISSUER must be an https:// URL (http only on loopback)")
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
