"""The catalog database: the platform's own tables beside the Iceberg SQL catalog."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)

from catalog.migrate import upgrade

metadata = MetaData()

deliveries = Table(
    "gongyu_deliveries",
    metadata,
    Column("delivery_id", String(64), primary_key=True),
    Column("dataset_id", String(128), nullable=False, index=True),
    Column("sector", String(64), nullable=False),
    Column("agency", String(64), nullable=False),
    Column("filename", String(512), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("landing_key", String(1024), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("reasons", JSON, nullable=False, default=list),
    Column("rows", Integer),
    Column("snapshot_id", String(32)),
    Column("contract_version", String(32)),
    Column("seconds", Float),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # A worker's claim: it renews `lease_until` while it works; a lapsed lease is taken over.
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    Column("lease_owner", String(128)),
    Column("lease_until", DateTime(timezone=True)),
    # A joint product's build: the snapshot of each table its query read, `<sector>.<table>`.
    Column("inputs", JSON),
    UniqueConstraint("dataset_id", "content_hash", name="uq_delivery_content"),
)

contract_versions = Table(
    "gongyu_contract_versions",
    metadata,
    Column("dataset_id", String(128), primary_key=True),
    Column("version", String(64), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("yaml", Text, nullable=False),
    Column("path", String(1024), nullable=False),
    Column("table_version", Integer, nullable=False),
    Column("iceberg_table", String(256), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

# Contracts submitted through the product (catalog/contract_reviews.py): each version with its
# review state, the diff against the version it follows, and who decided.
contract_reviews = Table(
    "gongyu_contract_reviews",
    metadata,
    Column("dataset_id", String(128), primary_key=True),
    Column("version", String(64), primary_key=True),
    Column("state", String(16), nullable=False, index=True),
    Column("sector", String(64), nullable=False, index=True),
    Column("agency", String(64), nullable=False, index=True),
    Column("yaml", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("follows", String(64)),
    Column("changes", JSON, nullable=False),
    Column("submitted_by", String(256), nullable=False),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("decided_by", String(256)),
    Column("decided_at", DateTime(timezone=True)),
    Column("reason", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False, index=True),
)

# The AI ledger (`catalog/ledger/`): agencies' AI projects with their history, shared models.
projects = Table(
    "gongyu_projects",
    metadata,
    Column("project_id", String(128), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("lead", String(64), nullable=False, index=True),
    Column("status", String(16), nullable=False, index=True),
    Column("spec", JSON, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, index=True),
)

project_history = Table(
    "gongyu_project_history",
    metadata,
    Column("project_id", String(128), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("spec", JSON, nullable=False),
    Column("changes", JSON, nullable=False),
    Column("changed_by", String(256), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)

models = Table(
    "gongyu_models",
    metadata,
    Column("model_id", String(128), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("agency", String(64), nullable=False, index=True),
    Column("sector", String(64), nullable=False),
    Column("access", String(16), nullable=False),
    Column("card", JSON, nullable=False),
    Column("artifact_key", String(1024), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("trained_on", JSON, nullable=False),
    Column("project_id", String(128), index=True),
    Column("created_by", String(256), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

api_keys = Table(
    "gongyu_api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("agency", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("name", String(256), nullable=False),
    Column("secret_sha256", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    # The person or service account the key belongs to (catalog/people), what it may do
    # (comma-separated scopes; null: everything its role may) and when it stops working.
    Column("person_id", String(64), index=True),
    Column("scopes", String(64)),
    Column("expires_at", DateTime(timezone=True)),
)

# People and service accounts (catalog/people): who acts, for which agency, in which roles; the
# password only as its argon2 hash; the TOTP secret and the last time step used (no code twice).
people = Table(
    "gongyu_people",
    metadata,
    Column("person_id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("agency", String(64), nullable=False, index=True),
    Column("name", String(256), nullable=False),
    Column("email", String(320)),
    Column("login", String(128), unique=True),
    Column("roles", String(128), nullable=False),
    Column("password_hash", String(256)),
    Column("totp_secret", String(64)),
    Column("totp_enrolled_at", DateTime(timezone=True)),
    Column("totp_last_step", BigInteger),
    Column("failures", Integer, nullable=False, default=0),
    Column("locked_until", DateTime(timezone=True)),
    Column("oidc_issuer", String(512)),
    Column("oidc_subject", String(256)),
    Column("disabled_at", DateTime(timezone=True)),
    Column("created_by", String(256), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("oidc_issuer", "oidc_subject", name="uq_gongyu_people_oidc"),
)

# One-time recovery codes of a person's second factor, kept only as SHA-256.
recovery_codes = Table(
    "gongyu_recovery_codes",
    metadata,
    Column("code_sha256", String(64), primary_key=True),
    Column("person_id", String(64), nullable=False, index=True),
    Column("used_at", DateTime(timezone=True)),
)

# Sign-in steps in flight (catalog/access/challenges.py): a password passed and waiting for the
# second factor, an identity provider's state seen; only the SHA-256 of their ids is kept.
signin_challenges = Table(
    "gongyu_signin_challenges",
    metadata,
    Column("challenge_sha256", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("person_id", String(64)),
    Column("next_path", Text),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
    Column("used_at", DateTime(timezone=True)),
)

grants = Table(
    "gongyu_grants",
    metadata,
    Column("grant_id", String(32), primary_key=True),
    Column("dataset_id", String(128), nullable=False, index=True),
    Column("agency", String(64), nullable=False, index=True),
    Column("purpose", Text, nullable=False),
    Column("expires", Date, nullable=False),
    Column("columns", JSON),
    Column("row_filter", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    # A grant held by an AI project (its member agencies each get one; it ends with the project).
    Column("project_id", String(128), index=True),
)

# Requests to use another agency's dataset (catalog/access/requests.py): what was asked, the
# decisions taken on it (`decisions`, a list), and the grant its approval made.
access_requests = Table(
    "gongyu_access_requests",
    metadata,
    Column("request_id", String(32), primary_key=True),
    Column("dataset_id", String(128), nullable=False, index=True),
    Column("owner_agency", String(64), nullable=False, index=True),
    Column("sector", String(64), nullable=False, index=True),
    Column("requester_agency", String(64), nullable=False, index=True),
    Column("requester_subject", String(256), nullable=False),
    Column("requester_role", String(16), nullable=False),
    Column("purpose", Text, nullable=False),
    Column("legal_basis", String(32), nullable=False),
    Column("legal_basis_detail", Text),
    Column("columns", JSON),
    Column("row_filter", Text),
    Column("until", Date, nullable=False),
    Column("policy", String(32), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("decisions", JSON, nullable=False),
    Column("reason", Text),
    Column("grant_id", String(32)),
    Column("renewal_of", String(32)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # A request made for an AI project: its grants serve the project's agencies, end with it.
    Column("project_id", String(128), index=True),
)

# Notices for an agency (or one role of it) about requests and grants; the text is rendered
# when shown or mailed, from the kind and the ids, so no data value is ever stored in one.
notices = Table(
    "gongyu_notices",
    metadata,
    Column("notice_id", String(32), primary_key=True),
    Column("agency", String(64), nullable=False, index=True),
    Column("role", String(16)),
    Column("kind", String(32), nullable=False),
    Column("request_id", String(32), index=True),
    Column("grant_id", String(32), index=True),
    Column("dataset_id", String(128), nullable=False),
    Column("other_agency", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("mailed_at", DateTime(timezone=True)),
)

# One row per API request (two for a request that returns data: opened, then completed),
# hash-chained in `seq` order (catalog/access/audit.py). The primary key on `seq` is what keeps the
# chain single when several workers append at once. Every value is stored as it is hashed
# (`at` as its ISO text), so a check never depends on a driver's types.
audit_log = Table(
    "gongyu_audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(32), nullable=False, index=True),
    Column("subject", String(256), nullable=False),
    Column("via", String(16), nullable=False),
    Column("agency", String(64), nullable=False, index=True),
    Column("role", String(16), nullable=False),
    Column("purpose", Text),
    Column("kind", String(16), nullable=False),
    Column("statement", Text, nullable=False),
    Column("datasets", Text, nullable=False),
    Column("rows", BigInteger),
    Column("bytes_out", BigInteger),
    Column("duration_ms", Float, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("error", Text),
    Column("hash", String(64), nullable=False),
    # On a completing record: the `seq` of the opening record of the same request.
    Column("completes", Integer, index=True),
    # The person or service account acting (chained when set).
    Column("person", String(256), index=True),
    # The channel when not the API's own: `mcp` for an AI assistant's tool (chained when set).
    Column("client", String(16)),
)

# Web sessions (catalog/access/sessions.py): the cookie's random id is stored only as its SHA-256.
sessions = Table(
    "gongyu_sessions",
    metadata,
    Column("session_sha256", String(64), primary_key=True),
    Column("subject", String(256), nullable=False),
    Column("via", String(16), nullable=False),
    Column("agency", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
    # The person signed in, every role they hold (the session acts in `role`, one of them), and
    # whether they must still enrol a second factor before anything else.
    Column("person_id", String(64)),
    Column("roles", String(128)),
    Column("mfa_pending", Boolean, nullable=False, default=False),
)


def connect(url: str) -> Engine:
    """An engine on the catalog database, its platform tables migrated to the newest revision."""
    # pre_ping: a pooled PostgreSQL connection may have been closed by the server meanwhile.
    engine = create_engine(url, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":
        # WAL lets readers (the API, Dagster's UI) work while a publish writes; the busy timeout
        # makes concurrent writers wait instead of failing at once.
        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            # In WAL mode NORMAL never corrupts the database and loses nothing on a crash of
            # the process; only a power cut may take the last commits (FULL fsyncs every
            # commit: 2 ms per audit record). The scale-out profile is PostgreSQL.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    upgrade(engine)
    return engine
