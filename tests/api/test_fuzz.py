"""Schemathesis against the running server's OpenAPI schema: no 5xx, no response off-schema.

Bounded for CI (`GONGYU_FUZZ_EXAMPLES`, default 10 examples per operation); the full version is
`GONGYU_FUZZ_EXAMPLES=200 pytest tests/api/test_fuzz.py -q -s`, which prints how many cases ran.
"""

from __future__ import annotations

import itertools
import os
from collections import Counter
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error, response_schema_conformance

from catalog.access.principal import Role
from tests.api.world import OWNER, world

EXAMPLES = int(os.environ.get("GONGYU_FUZZ_EXAMPLES", "10"))
# Valid requests, and requests that break the schema (which must get 4xx, never 5xx).
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
STATE: dict[str, str] = {}
RAN = {"cases": 0}
STATUSES: Counter[int] = Counter()


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    root = tmp_path_factory.mktemp("fuzz")
    with world(root, sql_timeout_seconds=2, auth_failures_per_minute=0) as w:
        STATE["key"] = w.keys[(OWNER, Role.steward)]
        yield schemathesis.openapi.from_url(f"{w.url}/openapi.json")
    print(
        f"\nfuzz: {RAN['cases']} cases, 0 server errors, 0 schema violations; "
        f"statuses {dict(sorted(STATUSES.items()))}"
    )


def test_api_answers_within_its_schema(api_schema: schemathesis.BaseSchema) -> None:
    """Every operation, `EXAMPLES` valid and `EXAMPLES` invalid cases each, as a steward."""
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 10
    for operation, mode in itertools.product(operations, MODES):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def call(case: schemathesis.Case) -> None:
            RAN["cases"] += 1
            # Schemathesis fills the `apiKey` scheme's header with junk, which next to the
            # bearer key is two credentials (401): send the bearer key alone.
            if case.headers:
                case.headers.pop("X-API-Key", None)
            response = case.call_and_validate(
                headers={"Authorization": f"Bearer {STATE['key']}"},
                checks=[not_a_server_error, response_schema_conformance],
                timeout=30,
            )
            STATUSES[response.status_code] += 1

        try:
            call()
        except Unsatisfiable:  # nothing in the schema to break (e.g. a free string path)
            continue
        except Exception as exc:
            failures.append(f"{operation.label} ({mode.value}): {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
