"""The Trino client protocol end to end: the official `trino` client (DB-API and SQLAlchemy,
as Superset uses it) over TLS on loopback, and raw HTTP for the protocol's JSON and ownership.

The world: the SQL API's four knpa tables (one per access level), plus KoROAD's real fatal
accidents (`sector`, welfare) and KOTSA's real inspection centres (`public`, transport).
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import trino
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from fastapi import FastAPI
from trino.auth import JWTAuthentication
from trino.exceptions import TrinoQueryError, TrinoUserError
from trino.transaction import IsolationLevel

from api.app import create_app
from catalog.access.audit import AuditRecord
from catalog.access.principal import Role
from gongyu.delivery.way import process_delivery
from gongyu.platform import Platform
from tests.api.world import OTHER_SECTOR, OWNER, ROWS, build_platform, free_port
from tests.conftest import data_file
from tests.published import read_arrow

KOROAD = "welfare_safety.koroad_fatal_traffic_accidents"
KOTSA_TITLE = "한국교통안전공단 자동차검사소"  # the contract's name: the table's comment
KOTSA = "transport_logistics.kotsa_car_inspection_centers"
PUBLISHED = {
    "koroad_fatal_traffic_accidents": "welfare_safety/koroad_fatal_traffic_accidents_2020.csv",
    "kotsa_car_inspection_centers": "transport_logistics/kotsa_car_inspection_centers_20210927.csv",
}


@dataclass
class Server:
    """A served app: where it listens and the CA file clients trust."""

    port: int
    ca: Path

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"


@dataclass
class Served:
    """The platform, its server, and an API key per caller."""

    platform: Platform
    server: Server
    keys: dict[str, str]

    def connect(self, caller: str = OWNER, **options: Any) -> trino.dbapi.Connection:
        """A DB-API connection as that caller, catalog `gongyu`, schema welfare_safety."""
        options = {"catalog": "gongyu", "schema": "welfare_safety", **options}
        return trino.dbapi.connect(
            host="127.0.0.1",
            port=self.server.port,
            user=caller,
            http_scheme="https",
            auth=JWTAuthentication(self.keys[caller]),
            verify=str(self.server.ca),
            **options,
        )

    def query(self, sql: str, caller: str = OWNER, **options: Any) -> list[list[Any]]:
        """All rows of one statement."""
        with self.connect(caller, **options) as conn:
            cursor = conn.cursor()
            cursor.execute(sql)
            return cursor.fetchall()

    def http(self, caller: str | None = OWNER) -> httpx.Client:
        """A raw HTTP client (TLS verified) with that caller's key, or none."""
        headers = {"Authorization": f"Bearer {self.keys[caller]}"} if caller else {}
        headers |= {"X-Trino-Catalog": "gongyu", "X-Trino-Schema": "welfare_safety"}
        return httpx.Client(headers=headers, verify=str(self.server.ca), timeout=60)


def certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (it is its own CA) and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gongyu test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@contextmanager
def serve_tls(app: FastAPI, directory: Path) -> Iterator[Server]:
    """Run `app` under uvicorn with TLS on a loopback port, in a thread."""
    cert, key = certificate(directory)
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
        # A client may leave an idle TLS connection open; shutdown does not wait for it.
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield Server(port=port, ca=cert)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("trino")
    platform = build_platform(root)
    for dataset, relative in PUBLISHED.items():
        delivery, _ = platform.deliver(dataset, data_file(relative))
        assert process_delivery(platform, delivery.delivery_id).published
    keys = {
        agency: platform.keys.create(agency, Role.analyst, f"{agency} trino")[1]
        for agency in (OWNER, OTHER_SECTOR)
    }
    keys["second"] = platform.keys.create(OWNER, Role.analyst, "another knpa analyst")[1]
    with pytest.MonkeyPatch.context() as env, serve_tls(create_app(platform), root) as server:
        # requests lets these variables override a session's `verify`, i.e. the test's CA.
        env.delenv("REQUESTS_CA_BUNDLE", raising=False)
        env.delenv("CURL_CA_BUNDLE", raising=False)
        yield Served(platform=platform, server=server, keys=keys)


def by_value(rows: list[list[Any]]) -> list[list[Any]]:
    return sorted(rows, key=repr)


