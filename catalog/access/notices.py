"""Notices about access requests and grants: kept for the web pages, mailed when SMTP is set.

A notice names only what happened (its kind), the dataset (title and id), the agencies, ids and
dates; never a data value, nor a request's purpose, row filter or reason, which are free text a
person may have filled with data. Everything a person reads is in Korean first, then English.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from catalog.access.grants import KOREA, Grant, korean_today
from catalog.access.keys import require_agency
from catalog.access.mail import Mailer
from catalog.access.principal import Principal, Role
from catalog.access.requestable import Requestable
from catalog.db import notices
from contracts.model import Contract
from sectors.registry import Registry

log = logging.getLogger(__name__)

ENDING_DAYS = 14  # a grantee hears this many days ahead that its grant ends


class NoticeKind(StrEnum):
    """What a notice tells. `other_agency` is the requester in notices to deciders (received,
    withdrawn), the owner in notices to the requester or grantee (all other kinds)."""

    request_received = "request_received"  # to deciders: a new request waits for them
    request_approved = "request_approved"  # to the requester
    request_denied = "request_denied"  # to the requester
    request_withdrawn = "request_withdrawn"  # to deciders: the requester took it back
    request_expired = "request_expired"  # to the requester: the approved period has ended
    grant_revoked = "grant_revoked"  # to the grantee
    grant_ending = "grant_ending"  # to the grantee: the grant ends within ENDING_DAYS


REQUEST_KINDS = frozenset(
    {
        NoticeKind.request_received,
        NoticeKind.request_approved,
        NoticeKind.request_denied,
        NoticeKind.request_withdrawn,
        NoticeKind.request_expired,
    }
)


class Notice(BaseModel):
    """One notice to one agency (to one role in it, or to anyone of it when `role` is None)."""

    notice_id: str
    agency: str = Field(description="The recipient agency.")
    role: Role | None = Field(None, description="The recipient role; None: anyone of the agency.")
    kind: NoticeKind
    request_id: str | None = None
    grant_id: str | None = None
    dataset_id: str
    other_agency: str | None = Field(
        None, description="The other party: the requester for the owner, the owner for others."
    )
    created_at: datetime
    mailed_at: datetime | None = None

    @field_validator("created_at", "mailed_at")
    @classmethod
    def _aware(cls, moment: datetime | None) -> datetime | None:
        # SQLite hands back naive datetimes; they were stored in UTC.
        if moment is not None and moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment


class Notices:
    """The notices in the catalog database, and the mailer that sends them (if any)."""

    def __init__(
        self,
        engine: Engine,
        registry: Registry,
        mailer: Mailer | None = None,
        public_url: str = "",
    ) -> None:
        self.engine = engine
        self.registry = registry
        self.mailer = mailer
        self.public_url = public_url.rstrip("/")

    def post(
        self,
        kind: NoticeKind,
        *,
        dataset: Requestable,
        to: list[tuple[str, Role | None]],
        request_id: str | None = None,
        grant_id: str | None = None,
        other_agency: str | None = None,
    ) -> list[Notice]:
        """Store one notice per recipient (agency, role) and mail each; mail failures are logged,
        never raised (the notice stays unsent, see `send_unsent`)."""
        recipients = list(dict.fromkeys(to))  # the same recipient twice gets one notice
        for agency, _role in recipients:
            require_agency(self.registry, agency)
        now = datetime.now(UTC)
        posted = [
            Notice(
                notice_id=secrets.token_hex(16),
                agency=agency,
                role=role,
                kind=NoticeKind(kind),
                request_id=request_id,
                grant_id=grant_id,
                dataset_id=dataset.id,
                other_agency=other_agency,
                created_at=now,
            )
            for agency, role in recipients
        ]
        if posted:
            with self.engine.begin() as conn:
                conn.execute(insert(notices), [_row(n) for n in posted])
        return [self._mail(n, dataset.title) for n in posted]

    def for_principal(self, principal: Principal, limit: int = 50) -> list[Notice]:
        """The notices a caller sees, newest first: its agency's, to its role or to anyone of
        it; operators see every notice."""
        query = select(notices).order_by(notices.c.created_at.desc(), notices.c.notice_id.desc())
        if principal.role != Role.operator:
            query = query.where(
                (notices.c.agency == principal.agency)
                & (notices.c.role.is_(None) | (notices.c.role == principal.role.value))
            )
        with self.engine.connect() as conn:
            return [Notice.model_validate(r._mapping) for r in conn.execute(query.limit(limit))]

    def remind_endings(
        self,
        grants: Iterable[Grant],
        contracts: Mapping[str, Contract],
        today: date | None = None,
    ) -> list[Notice]:
        """Tell each grantee, once per grant, that an active grant ends within 14 days (KST);
        returns the notices posted now."""
        today = today or korean_today()
        last = today + timedelta(days=ENDING_DAYS)
        # A grant on a dataset no longer under contract opens nothing worth a reminder.
        ending = [
            g
            for g in grants
            if g.revoked_at is None and today <= g.expires <= last and g.dataset_id in contracts
        ]
        if not ending:
            return []
        with self.engine.connect() as conn:
            told = set(
                conn.execute(
                    select(notices.c.grant_id).where(
                        (notices.c.kind == NoticeKind.grant_ending.value)
                        & notices.c.grant_id.in_([g.grant_id for g in ending])
                    )
                ).scalars()
            )
        posted = []
        for grant in ending:
            if grant.grant_id in told:
                continue
            contract = contracts[grant.dataset_id]
            notice = Notice(
                notice_id=_ending_id(grant.grant_id),
                agency=grant.agency,
                role=None,
                kind=NoticeKind.grant_ending,
                grant_id=grant.grant_id,
                dataset_id=grant.dataset_id,
                other_agency=contract.agency,
                created_at=datetime.now(UTC),
            )
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(notices).values(**_row(notice)))
            except IntegrityError:
                continue  # another run posted it meanwhile
            told.add(grant.grant_id)
            posted.append(self._mail(notice, contract.title))
        return posted

    def unsent(self) -> list[Notice]:
        """Notices not (yet) mailed, oldest first."""
        query = (
            select(notices)
            .where(notices.c.mailed_at.is_(None))
            .order_by(notices.c.created_at, notices.c.notice_id)
        )
        with self.engine.connect() as conn:
            return [Notice.model_validate(r._mapping) for r in conn.execute(query)]

    def send_unsent(self, contracts: Mapping[str, Contract]) -> int:
        """Mail the notices not yet mailed (e.g. after an SMTP outage); returns how many went."""
        if self.mailer is None:
            return 0
        sent = 0
        for notice in self.unsent():
            contract = contracts.get(notice.dataset_id)
            # A dataset since retired keeps its id as its name.
            title = contract.title if contract is not None else notice.dataset_id
            if self._mail(notice, title).mailed_at is not None:
                sent += 1
        return sent

    def _mail(self, notice: Notice, dataset_title: str) -> Notice:
        """Mail a notice to its agency's contact; the notice with `mailed_at` set if it went."""
        if self.mailer is None:
            return notice
        agency = self.registry.agency(notice.agency)
        if agency is None:  # an agency since removed from sectors.yaml: nobody to write to
            log.warning("notice %s not mailed: unknown agency %s", notice.notice_id, notice.agency)
            return notice
        subject, body = mail_text(notice, self.registry, dataset_title, self.public_url)
        try:
            self.mailer.send(agency.contact, subject, body)
        except Exception as exc:  # any failure: the notice stays stored and unsent
            reason = " ".join(str(exc).split()) or "no detail"
            log.warning(
                "notice %s not mailed to %s: %s: %s",
                notice.notice_id,
                agency.contact,
                type(exc).__name__,
                reason,
            )
            return notice
        mailed_at = datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(
                update(notices)
                .where(notices.c.notice_id == notice.notice_id)
                .values(mailed_at=mailed_at)
            )
        return notice.model_copy(update={"mailed_at": mailed_at})


