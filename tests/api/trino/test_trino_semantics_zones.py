"""Time zones as Trino has them, through the real `trino` client (DB-API, and SQLAlchemy with
pandas) against the served app: the session's zone (`X-Trino-Time-Zone`, `SET TIME ZONE`),
`AT TIME ZONE`, `with_timezone`, `at_timezone`, `from_unixtime`, `current_timezone()`, and the
day and hour buckets Metabase's Starburst (Trino) driver asks for with a report time zone.

Expected values are Trino's documented answers (docs/src/main/sphinx/functions/datetime.md and
the Starburst driver's `in-report-zone` SQL), never DuckDB's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import sqlalchemy as sa
from trino.auth import JWTAuthentication
from trino.exceptions import TrinoUserError

from catalog.access.principal import Role
from gongyu.delivery.way import process_delivery
from tests.api.trino.test_trino import KOROAD, PUBLISHED, Served, serve_tls
from tests.api.world import OTHER_SECTOR, OWNER, build_platform
from tests.conftest import data_file
from tests.published import read_arrow

SEOUL = ZoneInfo("Asia/Seoul")


@contextmanager
def semantics_world(root: Path) -> Iterator[Served]:
    """The API tests' world plus KoROAD's real accidents (a `timestamp(6)` column of Korean
    wall-clock times), served over TLS with a key for knpa, kotsa and a second knpa analyst."""
    platform = build_platform(root)
    delivery, _ = platform.deliver(
        "koroad_fatal_traffic_accidents", data_file(PUBLISHED["koroad_fatal_traffic_accidents"])
    )
    assert process_delivery(platform, delivery.delivery_id).published
    keys = {
        agency: platform.keys.create(agency, Role.analyst, f"{agency} trino semantics")[1]
        for agency in (OWNER, OTHER_SECTOR)
    }
    from api.app import create_app

    with pytest.MonkeyPatch.context() as env, serve_tls(create_app(platform), root) as server:
        env.delenv("REQUESTS_CA_BUNDLE", raising=False)
        env.delenv("CURL_CA_BUNDLE", raising=False)
        yield Served(platform=platform, server=server, keys=keys)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with semantics_world(tmp_path_factory.mktemp("trino-zones")) as world:
        yield world


def one(served: Served, sql: str, zone: str = "UTC") -> list[Any]:
    """The single row of `sql` in a session whose time zone is `zone`."""
    [row] = served.query(sql, timezone=zone)
    return row


def occurred(served: Served) -> list[datetime]:
    """KoROAD's `occurred_at` values as stored (Korean wall-clock times, no zone)."""
    table = read_arrow(served.platform.lakehouse.catalog, KOROAD)
    return [v for v in table.column("occurred_at").to_pylist() if v is not None]


# Metabase's Starburst driver: report zone = session zone (`setTimeZoneId`, i.e. the client's
# X-Trino-Time-Zone), each bucket of `expr AT TIME ZONE '<report zone>'`, columns qualified.
COLUMN = '"welfare_safety"."koroad_fatal_traffic_accidents"."occurred_at"'
IN_REPORT_ZONE = f"{COLUMN} AT TIME ZONE 'Asia/Seoul'"
METABASE = (
    'SELECT {bucket} AS "occurred_at", count(*) AS "count" '
    'FROM "welfare_safety"."koroad_fatal_traffic_accidents" '
    "GROUP BY {bucket} ORDER BY {bucket} ASC"
)
DAY = f"date({IN_REPORT_ZONE})"
HOUR = f"date_trunc('hour', {IN_REPORT_ZONE})"


@pytest.mark.parametrize(
    ("session_zone", "shift"),
    [
        # Metabase's case: the session is in the report zone, so a timestamp without zone is
        # read as Seoul time and AT TIME ZONE 'Asia/Seoul' keeps its wall clock.
        ("Asia/Seoul", timedelta(0)),
        # A UTC session reads the same wall clock as UTC: Seoul is nine hours later.
        ("UTC", timedelta(hours=9)),
    ],
)
def test_metabase_day_and_hour_buckets_follow_the_session_zone(
    served: Served, session_zone: str, shift: timedelta
) -> None:
    values = occurred(served)
    days = Counter((v + shift).date() for v in values)
    hours = Counter((v + shift).replace(minute=0, second=0, microsecond=0) for v in values)
    with served.connect(timezone=session_zone) as conn:
        cursor = conn.cursor()
        cursor.execute(METABASE.format(bucket=DAY))
        assert [d[1] for d in cursor.description] == ["date", "bigint"]
        assert {d: n for d, n in cursor.fetchall()} == days
        cursor.execute(METABASE.format(bucket=HOUR))
        assert [d[1] for d in cursor.description] == ["timestamp(6) with time zone", "bigint"]
        rows = cursor.fetchall()
    assert all(h.tzinfo == SEOUL for h, _ in rows)  # shown in the zone asked for, as Trino does
    assert {h.replace(tzinfo=None): n for h, n in rows} == hours
    assert len(rows) > 24 and sum(n for _, n in rows) == len(values)