def test_query_returns_rows_with_python_types(served: Served) -> None:
    columns = ["year", "occurred_at", "deaths", "longitude", "sido"]
    with served.connect() as conn:
        cursor = conn.cursor()
        cursor.execute(f"SELECT {', '.join(columns)} FROM {KOROAD}")
        rows = cursor.fetchall()
        described = [(d[0], d[1]) for d in cursor.description]
    assert described == [
        ("year", "bigint"),
        ("occurred_at", "timestamp(6)"),
        ("deaths", "bigint"),
        ("longitude", "double"),
        ("sido", "varchar"),
    ]
    table = read_arrow(served.platform.lakehouse.catalog, KOROAD).select(columns)
    expected = [list(r.values()) for r in table.to_pylist()]
    assert len(rows) == 2983 and by_value(rows) == by_value(expected)
    assert isinstance(rows[0][1], datetime) and isinstance(rows[0][3], float)

    with served.connect(OTHER_SECTOR) as conn:
        cursor = conn.cursor()
        cursor.execute(f"SELECT max(reference_date), count(*) AS n FROM {KOTSA}")
        [[reference_date, count]] = cursor.fetchall()
        assert [d[0] for d in cursor.description] == ["_col0", "n"]  # Trino's names
    assert isinstance(reference_date, date) and count == 59


def test_values_of_every_type_decode(served: Served) -> None:
    sql = (
        "SELECT CAST(1.5 AS decimal(10,2)), true, DATE '2024-01-02', "
        "TIMESTAMP '2024-01-01 05:00:00.123456', TIMESTAMP '2024-01-01 05:00:00 UTC', "
        "CAST(NULL AS varchar), ARRAY[1, 2], CAST(ROW(1, 'a') AS ROW(x integer, y varchar)), "
        "CAST('NaN' AS double), from_hex('0102'), MAP(ARRAY['k'], ARRAY[1]), '한국어'"
    )
    with served.connect() as conn:
        cursor = conn.cursor()
        cursor.execute(sql)
        [row] = cursor.fetchall()
        types = [d[1] for d in cursor.description]
    assert types == [
        "decimal(10,2)",
        "boolean",
        "date",
        "timestamp(6)",
        "timestamp(0) with time zone",  # a literal's precision is its digits, as in Trino
        "varchar",
        "array(integer)",
        "row(x integer, y varchar)",
        "double",
        "varbinary",
        "map(varchar, integer)",
        "varchar",
    ]
    decimal, flag, day, moment, zoned, nothing, array, record, nan, raw, mapping, text = row
    assert (decimal, flag, day) == (Decimal("1.50"), True, date(2024, 1, 2))
    assert moment == datetime(2024, 1, 1, 5, 0, 0, 123456)
    assert zoned == datetime(2024, 1, 1, 5, tzinfo=UTC)
    assert (nothing, array, tuple(record), record.x) == (None, [1, 2], (1, "a"), 1)
    assert nan != nan and raw == b"\x01\x02" and mapping == {"k": 1} and text == "한국어"


def test_show_and_describe_list_only_what_the_caller_reads(served: Served) -> None:
    assert served.query("SHOW CATALOGS") == [["gongyu"]]
    assert served.query("SHOW SCHEMAS FROM gongyu") == [
        ["information_schema"],
        ["transport_logistics"],
        ["welfare_safety"],
    ]
    assert served.query("SHOW TABLES") == [
        ["cases_private"],
        ["cases_public"],
        ["cases_restricted"],
        ["cases_sector"],
        ["koroad_fatal_traffic_accidents"],
    ]
    # Another sector's analyst: only the public tables exist.
    assert served.query("SHOW TABLES FROM welfare_safety", OTHER_SECTOR) == [["cases_public"]]
    assert served.query("SHOW TABLES LIKE 'cases\\_p%' ESCAPE '\\'") == [
        ["cases_private"],
        ["cases_public"],
    ]
    described = served.query(f"DESCRIBE {KOROAD}")
    assert described[:2] == [
        ["year", "bigint", "", "사고 발생 연도"],
        ["occurred_at", "timestamp(6)", "", "사고 발생 일시 (시 단위까지, 분 없음)"],
    ]
    assert served.query("SHOW COLUMNS FROM cases_public") == [
        ["person", "varchar", "", None],
        ["sido", "varchar", "", None],
        ["n", "bigint", "", None],
        ["amount", "bigint", "", None],
    ]
    [[ddl]] = served.query("SHOW CREATE TABLE cases_public")
    assert ddl.startswith("CREATE TABLE gongyu.welfare_safety.cases_public (\n   person varchar")