def _ending_id(grant_id: str) -> str:
    # Derived from the grant, so two reminder runs at once still store one notice (primary key).
    return hashlib.sha256(f"grant_ending:{grant_id}".encode()).hexdigest()[:32]


def _row(notice: Notice) -> dict[str, object]:
    row = notice.model_dump()
    row["role"] = notice.role.value if notice.role is not None else None
    row["kind"] = notice.kind.value
    return row


def mail_text(
    notice: Notice, registry: Registry, dataset_title: str, public_url: str
) -> tuple[str, str]:
    """The e-mail of a notice (subject, body): Korean, then English after a `---` line."""
    ko_subject, ko_body = render(notice, "ko", registry, dataset_title, public_url)
    en_subject, en_body = render(notice, "en", registry, dataset_title, public_url)
    return f"[공유] {ko_subject} / [Gongyu] {en_subject}", f"{ko_body}\n---\n{en_body}"


# Per kind and language: the subject, then the opening sentence. Agency names sit on labelled
# lines below it, not inside the sentence, so no Korean particle has to fit a name.
TEXTS: dict[NoticeKind, dict[str, tuple[str, str]]] = {
    NoticeKind.request_received: {
        "ko": ("새 이용 신청", "새 이용 신청이 접수되어 검토를 기다리고 있습니다."),
        "en": ("New access request", "A new access request is waiting for your review."),
    },
    NoticeKind.request_approved: {
        "ko": ("이용 신청 승인", "이용 신청이 승인되었습니다."),
        "en": ("Access request approved", "The access request has been approved."),
    },
    NoticeKind.request_denied: {
        "ko": ("이용 신청 거절", "이용 신청이 거절되었습니다."),
        "en": ("Access request denied", "The access request has been denied."),
    },
    NoticeKind.request_withdrawn: {
        "ko": (
            "이용 신청 철회",
            "신청 기관이 이용 신청을 철회했습니다. 더 검토하지 않아도 됩니다.",
        ),
        "en": (
            "Access request withdrawn",
            "The requesting agency has withdrawn its access request; it needs no further review.",
        ),
    },
    NoticeKind.request_expired: {
        "ko": (
            "이용 신청 만료",
            "승인된 이용 기간이 끝나 이용 신청이 만료되었습니다. "
            "계속 이용하려면 다시 신청해 주십시오.",
        ),
        "en": (
            "Access request expired",
            "The approved period of use has ended, so the access request has expired. "
            "To keep using the dataset, request access again.",
        ),
    },
    NoticeKind.grant_revoked: {
        "ko": (
            "이용 승인 취소",
            "귀 기관의 이용 승인이 취소되었습니다. 이제 이 데이터셋을 조회할 수 없습니다.",
        ),
        "en": (
            "Access grant revoked",
            "Your agency's access grant has been revoked; it can no longer query this dataset.",
        ),
    },
    NoticeKind.grant_ending: {
        "ko": (
            "이용 승인 종료 예정",
            f"귀 기관의 이용 승인이 {ENDING_DAYS}일 안에 끝납니다. "
            "계속 이용하려면 끝나기 전에 다시 신청해 주십시오.",
        ),
        "en": (
            "Access grant ending soon",
            f"Your agency's access grant ends within {ENDING_DAYS} days. "
            "To keep using the dataset, request access again before it ends.",
        ),
    },
}

