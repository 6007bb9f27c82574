"""A contract changed on disk applies to the next request in every worker of a running server.

The red-team report: tightening a contract to `private` left it readable (200, 59 rows) and
shown as `public` until every worker restarted. Here `gongyu serve --workers 2` runs while the
owner's contract file changes; every request after the change, on fresh connections (so both
workers answer), must see the new contract. A file that stops parsing withdraws its dataset
(fail closed) until it is fixed.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import yaml

from bench.api_servers import gongyu
from catalog.access.principal import Role
from tests.api.world import OTHER_SECTOR, OWNER, build_platform, table

REQUESTS = 12  # each on a new connection: uvicorn's workers share the socket


def test_a_tightened_contract_applies_at_once_in_every_worker(tmp_path: Path) -> None:
    platform = build_platform(tmp_path)
    _, other = platform.keys.create(OTHER_SECTOR, Role.analyst, "reader")
    _, owner = platform.keys.create(OWNER, Role.analyst, "owner")
    contracts = platform.settings.contracts_dir
    path = contracts / "welfare_safety" / OWNER / "cases_public.yaml"
    original = path.read_text(encoding="utf-8")

    def ask(url: str, key: str) -> set[tuple[int, int, str | None]]:
        """(SQL status, catalog status, access shown) of REQUESTS requests, each on its own
        connection."""
        answers = set()
        for _ in range(REQUESTS):
            headers = {"Authorization": f"Bearer {key}"}
            sql = httpx.post(
                f"{url}/api/v1/sql",
                json={"sql": f"SELECT count(*) FROM {table('public')}"},
                headers=headers,
            )
            entry = httpx.get(f"{url}/api/v1/catalog/datasets/cases_public", headers=headers)
            shown = entry.json()["summary"]["access"] if entry.status_code == 200 else None
            answers.add((sql.status_code, entry.status_code, shown))
        return answers

    with gongyu(platform.workspace.root, contracts, 2, tmp_path / "serve.log") as url:
        assert ask(url, other) == {(200, 200, "public")}
        doc = yaml.safe_load(original)
        for prop in doc["customProperties"]:
            if prop["property"] == "accessLevel":
                prop["value"] = "private"
        path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        assert ask(url, other) == {(400, 404, None)}
        assert ask(url, owner) == {(200, 200, "private")}
        path.write_text(original + "\n  this is: [not, yaml", encoding="utf-8")
        assert ask(url, owner) == {(400, 404, None)}  # withdrawn for everyone, owner included
        path.write_text(original, encoding="utf-8")
        assert ask(url, other) == {(200, 200, "public")}


def test_a_request_reads_the_contracts_once_at_its_start(tmp_path: Path) -> None:
    """Within a request the sandbox's check uses the reading the request began with; the next
    request (or a caller outside one) reads the change."""
    platform = build_platform(tmp_path)
    path = platform.settings.contracts_dir / "welfare_safety" / OWNER / "cases_public.yaml"
    with platform.contracts_read_for_request():
        begun = platform.contracts_version()
        path.write_text(path.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
        assert platform.contracts_version() == begun
    assert platform.contracts_version() == begun + 1
    with platform.contracts_read_for_request():
        assert platform.contracts_version() == begun + 1