def test_metabase_other_buckets_and_extractions(served: Served) -> None:
    shift = timedelta(hours=9)  # a UTC session: the wall clock is read as UTC, shown in Seoul
    values = [v + shift for v in occurred(served)]
    # Metabase's week starts on Sunday: date_trunc('week', …) (a Monday) moved a day back
    week = f"date_add('day', -1, date_trunc('week', date_add('day', 1, {IN_REPORT_ZONE})))"
    expected = {
        f"date_trunc('month', {IN_REPORT_ZONE})": Counter(
            v.replace(day=1, hour=0, minute=0, second=0, microsecond=0) for v in values
        ),
        week: Counter(
            (v - timedelta(days=(v.weekday() + 1) % 7)).replace(
                hour=0, minute=0, second=0, microsecond=0
            )
            for v in values
        ),
        f"hour({IN_REPORT_ZONE})": Counter(v.hour for v in values),
        f"day_of_week({IN_REPORT_ZONE})": Counter(v.isoweekday() for v in values),
        f"month({IN_REPORT_ZONE})": Counter(v.month for v in values),
    }
    with served.connect(timezone="UTC") as conn:
        cursor = conn.cursor()
        for bucket, counts in expected.items():
            cursor.execute(METABASE.format(bucket=bucket))
            got = {
                (b.replace(tzinfo=None) if isinstance(b, datetime) else b): n
                for b, n in cursor.fetchall()
            }
            assert got == counts, bucket


def test_metabase_buckets_through_sqlalchemy_and_pandas(served: Served) -> None:
    engine = sa.create_engine(
        f"trino://{OWNER}@127.0.0.1:{served.server.port}/gongyu/welfare_safety",
        connect_args={
            "auth": JWTAuthentication(served.keys[OWNER]),
            "http_scheme": "https",
            "verify": str(served.server.ca),
            "timezone": "Asia/Seoul",
        },
    )
    try:
        frame = pd.read_sql(sa.text(METABASE.format(bucket=DAY)), engine)
        hours = pd.read_sql(
            sa.text(f"SELECT hour({IN_REPORT_ZONE}) AS h, count(*) AS n FROM {KOROAD} GROUP BY 1"),
            engine,
        )
    finally:
        engine.dispose()
    values = occurred(served)
    expected = Counter(v.date() for v in values)
    assert dict(zip(frame["occurred_at"], frame["count"], strict=True)) == expected
    assert str(frame["count"].dtype) == "int64"
    by_hour = Counter(v.hour for v in values)
    assert dict(zip(hours["h"], hours["n"], strict=True)) == by_hour