# The closing line with the link: where the reader acts on the notice.
ACTIONS: dict[NoticeKind, dict[str, str]] = {
    NoticeKind.request_received: {
        "ko": "이용 신청 화면에서 검토하고 승인하거나 거절해 주십시오",
        "en": "Review it and approve or deny it on the access requests page",
    },
    NoticeKind.request_approved: {
        "ko": "이용 신청 화면에서 자세한 내용을 볼 수 있습니다",
        "en": "See the details on the access requests page",
    },
    NoticeKind.request_denied: {
        "ko": "거절 사유는 이용 신청 화면에서 볼 수 있습니다",
        "en": "See the reason on the access requests page",
    },
    NoticeKind.request_withdrawn: {
        "ko": "이용 신청 화면",
        "en": "Access requests page",
    },
    NoticeKind.request_expired: {
        "ko": "이용 신청 화면에서 자세한 내용을 볼 수 있습니다",
        "en": "See the details on the access requests page",
    },
    NoticeKind.grant_revoked: {
        "ko": "데이터셋 화면",
        "en": "Dataset page",
    },
    NoticeKind.grant_ending: {
        "ko": "데이터셋 화면에서 다시 신청할 수 있습니다",
        "en": "Request access again from the dataset page",
    },
}

# The label of `other_agency`: who the other party is to the reader.
OTHER_LABELS: dict[NoticeKind, dict[str, str]] = {
    NoticeKind.request_received: {"ko": "신청 기관", "en": "Requesting agency"},
    NoticeKind.request_withdrawn: {"ko": "신청 기관", "en": "Requesting agency"},
}
OWNER_LABEL = {"ko": "제공 기관", "en": "Providing agency"}

