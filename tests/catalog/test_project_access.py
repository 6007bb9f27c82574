"""Access held by an AI project: a request made for a project grants every member agency, ends
no later than the project, and ends with it (an earlier end moves the grants' expiry, a stop
revokes them at once), each change on the audit chain; the project's partner agency queries the
dataset in the SQL sandbox until the project stops."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from catalog.access.audit import AuditKind
from catalog.access.grants import korean_today
from catalog.access.principal import Principal, Role
from catalog.access.requests import (
    LegalBasis,
    RequestConflict,
    RequestError,
    RequestRefused,
    RequestState,
)
from catalog.ledger.projects import ProjectSpec, ProjectStatus, UnknownProject
from gongyu.platform import Platform
from gongyu.query.query import QueryError, QueryService
from gongyu.query.running import Limits
from tests.api.world import OWNER, build_platform

DATASET = "cases_restricted"  # knpa's restricted table (owner approval)
SQL = f"SELECT count(*) AS n FROM welfare_safety.{DATASET}"
LEAD, PARTNER, OUTSIDER = "koroad", "kotsa", "nhis"
PROJECT = "accident_risk_joint"


def person(agency: str, role: Role) -> Principal:
    return Principal(subject=f"test:{agency}-{role.value}", agency=agency, role=role, via="api_key")


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """The test tables published once for the module (publishing is the slow part)."""
    yield build_platform(tmp_path_factory.mktemp("project-access"))


@pytest.fixture
def platform(published: Platform) -> Iterator[Platform]:
    """The module's platform with a fresh project for each test (grants of other tests end)."""
    ledger = published.projects
    spec = spec_of(end=korean_today() + timedelta(days=200))
    lead = person(LEAD, Role.steward)
    try:
        ledger.get(PROJECT)
    except UnknownProject:
        ledger.register(lead, spec)
    else:  # stopping it ends the grants an earlier test made
        ledger.update(lead, spec.model_copy(update={"status": ProjectStatus.stopped}))
        ledger.update(lead, spec)
    yield published


def spec_of(**changes: object) -> ProjectSpec:
    base = {
        "id": PROJECT,
        "title": "교통사고 위험도 공동 예측",
        "purpose": "음주운전 적발 기록으로 교통사고 위험 지역을 예측한다",
        "sectors": ["welfare_safety", "transport_logistics"],
        "lead": LEAD,
        "partners": [PARTNER],
        "start": korean_today() - timedelta(days=30),
        "status": "in_service",
        "datasets": [DATASET],
    }
    return ProjectSpec.model_validate(base | changes)


def ask_and_approve(platform: Platform, **terms: object) -> str:
    """The lead's analyst asks for the project, the owning steward approves: the request id."""
    asked = platform.requests.create(
        person(LEAD, Role.analyst),
        platform.contract(DATASET),
        legal_basis=LegalBasis.public_task,
        project_id=PROJECT,
        **terms,  # type: ignore[arg-type]
    )
    approved = platform.requests.approve(person(OWNER, Role.steward), asked.request_id)
    assert approved.state == RequestState.approved
    return approved.request_id


def rows(platform: Platform, agency: str) -> int:
    answer = QueryService(platform, Limits.of(platform.settings)).run(
        person(agency, Role.analyst), SQL
    )
    try:
        return sum(batch.num_rows for batch in answer.stream())
    finally:
        answer.close()


def project_grants(platform: Platform, request_id: str) -> dict[str, tuple[date, bool]]:
    return {
        g.agency: (g.expires, g.revoked_at is not None)
        for g in platform.grants.made_by(f"request:{request_id}")
    }


def test_a_request_for_a_project_grants_every_member_until_the_project_ends(
    platform: Platform,
) -> None:
    end = platform.projects.get(PROJECT).spec.end
    request_id = ask_and_approve(platform)
    request = platform.requests.get(request_id)
    assert request.project_id == PROJECT
    assert request.purpose == spec_of().purpose  # the project's, as none was given
    assert request.until == end  # no later than the project (the contract allows 365 days)
    grants = platform.grants.made_by(f"request:{request_id}")
    assert {g.agency for g in grants} == {LEAD, PARTNER}
    assert {g.project_id for g in grants} == {PROJECT}
    assert {g.expires for g in grants} == {end}


