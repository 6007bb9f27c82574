"""The audit log: hash-chained records of API requests, so that no record can be edited,
removed, inserted or reordered without `verify` naming where.

A request refused before it runs a query has one record. A request that runs one (even if the
query then fails) or returns data has two: an opening record (outcome `opened`) written before
the first byte leaves, and a completing record whose `completes` names it, written when the
request ends however it ends.
So a request cut off by a crash is still on the chain, as opened and never completed.

Record n stores `hash = sha256(hash of record n-1 + canonical JSON of record n)` in hex; record 1
chains from 64 zeros. The canonical JSON is the object of the fields in `CHAINED_FIELDS` exactly
as stored and exported: keys sorted, no spaces, UTF-8 text unescaped, `at` as
`YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC), `datasets` a sorted list, `duration_ms` a number rounded to
the microsecond; `completes` is in it only when set (records made before it existed hash as they
did). An exported line is that object plus its `hash`, so anyone can re-check it.
A chain shows changes inside it; to notice the newest records being cut off, keep the head
hash `verify` reports somewhere else.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import suppress
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TextIO

from pydantic import BaseModel, ConfigDict, Field, computed_field
from sqlalchemy import Engine, insert, or_, select
from sqlalchemy.exc import IntegrityError

from catalog.access.principal import Principal
from catalog.db import audit_log

CHAINED_FIELDS = (
    "seq",
    "at",
    "subject",
    "via",
    "agency",
    "role",
    "purpose",
    "kind",
    "statement",
    "datasets",
    "rows",
    "bytes_out",
    "duration_ms",
    "outcome",
    "error",
)
# Chained only when set, so records written before these fields existed keep their hash.
OPTIONAL_CHAINED_FIELDS = ("completes", "person", "client")
GENESIS = "0" * 64
# Built once: building them per append cost twice the database's own work.
_LAST = select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
_INSERT = insert(audit_log)
# Each round of a write race has one winner, so a loser retries at most once per concurrent
# writer; the bound only stops a broken database from looping forever.
MAX_ATTEMPTS = 200
PAGE = 1000


class AuditKind(StrEnum):
    """What kind of request a record is about."""

    sql = "sql"
    trino = "trino"
    download = "download"
    catalog = "catalog"
    upload = "upload"
    audit = "audit"
    access = "access"  # access requests: asked, decided, narrowed, granted, revoked, expired
    signin = "signin"  # a person's sign-in factors: password, one-time code, recovery code, SSO
    admin = "admin"  # operators' acts on people, tokens, grants (the console)


class Outcome(StrEnum):
    """How a request ended."""

    ok = "ok"
    denied = "denied"
    error = "error"
    cancelled = "cancelled"
    # Under way: data may be leaving; the record that `completes` this one says how it ended.
    opened = "opened"


class AuditRecord(BaseModel):
    """One request as the log holds it. Values are read back as stored (a tampered row still
    reads), so kinds, roles and outcomes are plain text here."""

    model_config = ConfigDict(frozen=True)

    seq: int = Field(description="Position in the chain, from 1, without gaps.")
    at: datetime = Field(description="When the request was made (UTC).")
    subject: str = Field(description="API key id or the token's `sub`.")
    via: str = Field(description="`api_key`, `token`, `password`, `oidc`, `product`, `anonymous`.")
    person: str | None = Field(
        None, description="The person or service account acting (records before people: null)."
    )
    client: str | None = Field(
        None, description="`mcp` when the call came through an AI assistant's tool; else null."
    )
    agency: str
    role: str
    purpose: str | None
    kind: str = Field(description="sql, trino, download, catalog, upload or audit.")
    statement: str
    datasets: tuple[str, ...] = Field(description="Dataset ids the request touched.")
    rows: int | None = Field(description="Rows returned.")
    bytes_out: int | None = Field(description="Bytes returned.")
    duration_ms: float
    outcome: str = Field(
        description="ok, denied, error or cancelled; `opened` for the opening record of a "
        "request that returns data (its completing record says how it ended)."
    )
    error: str | None
    completes: int | None = Field(
        None, description="On a completing record: the sequence number of the opening record."
    )
    hash: str
    completed_by: int | None = Field(
        None,
        description="Not chained, looked up when read: on an opening record, the record that "
        "completes it; null while the request runs, or when the server stopped before it ended.",
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def state(self) -> str:
        """The outcome in words, an opening record's completion included."""
        if self.outcome == Outcome.opened.value:
            if self.completed_by is None:
                return "opened, never completed (still running, or the server stopped)"
            return f"opened, completed by #{self.completed_by}"
        ended = self.outcome + (f": {self.error}" if self.error else "")
        return f"{ended} (completes #{self.completes})" if self.completes else ended


