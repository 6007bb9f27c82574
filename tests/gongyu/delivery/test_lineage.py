"""OpenLineage events of real deliveries: in the events file, valid against the OpenLineage spec,
and sent to an HTTP endpoint on loopback that may be down."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from contracts.model import AccessLevel, Classification, Privacy
from gongyu.delivery.lineage import assertions, blocking_reasons, column_lineage, run_id
from gongyu.delivery.lineage_sink import events_file
from gongyu.delivery.report import Outcome
from gongyu.delivery.way import process_delivery
from gongyu.demo import bad_value
from gongyu.ground.settings import Settings
from gongyu.platform import Platform
from quality.results import CheckKind, CheckResult
from tests.conftest import column, data_file, make_contract

SPEC = Path(__file__).with_name("openlineage_spec")
RUN_EVENT = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
KOTSA = "kotsa_car_inspection_centers"
KOTSA_FILE = "transport_logistics/kotsa_car_inspection_centers_20210927.csv"


def spec_registry() -> Registry:
    """The OpenLineage spec files shipped with these tests, by their `$id`."""
    resources = []
    for path in sorted(SPEC.glob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


REGISTRY = spec_registry()


def facets_of(event: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every facet of an event: run, job, and each dataset's (input and output) facets."""
    yield from event["run"].get("facets", {}).values()
    yield from event["job"].get("facets", {}).values()
    for dataset in [*event.get("inputs", []), *event.get("outputs", [])]:
        for kind in ("facets", "inputFacets", "outputFacets"):
            yield from dataset.get(kind, {}).values()


def spec_errors(event: dict[str, Any]) -> list[str]:
    """What the OpenLineage spec finds wrong with an event and with each facet by its schema."""
    checks = [(RUN_EVENT, event)] + [(facet["_schemaURL"], facet) for facet in facets_of(event)]
    errors = []
    for url, instance in checks:
        validator = Draft202012Validator({"$ref": url}, registry=REGISTRY)
        errors += [f"{url}: {e.json_path}: {e.message}" for e in validator.iter_errors(instance)]
    return errors


def read_events(platform: Platform) -> list[dict[str, Any]]:
    """The events file of a workspace, parsed."""
    path = events_file(platform.settings, platform.workspace)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def deliver(platform: Platform, file: Path, **kwargs: Any) -> Outcome:
    """Land a KOTSA file and run it through the gate."""
    delivery, _ = platform.deliver(KOTSA, file)
    return process_delivery(platform, delivery.delivery_id, **kwargs)