LABELS = {
    "ko": {
        "to": "받는 곳",
        "dataset": "데이터셋",
        "request": "신청 번호",
        "grant": "승인 번호",
        "date": "알림 날짜",
        "footer": "이 알림에는 데이터 값이 들어 있지 않습니다. "
        "공유 데이터 카탈로그에서 보냈습니다.",
    },
    "en": {
        "to": "To",
        "dataset": "Dataset",
        "request": "Request",
        "grant": "Grant",
        "date": "Date of notice",
        "footer": "This notice holds no data values. Sent by the Gongyu data catalog.",
    },
}

ROLE_NAMES = {
    "ko": {
        Role.steward: "데이터 관리자",
        Role.secretariat: "간사기관",
        Role.analyst: "분석가",
        Role.operator: "운영자",
    },
    "en": {
        Role.steward: "steward",
        Role.secretariat: "secretariat",
        Role.analyst: "analyst",
        Role.operator: "operator",
    },
}


def render(
    notice: Notice,
    lang: Literal["ko", "en"],
    registry: Registry,
    dataset_title: str,
    public_url: str,
) -> tuple[str, str]:
    """A notice as a person reads it in one language (subject, body): what happened, to which
    dataset, between which agencies, and a link; never a data value."""
    kind = NoticeKind(notice.kind)
    labels = LABELS[lang]
    subject, opening = TEXTS[kind][lang]
    recipient = _agency_name(registry, notice.agency, lang)
    if notice.role is not None:
        recipient += f" ({ROLE_NAMES[lang][notice.role]})"
    lines = [
        opening,
        "",
        f"{labels['to']}: {recipient}",
        f"{labels['dataset']}: {dataset_title} ({notice.dataset_id})",
    ]
    if notice.other_agency is not None:
        other = OTHER_LABELS.get(kind, OWNER_LABEL)[lang]
        lines.append(f"{other}: {_agency_name(registry, notice.other_agency, lang)}")
    if notice.request_id is not None:
        lines.append(f"{labels['request']}: {notice.request_id}")
    if notice.grant_id is not None:
        lines.append(f"{labels['grant']}: {notice.grant_id}")
    lines.append(f"{labels['date']}: {notice.created_at.astimezone(KOREA).date().isoformat()}")
    base = public_url.rstrip("/")
    link = f"{base}/requests" if kind in REQUEST_KINDS else f"{base}/datasets/{notice.dataset_id}"
    lines += ["", f"{ACTIONS[kind][lang]}: {link}", "", labels["footer"]]
    return f"{subject}: {dataset_title}", "\n".join(lines) + "\n"


def _agency_name(registry: Registry, agency_id: str, lang: str) -> str:
    agency = registry.agency(agency_id)
    if agency is None:  # removed from sectors.yaml since: its id still says who it was
        return agency_id
    return agency.name if lang == "ko" else agency.name_en