@pytest.mark.parametrize(
    ("zone", "sql", "expected"),
    [
        # Time zone conversion (Trino's docs).
        (
            "UTC",
            "SELECT timestamp '2012-10-31 01:00 UTC' AT TIME ZONE 'America/Los_Angeles'",
            datetime(2012, 10, 30, 18, tzinfo=ZoneInfo("America/Los_Angeles")),
        ),
        # at_timezone: from the session's zone (New York) to the zone named.
        (
            "America/New_York",
            "SELECT at_timezone(TIMESTAMP '2022-11-01 09:08:07.321', 'America/Los_Angeles')",
            datetime(2022, 11, 1, 6, 8, 7, 321000, tzinfo=ZoneInfo("America/Los_Angeles")),
        ),
        # with_timezone: the same wall clock, in the zone named.
        (
            "America/New_York",
            "SELECT with_timezone(TIMESTAMP '2022-11-01 09:08:07.321', 'America/Los_Angeles')",
            datetime(2022, 11, 1, 9, 8, 7, 321000, tzinfo=ZoneInfo("America/Los_Angeles")),
        ),
        ("America/New_York", "SELECT current_timezone()", "America/New_York"),
        # from_unixtime: 1700000000 is 2023-11-14 22:13:20 UTC.
        (
            "UTC",
            "SELECT from_unixtime(1700000000, 'Asia/Seoul')",
            datetime(2023, 11, 15, 7, 13, 20, tzinfo=SEOUL),
        ),
        ("Asia/Seoul", "SELECT from_unixtime(0)", datetime(1970, 1, 1, 9, tzinfo=SEOUL)),
        (
            "UTC",
            "SELECT from_unixtime(1700000000, 9, 30)",
            datetime(2023, 11, 15, 7, 43, 20, tzinfo=ZoneInfo("Australia/Darwin")),
        ),
        # from_iso8601_timestamp: the session's zone unless the text has one.
        (
            "America/Vancouver",
            "SELECT from_iso8601_timestamp('2020-05-11T11:15:05')",
            datetime(2020, 5, 11, 11, 15, 5, tzinfo=ZoneInfo("America/Vancouver")),
        ),
        (
            "America/Vancouver",
            "SELECT from_iso8601_timestamp('2020-05-11T11:15:05.055+01:00')",
            datetime(2020, 5, 11, 11, 15, 5, 55000, tzinfo=timezone(timedelta(hours=1))),
        ),
        # date_add / date_diff on zoned timestamps.
        (
            "UTC",
            "SELECT date_add('day', -1, TIMESTAMP '2020-03-01 00:00:00 UTC')",
            datetime(2020, 2, 29, tzinfo=UTC),
        ),
        (
            "UTC",
            "SELECT date_diff('hour', TIMESTAMP '2020-03-01 00:00:00 UTC', "
            "TIMESTAMP '2020-03-02 00:00:00 UTC')",
            24,
        ),
        # date_diff counts whole units (40 minutes are 0 hours), not boundaries crossed.
        (
            "UTC",
            "SELECT date_diff('hour', TIMESTAMP '2024-01-01 00:30:00', "
            "TIMESTAMP '2024-01-01 01:10:00')",
            0,
        ),
        # date(), hour() and date_trunc() of a zoned value use its own zone.
        (
            "UTC",
            "SELECT date(TIMESTAMP '2024-01-01 20:30:00 UTC' AT TIME ZONE 'Asia/Seoul')",
            date(2024, 1, 2),
        ),
        (
            "UTC",
            "SELECT hour(TIMESTAMP '2024-01-01 20:30:00 UTC' AT TIME ZONE 'Asia/Seoul')",
            5,
        ),
        (
            "UTC",
            "SELECT date_trunc('day', "
            "TIMESTAMP '2024-01-01 20:30:00 UTC' AT TIME ZONE 'Asia/Seoul')",
            datetime(2024, 1, 2, tzinfo=SEOUL),
        ),
        # A timestamp without zone meets a zoned one in the session's zone.
        (
            "Asia/Seoul",
            "SELECT TIMESTAMP '2024-01-01 09:00:00' = TIMESTAMP '2024-01-01 00:00:00 UTC'",
            True,
        ),
        (
            "Asia/Seoul",
            "SELECT CAST(TIMESTAMP '2024-01-01 09:00:00' AS timestamp with time zone)",
            datetime(2024, 1, 1, 9, tzinfo=SEOUL),
        ),
        (
            "UTC",
            "SELECT CAST(TIMESTAMP '2024-01-01 05:00:00 UTC' AT TIME ZONE 'Asia/Seoul' "
            "AS timestamp)",
            datetime(2024, 1, 1, 14),
        ),
        (
            "UTC",
            "SELECT CAST(TIMESTAMP '2024-01-01 05:00:00.000 UTC' AT TIME ZONE 'Asia/Seoul' "
            "AS varchar)",
            "2024-01-01 14:00:00.000 Asia/Seoul",
        ),
        (
            "UTC",
            "SELECT to_iso8601(TIMESTAMP '2024-01-01 05:00:00.000 UTC' AT TIME ZONE 'Asia/Seoul')",
            "2024-01-01T14:00:00.000+09:00",
        ),
        # Offsets as zones.
        (
            "UTC",
            "SELECT TIMESTAMP '2024-01-01 00:00:00 UTC' AT TIME ZONE '+09:00'",
            datetime(2024, 1, 1, 9, tzinfo=SEOUL),
        ),
    ],
)
def test_trino_documented_answers(served: Served, zone: str, sql: str, expected: Any) -> None:
    [value] = one(served, sql, zone)
    assert value == expected
    if isinstance(expected, datetime) and expected.tzinfo is not None:
        assert value.utcoffset() == expected.utcoffset()  # the zone itself, not only the instant