def test_only_members_ask_and_never_past_the_project_end(platform: Platform) -> None:
    contract = platform.contract(DATASET)
    with pytest.raises(RequestRefused, match="member agencies"):
        platform.requests.create(
            person(OUTSIDER, Role.analyst),
            contract,
            legal_basis=LegalBasis.public_task,
            project_id=PROJECT,
        )
    end = platform.projects.get(PROJECT).spec.end
    assert end is not None
    with pytest.raises(RequestError, match=f"ends {end}"):
        platform.requests.create(
            person(PARTNER, Role.analyst),
            contract,
            legal_basis=LegalBasis.public_task,
            project_id=PROJECT,
            until=end + timedelta(days=1),
        )
    with pytest.raises(RequestError, match="no project"):
        platform.requests.create(
            person(PARTNER, Role.analyst),
            contract,
            legal_basis=LegalBasis.public_task,
            project_id="no_such_project",
        )


def test_an_earlier_end_moves_the_grants_and_is_audited(platform: Platform) -> None:
    request_id = ask_and_approve(platform)
    earlier = korean_today() + timedelta(days=10)
    platform.projects.update(person(LEAD, Role.steward), spec_of(end=earlier))
    assert project_grants(platform, request_id) == {
        LEAD: (earlier, False),
        PARTNER: (earlier, False),
    }
    records = [
        r
        for r in platform.audit.records()
        if r.kind == AuditKind.access and f"of project {PROJECT} shortened" in r.statement
    ]
    assert len(records) >= 2 and {DATASET} == {d for r in records[:2] for d in r.datasets}
    # A grant held by the project ends with it: the day after its end, nobody reads by it.
    after = earlier + timedelta(days=1)
    assert not platform.grants.active(PARTNER, DATASET, today=after)
    assert platform.requests.sweep(today=after) == [request_id]
    assert platform.requests.get(request_id).state == RequestState.expired


def test_the_partner_queries_until_the_project_stops(platform: Platform) -> None:
    with pytest.raises(QueryError):
        rows(platform, PARTNER)  # nothing granted yet: the table is not there for kotsa
    request_id = ask_and_approve(platform)
    assert rows(platform, PARTNER) == 1  # one row: the count

    platform.projects.update(person(LEAD, Role.steward), spec_of(status=ProjectStatus.stopped))
    assert all(revoked for _, revoked in project_grants(platform, request_id).values())
    with pytest.raises(QueryError):
        rows(platform, PARTNER)
    assert any(
        f"of project {PROJECT} revoked" in r.statement and "stopped" in r.statement
        for r in platform.audit.records()
    )
    platform.requests.sweep()
    stopped = platform.requests.get(request_id)
    assert stopped.state == RequestState.revoked and PROJECT in (stopped.reason or "")
    with pytest.raises(RequestConflict, match="stopped"):
        platform.requests.create(
            person(LEAD, Role.analyst),
            platform.contract(DATASET),
            legal_basis=LegalBasis.public_task,
            project_id=PROJECT,
        )


def test_a_partner_dropped_from_the_project_loses_its_grant(platform: Platform) -> None:
    request_id = ask_and_approve(platform)
    platform.projects.update(person(LEAD, Role.steward), spec_of(partners=[]))
    grants = project_grants(platform, request_id)
    assert grants[PARTNER][1] is True and grants[LEAD][1] is False
    assert rows(platform, LEAD) == 1  # the lead keeps reading


def test_revoking_the_request_revokes_every_member_grant(platform: Platform) -> None:
    request_id = ask_and_approve(platform)
    platform.requests.revoke(person(OWNER, Role.steward), request_id, "목적 외 이용")
    assert all(revoked for _, revoked in project_grants(platform, request_id).values())