@dataclass
class Runs:
    """A quarantined and a published KOTSA delivery on one workspace, and the events file."""

    platform: Platform
    quarantined: Outcome
    published: Outcome
    events: list[dict[str, Any]]

    def of(self, outcome: Outcome) -> list[dict[str, Any]]:
        """The events of one delivery's run."""
        return [e for e in self.events if e["run"]["runId"] == run_id(outcome.delivery)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """KOTSA's real file with a lane count written as '3개' (quarantined), then the real file."""
    root = tmp_path_factory.mktemp("lineage")
    platform = Platform(Settings(home=root / "ws"))
    kotsa = data_file(KOTSA_FILE)
    bad = bad_value(kotsa, root / "kotsa_bad_value.csv", "검사진로수", 5, "3개")
    quarantined, published = deliver(platform, bad), deliver(platform, kotsa)
    assert not quarantined.published and published.published, published.report
    return Runs(platform, quarantined, published, read_events(platform))


def test_events_follow_the_openlineage_spec(runs: Runs) -> None:
    assert [e["eventType"] for e in runs.events] == ["START", "FAIL", "START", "COMPLETE"]
    for event in runs.events:
        assert spec_errors(event) == []
        assert event["producer"].startswith("urn:gongyu:")
        assert event["job"] == runs.events[0]["job"]
    broken = json.loads(json.dumps(runs.events[-1]))
    broken["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] = "59"
    broken["eventType"] = "DONE"
    assert len(spec_errors(broken)) == 2  # the validation has teeth
    # Every facet's schema is one of the spec files shipped with the tests, so all were checked.
    urls = {f["_schemaURL"].split("#")[0] for e in runs.events for f in facets_of(e)}
    assert urls <= {uri for uri in REGISTRY}


def test_published_delivery_starts_and_completes_with_its_snapshot(runs: Runs) -> None:
    delivery = runs.published.delivery
    start, complete = runs.of(runs.published)
    assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
    assert complete["job"]["namespace"] == "gongyu"
    assert complete["job"]["name"] == f"transport_logistics.{KOTSA}"
    assert complete["run"]["runId"] == run_id(delivery)

    (source,) = complete["inputs"]
    # Named as the OpenLineage naming convention names a local file (test_lineage_naming.py).
    landed = runs.platform.workspace.landing.resolve() / delivery.landing_key
    assert (source["namespace"], source["name"]) == ("file", str(landed))
    assert source["facets"]["version"]["datasetVersion"] == delivery.content_hash
    headers = [f["name"] for f in source["facets"]["schema"]["fields"]]
    assert headers[:2] == ["자동차검사소명", "자동차검사소유형"]
    assert source["inputFacets"]["inputStatistics"]["size"] == delivery.size_bytes
    checks = source["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert len(checks) == len(runs.published.gate.checks)
    assert all(a["success"] for a in checks if a["severity"] == "error")

    (table,) = complete["outputs"]
    (symlink,) = table["facets"]["symlinks"]["identifiers"]
    assert (symlink["name"], symlink["type"]) == (f"transport_logistics.{KOTSA}", "TABLE")
    assert table["facets"]["version"]["datasetVersion"] == delivery.snapshot_id
    assert table["outputFacets"]["outputStatistics"]["rowCount"] == delivery.rows == 59
    assert table["outputFacets"]["outputStatistics"]["size"] > 0
    types = {f["name"]: f["type"] for f in table["facets"]["schema"]["fields"]}
    assert (types["center_name"], types["inspection_lanes"], types["latitude"]) == (
        "string",
        "long",
        "double",
    )
    lanes = table["facets"]["columnLineage"]["fields"]["inspection_lanes"]["inputFields"]
    assert [(f["name"], f["field"]) for f in lanes] == [(source["name"], "검사진로수")]
    assert lanes[0]["transformations"][0]["subtype"] == "IDENTITY"
    assert start["outputs"][0]["name"] == table["name"]
    assert "version" not in start["outputs"][0]["facets"]


def test_quarantined_delivery_fails_with_its_blocking_reasons(runs: Runs) -> None:
    start, fail = runs.of(runs.quarantined)
    assert (start["eventType"], fail["eventType"]) == ("START", "FAIL")
    message = fail["run"]["facets"]["errorMessage"]["message"]
    assert message.splitlines() == runs.quarantined.delivery.reasons
    assert "'3개'" in message
    assert fail["outputs"] == []  # nothing reached the table
    (source,) = fail["inputs"]
    failed = [
        (a["assertion"], a["column"])
        for a in source["inputFacets"]["dataQualityAssertions"]["assertions"]
        if not a["success"]
    ]
    assert ("types", "검사진로수") in failed


def test_events_of_non_public_datasets_quote_no_cells(platform: Platform) -> None:
    contract = platform.contract(KOTSA).model_copy(update={"access": AccessLevel.restricted})
    check = CheckResult(
        kind=CheckKind.types,
        rule="types:inspection_lanes",
        column="inspection_lanes",
        passed=False,
        count=1,
        message="1 value(s) in column '검사진로수' are not whole numbers, e.g. '3개'",
    )
    assert blocking_reasons([check], contract) == "types:inspection_lanes: 1 offending row(s)"
    (assertion,) = assertions([check], contract)
    assert (assertion.column, assertion.actual, assertion.description) == ("검사진로수", "1", None)


def test_column_lineage_says_how_each_column_is_protected() -> None:
    contract = make_contract(
        [
            column("name", classification=Classification.direct_identifier),
            column("age", "integer", classification=Classification.quasi_identifier),
            column("station", classification=Classification.quasi_identifier),
            column("count", "integer"),
        ],
        privacy=Privacy(k=5, generalise={"age": "age_band_5", "station": "suppress"}),
    )
    facet = column_lineage(contract, "file:///ws/landing", "seoul/test_dataset/1/f.csv")
    how = {
        name: [(t.subtype, t.masking) for f in field.inputFields for t in f.transformations or []]
        for name, field in facet.fields.items()
    }
    # The suppressed station is all null: no column of the file flows into it.
    assert how == {
        "name": [("TRANSFORMATION", True)],
        "age": [("TRANSFORMATION", False)],
        "count": [("IDENTITY", False)],
    }


def test_a_run_that_breaks_fails_with_its_stack_trace(platform: Platform) -> None:
    def broken_auditor(table: object, staged: object) -> list[str]:
        raise RuntimeError("audit store unreachable")

    with pytest.raises(RuntimeError, match="audit store unreachable"):
        deliver(platform, data_file(KOTSA_FILE), auditors=[broken_auditor])
    start, fail = read_events(platform)
    assert (start["eventType"], fail["eventType"]) == ("START", "FAIL")
    error = fail["run"]["facets"]["errorMessage"]
    assert error["message"] == "RuntimeError: audit store unreachable"
    assert "broken_auditor" in error["stackTrace"]
    assert spec_errors(fail) == []


@dataclass
class Receiver:
    """A lineage endpoint on loopback: keeps each request's headers and JSON body."""

    url: str
    received: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)


@contextmanager
def receiver(stall: threading.Event | None = None) -> Iterator[Receiver]:
    """A real HTTP server in a thread; with `stall`, it answers only once the event is set."""
    got: list[tuple[dict[str, str], dict[str, Any]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if stall is not None:
                stall.wait(30)
            got.append((dict(self.headers), json.loads(body)))
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield Receiver(f"http://{host}:{port}/api/v1/lineage", got)
    finally:
        if stall is not None:
            stall.set()
        server.shutdown()
        server.server_close()


def test_endpoint_receives_every_event_with_the_api_key(tmp_path: Path) -> None:
    with receiver() as endpoint:
        settings = Settings(
            home=tmp_path / "ws", lineage_url=endpoint.url, lineage_api_key="lineage-secret"
        )
        platform = Platform(settings)
        assert deliver(platform, data_file(KOTSA_FILE)).published
    assert [body for _, body in endpoint.received] == read_events(platform)
    assert [body["eventType"] for _, body in endpoint.received] == ["START", "COMPLETE"]
    for headers, _ in endpoint.received:
        assert headers["Authorization"] == "Bearer lineage-secret"
        assert headers["Content-Type"] == "application/json"


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("down", ["refused", "stalled"])
def test_an_endpoint_that_is_down_never_holds_up_a_delivery(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, down: str
) -> None:
    stall = threading.Event()
    with receiver(stall) as stalled:
        url = stalled.url if down == "stalled" else f"http://127.0.0.1:{closed_port()}/lineage"
        settings = Settings(home=tmp_path / "ws", lineage_url=url, lineage_timeout_seconds=0.5)
        platform = Platform(settings)
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="gongyu.delivery.lineage_sink"):
            outcome = deliver(platform, data_file(KOTSA_FILE))
        assert outcome.published
        # The stalled endpoint would answer after 30 s; each event gave up after 0.5 s.
        assert time.monotonic() - started < 20
    assert [e["eventType"] for e in read_events(platform)] == ["START", "COMPLETE"]
    warnings = [r.getMessage() for r in caplog.records if r.name == "gongyu.delivery.lineage_sink"]
    assert len(warnings) == 2 and all("kept in" in w for w in warnings)