def test_zoned_values_on_the_wire_name_their_zone(served: Served) -> None:
    sql = (
        "SELECT TIMESTAMP '2012-10-31 01:00 UTC' AT TIME ZONE 'America/Los_Angeles', "
        "from_unixtime(0, 'Asia/Seoul'), current_timestamp"
    )
    with served.http() as client:
        client.headers["X-Trino-Time-Zone"] = "Asia/Seoul"
        body = client.post(f"{served.server.url}/v1/statement", content=sql).json()
        data: list[Any] = []
        while "nextUri" in body:
            body = client.get(body["nextUri"]).json()
            data += body.get("data", [])
    assert [c["type"] for c in body["columns"]] == [
        "timestamp(0) with time zone",
        "timestamp(3) with time zone",
        "timestamp(3) with time zone",
    ]
    [[los_angeles, seoul, now]] = data
    assert los_angeles == "2012-10-30 18:00:00 America/Los_Angeles"
    assert seoul == "1970-01-01 09:00:00.000 Asia/Seoul"
    assert now.endswith(" Asia/Seoul") and len(now) == len("2024-01-01 00:00:00.000 Asia/Seoul")


def test_session_zone_from_the_client_and_set_time_zone(served: Served) -> None:
    assert one(served, "SELECT current_timezone()", "Asia/Seoul") == ["Asia/Seoul"]
    assert one(served, "SELECT current_timezone()", "Etc/UTC") == ["UTC"]  # Trino's own name
    with served.connect(timezone="UTC") as conn:
        cursor = conn.cursor()
        cursor.execute("SET TIME ZONE 'America/Los_Angeles'")
        cursor.fetchall()
        cursor.execute("SELECT current_timezone(), localtimestamp IS NOT NULL")
        assert cursor.fetchall() == [["America/Los_Angeles", True]]
        cursor.execute("SET TIME ZONE INTERVAL '+09:00' HOUR TO MINUTE")
        cursor.fetchall()
        cursor.execute("SELECT current_timezone()")
        assert cursor.fetchall() == [["+09:00"]]
        cursor.execute("SET TIME ZONE LOCAL")  # the server's zone
        cursor.fetchall()
        cursor.execute("SELECT current_timezone()")
        assert cursor.fetchall() == [["Asia/Seoul"]]
    with served.connect() as conn, pytest.raises(TrinoUserError) as raised:
        conn.cursor().execute("SET TIME ZONE 'Mars/Olympus_Mons'")
    assert (raised.value.error_name, raised.value.error_code) == ("NOT_SUPPORTED", 13)
    assert raised.value.message == "Time zone not supported: Mars/Olympus_Mons"


def test_current_date_and_time_are_the_session_zones(served: Served) -> None:
    before = datetime.now(UTC)
    today, local = one(served, "SELECT current_date, localtimestamp", "Pacific/Kiritimati")
    kiritimati = before.astimezone(ZoneInfo("Pacific/Kiritimati"))  # UTC+14
    assert today in (kiritimati.date(), (kiritimati + timedelta(minutes=1)).date())
    assert abs(local - kiritimati.replace(tzinfo=None)) < timedelta(minutes=1)


def test_a_zone_not_known_before_the_query_runs_is_refused(served: Served) -> None:
    with pytest.raises(TrinoUserError) as raised:
        served.query(f"SELECT occurred_at AT TIME ZONE sido FROM {KOROAD}")
    assert raised.value.error_name == "NOT_SUPPORTED"
    with pytest.raises(TrinoUserError) as unknown:
        served.query("SELECT TIMESTAMP '2024-01-01 00:00:00' AT TIME ZONE 'Nowhere/Land'")
    assert (unknown.value.error_name, unknown.value.message) == (
        "NOT_SUPPORTED",
        "Time zone not supported: Nowhere/Land",
    )
    with pytest.raises(TrinoUserError) as zoned:
        served.query("SELECT current_time")
    assert zoned.value.error_name == "NOT_SUPPORTED"


def test_the_session_property_set_time_zone_sets_wins_over_the_header(served: Served) -> None:
    def zone_of(**headers: str) -> dict[str, Any]:
        with served.http() as client:
            client.headers.update(headers)
            body = client.post(
                f"{served.server.url}/v1/statement", content="SELECT current_timezone()"
            ).json()
            data: list[Any] = []
            while "nextUri" in body:
                body = client.get(body["nextUri"]).json()
                data += body.get("data", [])
        return body | {"data": data}

    assert zone_of()["data"] == [["Asia/Seoul"]]  # no zone from the client: the server's
    assert zone_of(**{"X-Trino-Time-Zone": "Europe/Paris"})["data"] == [["Europe/Paris"]]
    both = {"X-Trino-Time-Zone": "Europe/Paris", "X-Trino-Session": "time_zone_id=Asia%2FTokyo"}
    assert zone_of(**both)["data"] == [["Asia/Tokyo"]]
    refused = zone_of(**{"X-Trino-Time-Zone": "Mars/Olympus_Mons"})["error"]
    assert (refused["errorName"], refused["errorCode"], refused["message"]) == (
        "NOT_SUPPORTED",
        13,
        "Time zone not supported: Mars/Olympus_Mons",
    )