class VerifyResult(BaseModel):
    """The chain checked from its first record: intact, or where it first breaks."""

    ok: bool
    count: int = Field(description="Records checked and intact before any break.")
    broken_at: int | None = Field(None, description="Sequence number of the first bad record.")
    reason: str | None = None
    head: str = Field(description="Hash of the last intact record (64 zeros when none).")
    unfinished: list[int] = Field(
        default_factory=list,
        description="Opening records no record completes: requests still running, or cut off "
        "by a stop of the server (their data may have left).",
    )


def stamp(moment: datetime) -> str:
    """A time as the log stores and hashes it: UTC, microseconds, `Z` (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(entry: Mapping[str, Any]) -> str:
    """The canonical JSON of a record: its chained fields, sorted, compact, UTF-8."""
    fields = {name: entry[name] for name in CHAINED_FIELDS}
    fields |= {n: entry[n] for n in OPTIONAL_CHAINED_FIELDS if entry.get(n) is not None}
    return json.dumps(
        fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )


def chain_hash(previous: str, entry: Mapping[str, Any]) -> str:
    """The hash a record must carry after the record whose hash is `previous`."""
    return hashlib.sha256((previous + canonical(entry)).encode("utf-8")).hexdigest()


def verify_chain(entries: Iterable[Mapping[str, Any]]) -> VerifyResult:
    """Check records (as stored or exported, in sequence order) from the first one; also that
    each completing record completes an opening record not completed before."""
    previous, expected = GENESIS, 1
    unfinished: set[int] = set()

    def broken(at: int | None, reason: str) -> VerifyResult:
        return VerifyResult(
            ok=False, count=expected - 1, broken_at=at, reason=reason, head=previous
        )

    for entry in entries:
        seq = entry.get("seq")
        if seq != expected:
            if isinstance(seq, int) and seq > expected:
                return broken(expected, f"record {expected} is missing (the next one is {seq})")
            return broken(seq, f"record {seq} is out of place (expected {expected})")
        try:
            intact = chain_hash(previous, entry) == entry.get("hash")
        except (KeyError, TypeError, ValueError):
            intact = False
        if not intact:
            return broken(
                expected,
                f"record {expected} does not match its hash: it was changed, "
                "or a record before it was",
            )
        completes = entry.get("completes")
        if completes is not None and completes not in unfinished:
            return broken(
                expected,
                f"record {expected} completes record {completes}, which is not an "
                "opened request still open",
            )
        unfinished.discard(completes)  # type: ignore[arg-type]
        if entry.get("outcome") == Outcome.opened.value:
            unfinished.add(expected)
        previous, expected = entry["hash"], expected + 1
    return VerifyResult(ok=True, count=expected - 1, head=previous, unfinished=sorted(unfinished))


def _entry(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored row as the chain sees it: `datasets` decoded, everything else as stored."""
    entry = dict(row)
    with suppress(TypeError, ValueError):  # a tampered value stays as is: its hash will fail
        entry["datasets"] = json.loads(entry["datasets"])
    return entry


