"""Notices: stored per recipient, shown by agency and role, mailed through a real SMTP server on
loopback (aiosmtpd) in Korean then English, kept and resent when the server is down; grants
ending within 14 days are announced once; no notice carries a data value."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine

from catalog.access.grants import Grant, Grants, korean_today
from catalog.access.keys import UnknownAgency
from catalog.access.mail import Mailer
from catalog.access.notices import Notice, NoticeKind, Notices, render
from catalog.access.principal import Principal, Role
from catalog.db import connect
from contracts.loader import load_contracts
from contracts.model import Contract
from gongyu.ground.settings import Settings
from sectors.registry import Registry, load_registry
from tests.smtp import Inbox, free_port, text_of

DATASET = "police_drunk_driving_detections"  # knpa's, in welfare_safety (secretariat: nhis)
PUBLIC_URL = "https://gongyu.example.go.kr"
LOGGER = "catalog.access.notices"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry()


@pytest.fixture(scope="module")
def contracts(registry: Registry) -> dict[str, Contract]:
    return {c.id: c for c in load_contracts(registry=registry)}


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return connect(f"sqlite:///{tmp_path}/c.db")


def mailer(port: int) -> Mailer:
    return Mailer("127.0.0.1", port, "gongyu@example.go.kr")


def planted(contract: Contract) -> list[str]:
    """Data values a careless notice might quote: the contract's sample values and the start of
    its description (short numbers such as `1` or `29` also occur in dates and ids)."""
    values = [str(v) for c in contract.columns for v in c.examples if len(str(v)) >= 3]
    assert {"0.095", "측정거부", "평택경찰서", "2022-07-09 02:30"} <= set(values)
    return values


def test_request_received_is_stored_and_mailed_in_korean_then_english(
    engine: Engine, registry: Registry, contracts: dict[str, Contract], smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    contract = contracts[DATASET]
    notices = Notices(engine, registry, mailer(port), PUBLIC_URL + "/")
    [notice] = notices.post(
        NoticeKind.request_received,
        dataset=contract,
        to=[("knpa", Role.steward)],
        request_id="req0001",
        other_agency="koroad",
    )
    assert (notice.agency, notice.role, notice.kind) == ("knpa", Role.steward, "request_received")
    assert (notice.request_id, notice.dataset_id, notice.other_agency) == (
        "req0001",
        DATASET,
        "koroad",
    )
    assert notice.mailed_at is not None
    assert notices.unsent() == []
    steward = Principal(subject="s", agency="knpa", role=Role.steward, via="api_key")
    assert notices.for_principal(steward) == [notice]

    [(rcpt, message)] = inbox.messages
    assert rcpt == ["data@police.go.kr"]
    assert message["To"] == "data@police.go.kr"
    assert message["From"] == "gongyu@example.go.kr"
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    subject = str(message["Subject"])
    assert subject.startswith("[공유] 새 이용 신청")
    assert subject.index("[공유]") < subject.index("[Gongyu] New access request")
    assert contract.title in subject

    body = text_of(message)
    korean, english = body.split("\n---\n")
    for part in (korean, english):
        assert contract.title in part
        assert DATASET in part
        assert "req0001" in part
        assert f"{PUBLIC_URL}/requests" in part
    assert "도로교통공단" in korean and "경찰청" in korean
    assert "Korea Road Traffic Authority" in english
    assert "Korean National Police Agency" in english
    assert "Korea Road Traffic Authority" not in korean
    assert "새 이용 신청" in korean and "access request" in english

    # No data value: no sample value of the contract, no description text, no purpose.
    for value in planted(contract):
        assert value not in body, value
    assert contract.description is None or contract.description[:20] not in body
    assert "목적" not in body and "purpose" not in body.lower()
    # The web page shows the same text as the mail.
    assert render(notice, "ko", registry, contract.title, PUBLIC_URL)[1].strip() == korean.strip()
    assert render(notice, "en", registry, contract.title, PUBLIC_URL)[1].strip() == english.strip()


def test_a_down_smtp_server_leaves_notices_unsent_and_send_unsent_mails_them_later(
    engine: Engine,
    registry: Registry,
    contracts: dict[str, Contract],
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()  # nothing listens there yet
    notices = Notices(engine, registry, mailer(port), PUBLIC_URL)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        [notice] = notices.post(
            NoticeKind.request_approved,
            dataset=contracts[DATASET],
            to=[("koroad", None)],
            request_id="req0002",
            grant_id="grant0002",
            other_agency="knpa",
        )
    assert notice.mailed_at is None
    [record] = [r for r in caplog.records if r.name == LOGGER]
    assert record.levelno == logging.WARNING
    assert record.exc_info is None and "\n" not in record.getMessage()
    assert notice.notice_id in record.getMessage()
    assert [n.notice_id for n in notices.unsent()] == [notice.notice_id]

    # The server is back: an operator resends, once.
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        assert notices.send_unsent(contracts) == 1
        assert notices.send_unsent(contracts) == 0
    finally:
        controller.stop()
    [(rcpt, message)] = inbox.messages
    assert rcpt == ["data@koroad.or.kr"]
    assert "이용 신청 승인" in str(message["Subject"])
    assert "grant0002" in text_of(message)
    assert notices.unsent() == []
    principal = Principal(subject="a", agency="koroad", role=Role.analyst, via="token")
    [stored] = notices.for_principal(principal)
    assert stored.mailed_at is not None


def test_a_refusing_smtp_server_is_logged_not_raised(
    engine: Engine,
    registry: Registry,
    contracts: dict[str, Contract],
    caplog: pytest.LogCaptureFixture,
) -> None:
    inbox = Inbox(refuse=True)
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        notices = Notices(engine, registry, mailer(controller.port), PUBLIC_URL)
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            posted = notices.post(
                NoticeKind.request_received,
                dataset=contracts[DATASET],
                to=[("knpa", Role.steward), ("nhis", Role.secretariat)],
                request_id="req0003",
                other_agency="koroad",
            )
    finally:
        controller.stop()
    assert [n.mailed_at for n in posted] == [None, None]
    warnings = [r for r in caplog.records if r.name == LOGGER]
    assert len(warnings) == 2 and all(r.exc_info is None for r in warnings)
    assert len(notices.unsent()) == 2


def test_without_a_mailer_notices_are_only_stored(
    engine: Engine, registry: Registry, contracts: dict[str, Contract]
) -> None:
    notices = Notices(engine, registry)
    [notice] = notices.post(
        NoticeKind.grant_revoked,
        dataset=contracts[DATASET],
        to=[("koroad", None)],
        grant_id="grant0004",
        other_agency="knpa",
    )
    assert notice.mailed_at is None
    assert notices.send_unsent(contracts) == 0
    assert Mailer.from_settings(Settings()) is None
    with pytest.raises(UnknownAgency):
        notices.post(NoticeKind.grant_revoked, dataset=contracts[DATASET], to=[("nobody", None)])


def test_mailer_from_settings() -> None:
    settings = Settings(
        smtp_host="mail.example.go.kr",
        smtp_port=587,
        smtp_from="gongyu@example.go.kr",
        smtp_starttls=True,
        smtp_username="gongyu",
        smtp_password="s3cret",
    )
    built = Mailer.from_settings(settings)
    assert built is not None
    assert (built.host, built.port, built.sender) == ("mail.example.go.kr", 587, settings.smtp_from)
    assert (built.starttls, built.username, built.password) == (True, "gongyu", "s3cret")
    assert "s3cret" not in repr(built)


def test_each_principal_sees_its_agency_and_role_and_operators_see_all(
    engine: Engine, registry: Registry, contracts: dict[str, Contract]
) -> None:
    notices = Notices(engine, registry)
    contract = contracts[DATASET]

    def post(to: list[tuple[str, Role | None]]) -> list[Notice]:
        return notices.post(
            NoticeKind.request_received,
            dataset=contract,
            to=to,
            request_id="req0005",
            other_agency="koroad",
        )

    to_steward, to_secretariat = post([("knpa", Role.steward), ("nhis", Role.secretariat)])
    [to_knpa] = post([("knpa", None)])
    [to_analyst] = post([("knpa", Role.analyst), ("knpa", Role.analyst)])  # one notice

    def seen(agency: str, role: Role, limit: int = 50) -> list[str]:
        principal = Principal(subject="x", agency=agency, role=role, via="api_key")
        return [n.notice_id for n in notices.for_principal(principal, limit)]

    # Newest first.
    assert seen("knpa", Role.steward) == [to_knpa.notice_id, to_steward.notice_id]
    assert seen("knpa", Role.analyst) == [to_analyst.notice_id, to_knpa.notice_id]
    assert seen("knpa", Role.secretariat) == [to_knpa.notice_id]
    assert seen("nhis", Role.secretariat) == [to_secretariat.notice_id]
    assert seen("nhis", Role.steward) == []
    assert seen("koroad", Role.steward) == []
    everything = seen("mois", Role.operator)
    assert everything[:2] == [to_analyst.notice_id, to_knpa.notice_id]
    # Posted together, so in either order.
    assert set(everything[2:]) == {to_secretariat.notice_id, to_steward.notice_id}
    assert seen("mois", Role.operator, limit=1) == [to_analyst.notice_id]


def test_grants_ending_within_14_days_are_announced_once(
    engine: Engine, registry: Registry, contracts: dict[str, Contract], smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    contract = contracts[DATASET]
    grants = Grants(engine, registry)
    today = korean_today()
    purpose = "야간 단속 효과 연구"  # planted: free text a notice must not quote

    def grant(agency: str, expires: date, made: date = today, **extra: Any) -> Grant:
        return grants.add(contract, agency, purpose, expires, created_by="t", today=made, **extra)

    ends_today = grant("koroad", today, row_filter="sex = '여자'")
    ends_on_day_14 = grant("nhis", today + timedelta(days=14))
    ends_on_day_15 = grant("hira", today + timedelta(days=15))
    revoked = grants.revoke(grant("mois", today + timedelta(days=3)).grant_id)
    expired = grant("koroad", today - timedelta(days=1), made=today - timedelta(days=1))
    everything = grants.list(include_expired=True)
    assert {g.grant_id for g in everything} >= {revoked.grant_id, expired.grant_id}
    assert ends_on_day_15.grant_id in {g.grant_id for g in everything}

    notices = Notices(engine, registry, mailer(port), PUBLIC_URL)
    posted = notices.remind_endings(everything, contracts, today=today)
    assert {(n.grant_id, n.agency, n.role) for n in posted} == {
        (ends_today.grant_id, "koroad", None),
        (ends_on_day_14.grant_id, "nhis", None),
    }
    assert all(n.kind == NoticeKind.grant_ending and n.other_agency == "knpa" for n in posted)
    assert all(n.mailed_at is not None for n in posted)
    # Run again: nothing new. The next day, the grant ending on day 15 enters the window.
    assert notices.remind_endings(everything, contracts, today=today) == []
    tomorrow = today + timedelta(days=1)
    [later] = notices.remind_endings(grants.list(today=tomorrow), contracts, today=tomorrow)
    assert (later.grant_id, later.agency) == (ends_on_day_15.grant_id, "hira")
    assert notices.remind_endings(grants.list(today=tomorrow), contracts, today=tomorrow) == []

    assert sorted(rcpt for [rcpt], _ in inbox.messages) == [
        "data@hira.or.kr",
        "data@koroad.or.kr",
        "data@nhis.or.kr",
    ]
    for _, message in inbox.messages:
        body = text_of(message)
        korean, english = body.split("\n---\n")
        assert "14일 안에" in korean and "within 14 days" in english
        assert f"{PUBLIC_URL}/datasets/{DATASET}" in korean
        assert "경찰청" in korean and "Korean National Police Agency" in english
        assert purpose not in body and "여자" not in body and "sex" not in body
        for value in planted(contract):
            assert value not in body, value


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_every_kind_reads_in_korean_and_english_with_its_link(
    kind: NoticeKind, registry: Registry, contracts: dict[str, Contract]
) -> None:
    contract = contracts[DATASET]
    notice = Notice(
        notice_id="n" * 32,
        agency="koroad",
        kind=kind,
        request_id="req0006",
        grant_id="grant0006",
        dataset_id=DATASET,
        other_agency="knpa",
        created_at=datetime(2026, 3, 31, 15, 0, tzinfo=UTC),  # 1 April in Korea
    )
    link = f"{PUBLIC_URL}/requests" if kind.startswith("request_") else f"{PUBLIC_URL}/datasets/"
    for lang, owner in (("ko", "경찰청"), ("en", "Korean National Police Agency")):
        subject, body = render(notice, lang, registry, contract.title, PUBLIC_URL)
        assert contract.title in subject
        assert contract.title in body and DATASET in body and owner in body
        assert "2026-04-01" in body and link in body
    ko_subject, _ = render(notice, "ko", registry, contract.title, PUBLIC_URL)
    en_subject, _ = render(notice, "en", registry, contract.title, PUBLIC_URL)
    assert ko_subject != en_subject