def test_information_schema_and_jdbc_metadata(served: Served) -> None:
    tables = "SELECT table_schema, table_name FROM information_schema.tables "
    tables += "WHERE table_schema <> 'information_schema' ORDER BY 1, 2"
    assert served.query(tables, OTHER_SECTOR) == [
        ["transport_logistics", "kotsa_car_inspection_centers"],
        ["welfare_safety", "cases_public"],
    ]
    columns = served.query(
        "SELECT column_name, data_type, ordinal_position FROM gongyu.information_schema.columns "
        "WHERE table_schema = 'transport_logistics' AND column_name = 'reference_date'",
        OTHER_SECTOR,
    )
    assert columns == [["reference_date", "date", 22]]
    # What JDBC's DatabaseMetaData.getTables and getColumns send.
    jdbc_tables = served.query(
        "SELECT TABLE_CAT, TABLE_SCHEM, TABLE_NAME, TABLE_TYPE, REMARKS FROM system.jdbc.tables "
        "WHERE TABLE_CAT = 'gongyu' AND TABLE_SCHEM LIKE 'transport\\_logistics' ESCAPE '\\' "
        "AND TABLE_TYPE IN ('TABLE', 'VIEW') "
        "ORDER BY TABLE_TYPE, TABLE_CAT, TABLE_SCHEM, TABLE_NAME",
        OTHER_SECTOR,
    )
    assert jdbc_tables == [
        ["gongyu", "transport_logistics", "kotsa_car_inspection_centers", "TABLE", KOTSA_TITLE]
    ]
    jdbc_columns = served.query(
        "SELECT COLUMN_NAME, DATA_TYPE, TYPE_NAME, DECIMAL_DIGITS FROM system.jdbc.columns "
        f"WHERE TABLE_SCHEM = 'welfare_safety' AND TABLE_NAME = '{KOROAD.split('.')[1]}' "
        "AND COLUMN_NAME IN ('year', 'occurred_at', 'longitude') ORDER BY ORDINAL_POSITION"
    )
    assert jdbc_columns == [
        ["year", -5, "bigint", None],
        ["occurred_at", 93, "timestamp(6)", 6],
        ["longitude", 8, "double", None],
    ]
    assert served.query("SELECT TABLE_CAT FROM system.jdbc.catalogs") == [["gongyu"]]
    assert served.query("SELECT * FROM system.jdbc.procedures LIMIT 0") == []
    assert served.query("SELECT version(), current_catalog, current_schema") == [
        ["476", "gongyu", "welfare_safety"]
    ]


def test_sqlalchemy_inspection_as_superset_does(served: Served) -> None:
    engine = sa.create_engine(
        f"trino://{OTHER_SECTOR}@127.0.0.1:{served.server.port}/gongyu",
        connect_args={
            "auth": JWTAuthentication(served.keys[OTHER_SECTOR]),
            "http_scheme": "https",
            "verify": str(served.server.ca),
        },
    )
    try:
        inspector = sa.inspect(engine)
        assert "welfare_safety" in inspector.get_schema_names()
        assert inspector.get_table_names("welfare_safety") == ["cases_public"]
        assert inspector.has_table("cases_public", schema="welfare_safety")
        assert not inspector.has_table("cases_private", schema="welfare_safety")
        columns = inspector.get_columns("kotsa_car_inspection_centers", "transport_logistics")
        assert {c["name"]: str(c["type"]) for c in columns}["reference_date"] == "DATE"
        with engine.connect() as conn:
            query = sa.text("SELECT count(*) FROM welfare_safety.cases_public WHERE n > :n")
            assert conn.execute(query, {"n": 30}).scalar() == 10
    finally:
        engine.dispose()  # pooled connections keep HTTP connections (and the server) open


@pytest.mark.parametrize("legacy", [False, True])
def test_parameters_bind_through_prepared_statements(served: Served, legacy: bool) -> None:
    with served.connect(legacy_prepared_statements=legacy) as conn:
        cursor = conn.cursor()
        cursor.execute(
            "SELECT n FROM cases_public WHERE sido = ? AND n > ? ORDER BY n", ["부산", 30]
        )
        assert cursor.fetchall() == [[34], [38]]


