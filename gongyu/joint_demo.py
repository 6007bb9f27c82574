"""The demo's joint use: requests on real datasets decided as their contracts route them, then
the sectors' joint products built from what was granted.

1. the welfare secretariat's analyst (nhis) asks for KoROAD's fatal-accident table, whose
   contract approves sector members automatically;
2. KoROAD's analyst asks for the police agency's restricted drunk-driving table, whose contract
   needs the police steward and the welfare secretariat: both approve (the steward narrows the
   period), and the analyst queries it through the SQL API's sandbox;
3. the transport authority (kotsa) asks for the same table and the police steward denies it;
4. the welfare secretariat (nhis) asks for the same table for its joint product: the police
   steward approves, and an operator in the secretariat's stead (nobody decides their own).

Then (`run_joint_products`) both shipped products are built through Dagster, and KPX re-delivers
its generation file in UTF-8: its table gets a new snapshot and the energy product is rebuilt
from it, its snapshot naming both inputs' snapshots.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from assets.runner import Dagster, ProductRun, run_pending, run_products
from catalog.access.grants import korean_today
from catalog.access.principal import Principal, Role
from catalog.access.requests import AccessRequest, LegalBasis
from gongyu.platform import Platform
from gongyu.query.query import QueryService, audit_query
from gongyu.query.running import Limits

DRUNK = "police_drunk_driving_detections"
ACCIDENTS = "koroad_fatal_traffic_accidents"
POWER = "regional_power_generation_by_fuel"
QUERY = f"SELECT sex, count(*) AS detections FROM welfare_safety.{DRUNK} GROUP BY 1 ORDER BY 1"


@dataclass(frozen=True)
class JointStep:
    """One request of the demo and how it ended."""

    story: str
    request: AccessRequest
    rows_read: int | None = None


def person(agency: str, role: Role) -> Principal:
    """A demo caller (the keys the served demo prints act for the same agencies)."""
    return Principal(subject=f"demo:{agency}-{role.value}", agency=agency, role=role, via="api_key")


def run_joint_use(platform: Platform) -> list[JointStep]:
    """Make, route and decide the demo's three requests; query the one granted to KoROAD."""
    requests = platform.requests
    nhis, koroad, kotsa = (person(a, Role.analyst) for a in ("nhis", "koroad", "kotsa"))
    police, secretariat = person("knpa", Role.steward), person("nhis", Role.secretariat)
    automatic = requests.create(
        nhis,
        platform.contract(ACCIDENTS),
        purpose="건강보험 진료비 분석에 교통사고 사망 통계 연계 (linking road deaths to claims)",
        legal_basis=LegalBasis.public_task,
    )
    asked = requests.create(
        koroad,
        platform.contract(DRUNK),
        purpose="음주운전 적발과 교통사고의 관계 분석 (drunk driving and road accidents)",
        legal_basis=LegalBasis.pseudonymised_research,
        columns=("blood_alcohol", "detection_count"),
    )
    requests.approve(
        police, asked.request_id, until=korean_today() + timedelta(days=90), note="90일로 단축"
    )
    approved = requests.approve(secretariat, asked.request_id, note="사무국 검토 완료")
    rows = query(platform, koroad, QUERY)
    refused = requests.create(
        kotsa,
        platform.contract(DRUNK),
        purpose="자동차 검사소 입지 분석 (inspection centre siting)",
        legal_basis=LegalBasis.public_task,
    )
    denied = requests.deny(
        police,
        refused.request_id,
        "검사소 입지 분석에는 개인 단위 적발 기록이 필요하지 않습니다. 공개된 시·도별 통계를 "
        "이용해 주세요 (person-level records are not needed; use the public regional counts).",
    )
    for_product = requests.create(
        person("nhis", Role.secretariat),
        platform.contract(DRUNK),
        purpose="월별 교통사고 사망과 음주운전 적발 공동 상품 (the sector's joint product)",
        legal_basis=LegalBasis.public_task,
    )
    requests.approve(police, for_product.request_id, note="집계만 공개하는 조건 (counts only)")
    product_grant = requests.approve(
        person("mois", Role.operator), for_product.request_id, note="간사기관 신청: 운영자 결정"
    )
    return [
        JointStep("automatic approval for a sector member", automatic),
        JointStep("approved by the owner and the secretariat, then queried", approved, rows),
        JointStep("denied with a reason", denied),
        JointStep("the secretariat's own request, decided by an operator", product_grant),
    ]


@dataclass(frozen=True)
class ProductStep:
    """One product run of the demo: the build it landed and why it failed, if it did."""

    story: str
    run: ProductRun

    @property
    def ok(self) -> bool:
        """True when the run published a build."""
        delivery = self.run.delivery
        return self.run.failure is None and delivery is not None and delivery.state == "published"


def run_joint_products(platform: Platform, power_file: Path, dagster: Dagster) -> list[ProductStep]:
    """Build every product through Dagster, then rebuild the energy product after KPX delivers
    `power_file` (its CP949 generation file) again in UTF-8."""
    defs, instance = dagster
    steps = [
        ProductStep("built from two agencies' tables", r)
        for r in run_products(platform, defs, instance=instance)
    ]
    source = power_file
    again = platform.workspace.root / "demo-inputs" / "regional_power_generation_by_fuel_utf8.csv"
    again.parent.mkdir(parents=True, exist_ok=True)
    again.write_text(source.read_text(encoding="cp949"), encoding="utf-8")
    platform.deliver(POWER, again)
    list(run_pending(platform, defs=defs, instance=instance))
    steps += [
        ProductStep("rebuilt after KPX re-delivered an input (UTF-8)", r)
        for r in run_products(platform, defs, instance=instance)
    ]
    return steps


def query(platform: Platform, principal: Principal, sql: str) -> int:
    """Run `sql` as the principal through the SQL API's sandbox, audited as the API audits a
    query; the rows it read."""
    limits = Limits.of(platform.settings)
    started = time.perf_counter()
    answer = QueryService(platform, limits).run(principal, sql)
    try:
        rows = sum(batch.num_rows for batch in answer.stream())
    finally:
        answer.close()
    audit_query(platform.audit, principal, sql, answer, started)
    return rows