class AuditLog:
    """The hash-chained audit log in the catalog database; safe with many writers."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def append(
        self,
        principal: Principal,
        kind: AuditKind,
        statement: str,
        *,
        datasets: Iterable[str] = (),
        rows: int | None = None,
        bytes_out: int | None = None,
        duration_ms: float = 0.0,
        outcome: Outcome = Outcome.ok,
        error: str | None = None,
        at: datetime | None = None,
        completes: int | None = None,
    ) -> AuditRecord:
        """Add one request's record at the end of the chain and return it; `completes` names
        the opening record (outcome `opened`) of the request this record ends."""
        if completes is not None and outcome == Outcome.opened:
            raise ValueError("a completing record says how the request ended, not `opened`")
        body = {
            "at": stamp(at or datetime.now(UTC)),
            "subject": principal.subject,
            "via": principal.via,
            "agency": principal.agency,
            "role": principal.role.value,
            "purpose": principal.purpose,
            "kind": AuditKind(kind).value,
            "statement": statement,
            "datasets": sorted(set(datasets)),
            "rows": rows,
            "bytes_out": bytes_out,
            "duration_ms": round(float(duration_ms), 3),
            "outcome": Outcome(outcome).value,
            "error": error,
            "completes": completes,
            "person": principal.person,
            "client": principal.client,
        }
        for attempt in range(MAX_ATTEMPTS):
            record = self._append(body)
            if record:
                return record
            # The jitter keeps the same writers from colliding again in lockstep.
            time.sleep(random.uniform(0, 0.001 * min(attempt + 1, 20)))
        raise RuntimeError(f"could not append to the audit log in {MAX_ATTEMPTS} attempts")

    def _append(self, body: dict[str, Any]) -> AuditRecord | None:
        """Chain `body` after the last record in one transaction; None when another writer
        took that sequence number first (the primary key refuses the second one)."""
        try:
            with self.engine.begin() as conn:
                last = conn.execute(_LAST).first()
                entry = {"seq": last.seq + 1 if last else 1, **body}
                entry["hash"] = chain_hash(last.hash if last else GENESIS, entry)
                stored = {**entry, "datasets": json.dumps(entry["datasets"])}
                conn.execute(_INSERT, stored)
        except IntegrityError:
            taken = select(audit_log.c.seq).where(audit_log.c.seq == entry["seq"])
            with self.engine.connect() as conn:
                if conn.execute(taken).first():
                    return None
            raise
        return AuditRecord.model_validate(entry)

    def records(
        self,
        agency: str | None = None,
        dataset_ids: Iterable[str] | None = None,
        since: datetime | None = None,
        limit: int = 100,
        *,
        person: str | None = None,
        kind: str | None = None,
        before: int | None = None,
    ) -> list[AuditRecord]:
        """The newest records first: of callers from `agency`, touching any of `dataset_ids`
        (an empty list matches none), made at or after `since`, by `person`, of `kind`, before
        sequence number `before` (the next page)."""
        query = select(audit_log).order_by(audit_log.c.seq.desc()).limit(limit)
        if agency:
            query = query.where(audit_log.c.agency == agency)
        if person:
            query = query.where(audit_log.c.person == person)
        if kind:
            query = query.where(audit_log.c.kind == kind)
        if before is not None:
            query = query.where(audit_log.c.seq < before)
        if since:
            query = query.where(audit_log.c.at >= stamp(since))
        if dataset_ids is not None:
            wanted = sorted(set(dataset_ids))
            if not wanted:
                return []
            # `datasets` is a JSON list of ids: a quoted id matches exactly one element.
            column = audit_log.c.datasets
            query = query.where(
                or_(*(column.contains(json.dumps(d), autoescape=True) for d in wanted))
            )
        with self.engine.connect() as conn:
            found = [AuditRecord.model_validate(_entry(r._mapping)) for r in conn.execute(query)]
            opened = [r.seq for r in found if r.outcome == Outcome.opened.value]
            completions = select(audit_log.c.completes, audit_log.c.seq).where(
                audit_log.c.completes.in_(opened)
            )
            by = dict(conn.execute(completions).tuples().all()) if opened else {}
        return [r.model_copy(update={"completed_by": by.get(r.seq)}) for r in found]

    def entries(self, after: int = 0) -> Iterator[dict[str, Any]]:
        """Every record after seq `after` (all by default) as stored, in sequence order, read
        a page at a time."""
        while True:
            query = (
                select(audit_log)
                .where(audit_log.c.seq > after)
                .order_by(audit_log.c.seq)
                .limit(PAGE)
            )
            with self.engine.connect() as conn:
                page = [_entry(r._mapping) for r in conn.execute(query)]
            yield from page
            if len(page) < PAGE:
                return
            after = page[-1]["seq"]

    def verify(self) -> VerifyResult:
        """Check the whole chain; the result names the first record where it breaks."""
        return verify_chain(self.entries())

    def lines(self) -> Iterator[str]:
        """Every record as one JSON line (its canonical JSON plus `hash`), oldest first."""
        for entry in self.entries():
            line = {name: entry[name] for name in (*CHAINED_FIELDS, "hash")}
            line |= {n: entry[n] for n in OPTIONAL_CHAINED_FIELDS if entry[n] is not None}
            text = json.dumps(line, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
            yield text + "\n"

    def streamed_export(
        self, principal: Principal, statement: str, started: float
    ) -> Iterator[bytes]:
        """Every record as JSON Lines bytes for a reader (the API, the console); the export's
        own record (kind `audit`) is appended when the stream ends, however it ends —
        `cancelled` when the reader goes away. `started` is the request's `perf_counter()`."""
        rows = sent = 0
        outcome, error = Outcome.cancelled, None
        try:
            for line in self.lines():
                data = line.encode("utf-8")
                rows, sent = rows + 1, sent + len(data)
                yield data
            outcome = Outcome.ok
        except Exception as exc:
            outcome, error = Outcome.error, str(exc)
            raise
        finally:
            self.append(
                principal,
                AuditKind.audit,
                statement,
                rows=rows,
                bytes_out=sent,
                duration_ms=(time.perf_counter() - started) * 1000,
                outcome=outcome,
                error=error,
            )

    def export(self, fp: TextIO) -> int:
        """Write every record to `fp` as JSON Lines, oldest first; returns how many."""
        count = 0
        for line in self.lines():
            fp.write(line)
            count += 1
        return count