def test_session_statements(served: Served) -> None:
    with served.connect(OTHER_SECTOR) as conn:
        cursor = conn.cursor()
        cursor.execute("USE transport_logistics")
        cursor.fetchall()
        cursor.execute("SELECT count(*) FROM kotsa_car_inspection_centers")
        assert cursor.fetchall() == [[59]]
        cursor.execute("SET SESSION query_max_run_time = '1m'")
        assert cursor.fetchall() == [[True]]
    with served.connect(isolation_level=IsolationLevel.READ_COMMITTED) as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT count(*) FROM cases_private")
        assert cursor.fetchall() == [[ROWS]]
        conn.commit()


def test_hidden_table_fails_exactly_like_a_missing_one(served: Served) -> None:
    def error(sql: str) -> tuple[str, str]:
        with pytest.raises(TrinoUserError) as raised:
            served.query(sql, OTHER_SECTOR)
        return raised.value.error_name, raised.value.message

    for statement in ("SELECT * FROM welfare_safety.{}", "DESCRIBE {}", "SHOW COLUMNS FROM {}"):
        hidden = error(statement.format("cases_private"))
        missing = error(statement.format("cases_nowhere"))
        assert hidden[0] == missing[0] == "TABLE_NOT_FOUND"
        assert hidden[1] == missing[1].replace("cases_nowhere", "cases_private")
    assert served.query("SELECT count(*) FROM cases_private") == [[ROWS]]  # its owner reads it


def test_errors_carry_trino_names(served: Served) -> None:
    with pytest.raises(TrinoUserError) as syntax:
        served.query("SELECT * FORM cases_public")
    assert (syntax.value.error_name, syntax.value.error_code) == ("SYNTAX_ERROR", 1)
    assert syntax.value.error_location[0] == 1
    with pytest.raises(TrinoUserError) as column:
        served.query("SELECT nowhere FROM cases_public")
    assert column.value.error_name == "COLUMN_NOT_FOUND"
    with pytest.raises(TrinoUserError) as refused:
        served.query("SELECT * FROM read_csv('/etc/passwd')")
    assert refused.value.error_name == "PERMISSION_DENIED"
    with pytest.raises(TrinoUserError) as write:
        served.query("INSERT INTO cases_public VALUES ('x', 'y', 1, 2)")
    assert write.value.error_name == "PERMISSION_DENIED"
    assert "Traceback" not in str(write.value)


def test_large_result_pages_and_streams(served: Served) -> None:
    sql = f"SELECT k.*, s.x FROM {KOROAD} k CROSS JOIN UNNEST(sequence(1, 6)) AS s(x)"
    with served.connect() as conn:
        cursor = conn.cursor()
        cursor.execute(sql)
        count = sum(1 for _ in iter(cursor.fetchone, None))
    assert count == 6 * 2983
    with served.http() as http:
        answer = http.post(f"{served.server.url}/v1/statement", content=sql).json()
        pages = []
        while "nextUri" in answer:
            answer = http.get(answer["nextUri"]).json()
            pages.append(len(answer.get("data", [])))
    assert sum(pages) == count and len([p for p in pages if p]) >= 3
    assert max(pages) < count / 2


def test_cancel_stops_the_query_and_is_audited(served: Served) -> None:
    sql = "SELECT x FROM UNNEST(sequence(1, 2000000)) AS t(x) -- cancel me"
    with served.connect() as conn:
        cursor = conn.cursor()
        cursor.execute(sql)
        assert cursor.fetchone() == [1]
        cursor.cancel()
    opened, record = sorted(
        (r for r in served.platform.audit.records(limit=20) if r.statement == sql),
        key=lambda r: r.seq,
    )
    assert (opened.outcome, record.completes) == ("opened", opened.seq)
    assert (record.kind, record.outcome, record.error) == (
        "trino",
        "cancelled",
        "cancelled by the client",
    )
    assert 0 < record.rows < 2_000_000


