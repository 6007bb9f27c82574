"""The operator's console over HTTP on loopback: only operators reach it, every form needs the
session's CSRF token, and every act (people, tokens, grants) takes effect at once and is on the
audit chain with the operator who did it; the audit log filters, verifies and exports; the
settings page never shows a secret."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from urllib.parse import quote

import httpx
import pyotp
import pytest

from api.admin import people as people_pages
from api.admin.settings import without_password
from api.web.i18n import catalogue
from api.web.render import TEMPLATES
from catalog.access.audit import AuditRecord, verify_chain
from catalog.access.principal import Principal, Role, Scope
from catalog.access.requests import LegalBasis, RequestState
from catalog.people.people import Person
from tests.api.web_session import parse, sign_in, table, text
from tests.api.world import GRANTEE, OTHER_SECTOR, OWNER, SAME_SECTOR, World, world

PAGES = (
    "/admin",
    "/admin/people",
    "/admin/tokens",
    "/admin/grants",
    "/admin/audit",
    "/admin/audit/verify",
    "/admin/audit/export",
    "/admin/deliveries",
    "/admin/settings",
)
POSTS = (
    "/admin/people",
    "/admin/people/p-000000000000/disable",
    "/admin/people/p-000000000000/enable",
    "/admin/people/p-000000000000/reset-mfa",
    "/admin/people/p-000000000000/roles",
    "/admin/people/p-000000000000/tokens",
    "/admin/tokens/0000000000000000/revoke",
    "/admin/grants/0000000000000000/revoke",
)
ADMIN_TEMPLATES = TEMPLATES / "admin"
ADMIN_CODE = Path(people_pages.__file__).parent
SMTP_PASSWORD = "smtp-password-never-shown-4711"
LINEAGE_KEY = "lineage-api-key-never-shown-0815"
URL_PASSWORD = "url-password-never-shown"
TOKEN_SECRET = "a-token-secret-never-shown-of-at-least-32-chars"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(
        tmp_path_factory.mktemp("admin"),
        smtp_password=SMTP_PASSWORD,
        lineage_api_key=LINEAGE_KEY,
        public_url=f"http://ops:{URL_PASSWORD}@127.0.0.1:9/",
        token_secret=TOKEN_SECRET,
        token_issuer="https://sso.gongyu.example",
    ) as w:
        yield w


@pytest.fixture(scope="module")
def operator(served: World) -> Iterator[httpx.Client]:
    with closing(sign_in(served.url, served.keys[(OWNER, Role.operator)])) as client:
        yield client


def csrf(client: httpx.Client, path: str = "/admin") -> str:
    """The session's CSRF token, as the page's forms carry it."""
    meta = parse(client.get(path).text).find(".//meta[@name='csrf-token']")
    assert meta is not None
    return meta.attrib["content"]


def operator_person(served: World) -> str:
    """The operator's own person id: their key's service account."""
    principal = served.platform.keys.verify(served.keys[(OWNER, Role.operator)])
    assert principal is not None and principal.person
    return principal.person


def by_login(served: World, login: str) -> Person | None:
    """The person with this login, if any."""
    return next((p for p in served.platform.people.list() if p.login == login), None)


def last_admin_record(served: World) -> AuditRecord:
    (record,) = served.platform.audit.records(kind="admin", limit=1)
    return record


@pytest.mark.parametrize("role", [Role.analyst, Role.steward, Role.secretariat])
def test_other_roles_get_403_on_every_page_and_form(served: World, role: Role) -> None:
    with closing(sign_in(served.url, served.keys[(OWNER, role)])) as client:
        token = csrf(client, "/")
        home = parse(client.get("/").text)
        assert home.find(".//a[@id='nav-admin']") is None
        for path in PAGES:
            answer = client.get(path)
            assert answer.status_code == 403, path
            assert "운영 콘솔은 운영자만" in answer.text
        for path in POSTS:
            answer = client.post(path, data={"csrf_token": token, "reason": "x", "kind": "person"})
            assert answer.status_code == 403, path
    refused = served.platform.audit.records(kind="admin", agency=OWNER, limit=5)
    assert all(r.outcome == "denied" and r.role == role.value for r in refused)


def test_strangers_are_sent_to_sign_in(served: World) -> None:
    for path in PAGES:
        answer = httpx.get(served.url + path)
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/signin?next={quote(path, safe='')}"
    for path in POSTS:
        answer = httpx.post(served.url + path, data={"csrf_token": "x"})
        assert answer.status_code == 303 and answer.headers["location"] == "/signin?next=%2F"


def test_every_form_needs_the_csrf_token(served: World, operator: httpx.Client) -> None:
    target = served.platform.people.create(
        SAME_SECTOR, "CSRF target", [Role.analyst], login="csrf.t"
    )
    key, _ = served.platform.keys.create(SAME_SECTOR, Role.analyst, "csrf target")
    grant_id = served.platform.grants.list(agency=GRANTEE)[0].grant_id
    posts = [p.replace("p-000000000000", target.person_id) for p in POSTS]
    posts = [p.replace("tokens/0000000000000000", f"tokens/{key.key_id}") for p in posts]
    posts = [p.replace("grants/0000000000000000", f"grants/{grant_id}") for p in posts]
    for path in posts:
        for sent in ({}, {"csrf_token": "not-the-token"}):
            answer = operator.post(path, data={"reason": "x", "roles": "steward", **sent})
            assert answer.status_code == 403, path
    assert served.platform.people.get(target.person_id) == target
    assert served.platform.keys.get(key.key_id).revoked_at is None
    assert served.platform.grants.list(agency=GRANTEE)[0].revoked_at is None


def test_the_operator_sees_the_console_link_and_the_counts(operator: httpx.Client) -> None:
    home = parse(operator.get("/").text)
    assert home.find(".//a[@id='nav-admin']").attrib["href"] == "/admin"
    overview = operator.get("/admin")
    assert overview.status_code == 200
    counts = parse(overview.text)
    assert int(text(counts.find(".//dd[@id='count-services']"))) >= 16  # a key per caller
    english = parse(operator.get("/admin?lang=en").text)
    assert text(english.find(".//h1")) == "Operator's console"


def test_a_person_made_with_a_generated_password_shown_once(
    served: World, operator: httpx.Client
) -> None:
    form = {
        "csrf_token": csrf(operator),
        "kind": "person",
        "agency": SAME_SECTOR,
        "name": "김민지",
        "email": "minji@nhis.example",
        "login": "kim.minji",
        "roles": ["analyst", "steward"],
        "password": "",
    }
    answer = operator.post("/admin/people", data=form)
    assert answer.status_code == 201, answer.text
    shown = parse(answer.text).find(".//code[@id='password-value']")
    assert shown is not None
    person = by_login(served, "kim.minji")
    assert person.roles == (Role.analyst, Role.steward) and person.agency == SAME_SECTOR
    status, found = served.platform.people.check_password("kim.minji", text(shown))
    assert status == "ok" and found is not None
    # Shown once: the person's page does not show it again.
    again = operator.get(f"/admin/people/{person.person_id}").text
    assert text(shown) not in again
    record = last_admin_record(served)
    assert record.person == operator_person(served) and person.person_id in record.statement
    listed = operator.get("/admin/people", params={"agency": SAME_SECTOR, "kind": "person"})
    _, rows = table(parse(listed.text), "people")
    assert any("김민지" in row[0] for row in rows)


def test_a_weak_password_or_a_taken_login_is_refused(served: World, operator: httpx.Client) -> None:
    base = {"kind": "person", "agency": SAME_SECTOR, "name": "Weak", "roles": "analyst"}
    weak = operator.post(
        "/admin/people",
        data={**base, "csrf_token": csrf(operator), "login": "weak.one", "password": "short"},
    )
    assert weak.status_code == 400
    assert parse(weak.text).find(".//div[@id='admin-problem']") is not None
    assert by_login(served, "weak.one") is None
    served.platform.people.create(SAME_SECTOR, "Taken", [Role.analyst], login="taken.login")
    taken = operator.post(
        "/admin/people", data={**base, "csrf_token": csrf(operator), "login": "taken.login"}
    )
    assert taken.status_code == 409


def test_a_service_account_token_made_then_revoked_stops(
    served: World, operator: httpx.Client
) -> None:
    made = operator.post(
        "/admin/people",
        data={
            "csrf_token": csrf(operator),
            "kind": "service",
            "agency": GRANTEE,
            "name": "hira nightly job",
            "roles": "analyst",
        },
    )
    assert made.status_code == 201
    (service,) = [p for p in served.platform.people.list(GRANTEE) if p.name == "hira nightly job"]
    answer = operator.post(
        f"/admin/people/{service.person_id}/tokens",
        data={"csrf_token": csrf(operator), "role": "analyst", "scopes": ["read"], "name": "n"},
    )
    assert answer.status_code == 201, answer.text
    token = text(parse(answer.text).find(".//code[@id='token-value']"))
    (key,) = served.platform.keys.list(person_id=service.person_id)
    assert key.scopes == ("read",)
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{served.url}/api/v1/catalog", headers=bearer).status_code == 200
    listed = operator.get("/admin/tokens", params={"agency": GRANTEE, "live": "true"})
    assert parse(listed.text).find(f".//tr[@id='token-{key.key_id}']") is not None
    revoked = operator.post(
        f"/admin/tokens/{key.key_id}/revoke",
        data={"csrf_token": csrf(operator), "back": "/admin/tokens"},
    )
    assert revoked.status_code == 303 and revoked.headers["location"].startswith("/admin/tokens")
    assert httpx.get(f"{served.url}/api/v1/catalog", headers=bearer).status_code == 401
    assert f"revoked token {key.key_id}" in last_admin_record(served).statement


def test_a_token_is_refused_a_role_the_service_does_not_hold(
    served: World, operator: httpx.Client
) -> None:
    service = served.platform.people.create(GRANTEE, "reader", [Role.analyst], kind="service")
    answer = operator.post(
        f"/admin/people/{service.person_id}/tokens",
        data={"csrf_token": csrf(operator), "role": "operator", "scopes": "read"},
    )
    assert answer.status_code == 409
    assert served.platform.keys.list(person_id=service.person_id) == []


def test_disabling_a_person_stops_their_token_and_session(
    served: World, operator: httpx.Client
) -> None:
    person = served.platform.people.create(
        SAME_SECTOR, "이서준", [Role.analyst], login="lee.seojun", password="a long enough pass"
    )
    _, token = served.platform.keys.create(SAME_SECTOR, Role.analyst, person_id=person.person_id)
    bearer = {"Authorization": f"Bearer {token}"}
    with closing(sign_in(served.url, token)) as browser:
        assert browser.get("/").status_code == 200
        answer = operator.post(
            f"/admin/people/{person.person_id}/disable", data={"csrf_token": csrf(operator)}
        )
        assert answer.status_code == 303
        assert httpx.get(f"{served.url}/api/v1/catalog", headers=bearer).status_code == 401
        assert browser.get("/").status_code == 303  # back to sign-in
        page = parse(operator.get(answer.headers["location"]).text)
        assert page.find(".//p[@id='admin-done']") is not None
        assert (
            operator.post(
                f"/admin/people/{person.person_id}/enable", data={"csrf_token": csrf(operator)}
            ).status_code
            == 303
        )
        assert httpx.get(f"{served.url}/api/v1/catalog", headers=bearer).status_code == 200


def test_roles_set_and_an_operator_may_not_lock_themselves_out(
    served: World, operator: httpx.Client
) -> None:
    person = served.platform.people.create(GRANTEE, "Park", [Role.analyst], login="park.h")
    answer = operator.post(
        f"/admin/people/{person.person_id}/roles",
        data={"csrf_token": csrf(operator), "roles": ["analyst", "secretariat"]},
    )
    assert answer.status_code == 303
    assert served.platform.people.get(person.person_id).roles == (Role.analyst, Role.secretariat)
    none = operator.post(
        f"/admin/people/{person.person_id}/roles", data={"csrf_token": csrf(operator)}
    )
    assert none.status_code == 400
    own = operator_person(served)
    for act in ("disable", "roles"):
        refused = operator.post(
            f"/admin/people/{own}/{act}", data={"csrf_token": csrf(operator), "roles": "analyst"}
        )
        assert refused.status_code == 409
    assert served.platform.people.get(own).active


def test_resetting_a_second_factor(served: World, operator: httpx.Client) -> None:
    person = served.platform.people.create(
        OWNER, "Choi", [Role.steward], login="choi.steward", password="a long enough pass"
    )
    secret = served.platform.people.begin_totp(person.person_id)
    assert served.platform.people.confirm_totp(person.person_id, pyotp.TOTP(secret).now())
    assert served.platform.people.get(person.person_id).mfa_enrolled
    answer = operator.post(
        f"/admin/people/{person.person_id}/reset-mfa", data={"csrf_token": csrf(operator)}
    )
    assert answer.status_code == 303
    assert not served.platform.people.get(person.person_id).mfa_enrolled
    assert served.platform.people.recovery_codes_left(person.person_id) == 0
    assert "reset the second factor" in last_admin_record(served).statement


def test_revoking_a_grant_needs_a_reason(served: World, operator: httpx.Client) -> None:
    (grant,) = served.platform.grants.list(agency=GRANTEE)
    listed = parse(operator.get("/admin/grants").text)
    assert listed.find(f".//tr[@id='grant-{grant.grant_id}']") is not None
    path = f"/admin/grants/{grant.grant_id}/revoke"
    assert (
        operator.post(path, data={"csrf_token": csrf(operator), "reason": " "}).status_code == 400
    )
    assert served.platform.grants.list(agency=GRANTEE)
    answer = operator.post(path, data={"csrf_token": csrf(operator), "reason": "study ended"})
    assert answer.status_code == 303
    assert served.platform.grants.list(agency=GRANTEE) == []
    record = last_admin_record(served)
    assert record.datasets == ("cases_restricted",) and "study ended" in record.statement
    every = parse(operator.get("/admin/grants", params={"all": "true"}).text)
    assert every.find(f".//tr[@id='grant-{grant.grant_id}']") is not None


def test_the_audit_log_filters_by_person_agency_dataset_and_kind(
    served: World, operator: httpx.Client
) -> None:
    assert (
        served.sql(GRANTEE, "SELECT count(*) FROM welfare_safety.cases_public").status_code == 200
    )
    own = operator_person(served)
    filters = {
        "person": (own, 2),
        "agency": (GRANTEE, 5),
        "dataset": ("cases_public", 9),
        "kind": ("sql", 7),
    }
    for name, (value, column) in filters.items():
        answer = operator.get("/admin/audit", params={name: value})
        assert answer.status_code == 200
        _, rows = table(parse(answer.text), "audit")
        assert rows, name
        assert all(value in row[column] for row in rows), (name, rows[:2])
    read = served.platform.audit.records(kind="audit", person=own, limit=1)[0]
    assert read.statement.startswith("GET /admin/audit?kind=sql") and read.rows


def test_verify_and_export(served: World, operator: httpx.Client) -> None:
    verified = parse(operator.get("/admin/audit/verify").text)
    result = verified.find(".//div[@id='verify-result']")
    assert result is not None and result.attrib["class"] == "ok"
    answer = operator.get("/admin/audit/export")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in answer.text.splitlines()]
    checked = verify_chain(lines)
    assert checked.ok and checked.count == len(lines) > 10
    assert any(line.get("person") for line in lines)
    (done,) = served.platform.audit.records(kind="audit", limit=1)
    assert done.statement.endswith("export") and done.rows == len(lines)


def test_deliveries_of_every_agency(served: World, operator: httpx.Client) -> None:
    _, rows = table(parse(operator.get("/admin/deliveries").text), "deliveries")
    assert len(rows) == 4
    published = operator.get("/admin/deliveries", params={"state": "published", "agency": OWNER})
    assert len(table(parse(published.text), "deliveries")[1]) == 4
    other = parse(operator.get("/admin/deliveries", params={"agency": GRANTEE}).text)
    assert other.find(".//table[@id='deliveries']") is None


def test_the_settings_page_never_shows_a_secret(operator: httpx.Client) -> None:
    answer = operator.get("/admin/settings")
    assert answer.status_code == 200
    for secret in (SMTP_PASSWORD, LINEAGE_KEY, URL_PASSWORD, TOKEN_SECRET):
        assert secret.encode() not in answer.content
    page = parse(answer.text)
    for name in ("smtp_password", "lineage_api_key", "token_secret"):
        assert text(page.find(f".//tr[@id='setting-{name}']/td[@class='value']")) == "•••• (설정됨)"
    assert "(설정 안 됨)" in text(page.find(".//tr[@id='setting-s3_secret_key']"))
    assert "ops:***@127.0.0.1" in text(page.find(".//tr[@id='setting-public_url']"))
    issuer = page.find(".//tr[@id='setting-token_issuer']/td[@class='value']")
    assert text(issuer) == "https://sso.gongyu.example"  # not a secret: shown
    assert "(not set)" in operator.get("/admin/settings?lang=en").text


def test_passwords_in_addresses_are_dropped() -> None:
    url = "postgresql+psycopg2://gongyu:pa55word@db:5432/gongyu"
    assert without_password(url) == "postgresql+psycopg2://gongyu:***@db:5432/gongyu"
    assert without_password("http://u:pw@host:8080/x") == "http://u:***@host:8080/x"
    assert without_password("sqlite:///tmp/catalog.db") == "sqlite:///tmp/catalog.db"


def test_every_console_label_is_in_both_languages() -> None:
    messages = catalogue()
    sources = [p.read_text(encoding="utf-8") for p in ADMIN_TEMPLATES.glob("*.html")]
    code = "".join(p.read_text(encoding="utf-8") for p in ADMIN_CODE.glob("*.py"))
    used = {k for src in sources for k in re.findall(r"\bt\('([a-z_.]+)'[,)]", src)}
    used |= set(re.findall(r'"(admin\.[a-z_]+)"', code))
    dynamic = [
        *(f"admin.done_{d}" for d in people_pages.DONE),
        *(f"admin.kind_{k}" for k in people_pages.KINDS),
        *(f"admin.scope_{s}" for s in Scope),
        *(f"admin.secret_{s}" for s in ("set", "unset")),
    ]
    assert len(used) > 100
    missing = sorted(k for k in (*used, *dynamic) if k not in messages)
    assert not missing, f"add to api/web/messages.yaml: {missing}"
    for source in sources:  # Korean comes from the catalogue, never from a template
        assert not re.search(r"[\uac00-\ud7a3]", source)


def test_a_grant_an_approval_made_is_revoked_through_its_request(
    served: World, operator: httpx.Client
) -> None:
    platform = served.platform

    def caller(agency: str, role: Role) -> Principal:
        return Principal(subject=f"test:{agency}", agency=agency, role=role, via="api_key")

    asked = platform.requests.create(
        caller(OTHER_SECTOR, Role.analyst),
        platform.contract("cases_sector"),
        purpose="교통안전 연구 (road safety study)",
        legal_basis=LegalBasis.public_task,
    )
    for step in asked.waiting_for:  # the owner's steward, then (for the secretariat) an operator
        role = Role.steward if step == "owner" else Role.operator
        asked = platform.requests.approve(caller(OWNER, role), asked.request_id)
    assert asked.state == RequestState.approved and asked.grant_id
    answer = operator.post(
        f"/admin/grants/{asked.grant_id}/revoke",
        data={"csrf_token": csrf(operator), "reason": "the study was cancelled"},
    )
    assert answer.status_code == 303
    request = platform.requests.seen_by(caller(OWNER, Role.operator), asked.request_id)
    assert request.state == RequestState.revoked and request.reason == "the study was cancelled"
    assert platform.grants.list(agency=OTHER_SECTOR, dataset_id="cases_sector") == []
    notices = platform.notices.for_principal(caller(OTHER_SECTOR, Role.analyst), limit=5)
    assert any(n.kind == "grant_revoked" for n in notices)