def test_protocol_json_and_pages_belong_to_their_caller(served: Served) -> None:
    base = served.server.url
    with served.http() as owner, served.http("second") as colleague, served.http(None) as nobody:
        first = owner.post(f"{base}/v1/statement", content="SELECT n, sido FROM cases_private")
        assert first.status_code == 200
        body = first.json()
        assert body["stats"]["state"] == "QUEUED" and body["infoUri"].startswith(base)
        page = body["nextUri"]
        assert colleague.get(page).status_code == 404  # same agency, another principal
        assert colleague.delete(page).status_code == 404
        assert nobody.get(page).status_code == 401
        assert nobody.get(page).json() == {"detail": "invalid"}
        seen: list[list[Any]] = []
        while "nextUri" in body:
            body = owner.get(body["nextUri"]).json()
            seen += body.get("data", [])
            assert "error" not in body
        assert body["stats"]["state"] == "FINISHED" and len(seen) == ROWS
        assert body["columns"] == [
            {
                "name": "n",
                "type": "bigint",
                "typeSignature": {"rawType": "bigint", "arguments": []},
            },
            {
                "name": "sido",
                "type": "varchar",
                "typeSignature": {
                    "rawType": "varchar",
                    "arguments": [{"kind": "LONG", "value": 2147483647}],
                },
            },
        ]
        failed = owner.post(f"{base}/v1/statement", content="SELECT * FROM nowhere").json()
        assert failed["stats"]["state"] == "FAILED" and "nextUri" not in failed
        error = failed["error"]
        assert (error["errorName"], error["errorCode"], error["errorType"]) == (
            "TABLE_NOT_FOUND",
            46,
            "USER_ERROR",
        )
        assert error["errorLocation"] == {"lineNumber": 1, "columnNumber": 15}
        assert error["failureInfo"]["stack"] == []
        info = owner.get(f"{base}/v1/info").json()
        assert info["nodeVersion"] == {"version": "476"}
        assert nobody.post(f"{base}/v1/statement", content="SELECT 1").status_code == 401


def test_each_statement_is_audited_opened_then_completed(served: Served) -> None:
    marker = "-- audit marker"
    served.query(f"SELECT n FROM cases_private {marker}")
    with pytest.raises(TrinoUserError):
        served.query(f"SELECT n FROM cases_private {marker}", OTHER_SECTOR)
    with served.connect() as conn:
        conn.cursor().execute(f"SET SESSION x = 'y' {marker}").fetchall()
    records = [r for r in served.platform.audit.records(limit=50) if marker in r.statement]
    # Rows left: opened before they did, completed after; no rows: one record.
    opened, ok, denied, session = sorted(records, key=lambda r: r.seq)
    assert (opened.outcome, opened.datasets, ok.completes) == (
        "opened",
        ("cases_private",),
        opened.seq,
    )
    assert (ok.kind, ok.outcome, ok.rows, ok.datasets) == ("trino", "ok", ROWS, ("cases_private",))
    assert ok.bytes_out > 0 and ok.agency == OWNER
    assert (denied.outcome, denied.agency, denied.rows) == ("denied", OTHER_SECTOR, 0)
    assert "does not exist" in (denied.error or "")
    assert (session.outcome, session.rows) == ("ok", 0)
    assert served.platform.audit.verify().ok


def test_time_limit_and_abandoned_statements(served: Served, tmp_path: Path) -> None:
    update = {"sql_timeout_seconds": 1.0, "trino_client_timeout_seconds": 1.0}
    platform = Platform(served.platform.settings.model_copy(update=update))
    app = create_app(platform)
    with serve_tls(app, tmp_path) as server:
        fast = Served(platform=platform, server=server, keys=served.keys)
        slow = f"SELECT count(*) FROM {KOROAD} a, {KOROAD} b, {KOROAD} c"
        with pytest.raises(TrinoQueryError) as limit:
            fast.query(slow)
        assert limit.value.error_name == "EXCEEDED_TIME_LIMIT"
        abandoned = "SELECT x FROM UNNEST(sequence(1, 1000000)) AS t(x) -- left behind"
        with fast.http() as http:
            answer = http.post(f"{server.url}/v1/statement", content=abandoned).json()
            http.get(answer["nextUri"])

            def records() -> list[AuditRecord]:
                return [r for r in platform.audit.records(limit=5) if r.statement == abandoned]

            deadline = time.monotonic() + 30
            while len(records()) < 2:
                assert time.monotonic() < deadline, "the abandoned statement was not completed"
                time.sleep(0.2)
            assert http.get(answer["nextUri"]).status_code == 404
    record, opened = records()
    assert (record.outcome, record.error) == ("cancelled", "abandoned by the client")
    assert (opened.outcome, record.completes) == ("opened", opened.seq)  # rows had left
