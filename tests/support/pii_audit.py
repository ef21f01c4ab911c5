"""The PII audit: proves the recipients a test used appear nowhere but the upload objects.

Given the recipients (and personalisation values) a test sent, it searches, in every normalised,
escaped, hashed and base64 form (tests.support.pii_forms):
- every table in the database, the task queue's tables included, dumped with COPY and decoded
  (tests.support.pii_sources);
- the PostgreSQL server's log and the WAL written during the test, when the server is local;
- every log record captured during the test, shutdown included (message and every field);
- every file under the test's directories, name and content, except the upload area's content;
- every object's key; on S3 also its metadata and any multipart upload still in progress;
- every object's content outside ``uploads/``, except a report export that is still within its
  expiry: tracked with an expiry within 24 hours of its creation, that expiry not yet passed,
  and the object itself less than 24 hours old. An export past any of these is searched like
  anything else, so an export that was only *marked* for deletion fails the audit.

The ``pii_audit`` fixture checks after the app and its in-process worker have shut down (the
``app`` fixture depends on it), so whatever they log or write while stopping is audited too.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from ahocorasick_rs import BytesAhoCorasick

from notify.config import Settings
from notify.db.urls import libpq_url
from notify.runtime import open_object_store
from notify.storage import EXPORTS_PREFIX, UPLOADS_PREFIX, ObjectStore
from tests.support.pii_forms import canonical_forms, encoded_forms, personalisation_forms, recipient_forms
from tests.support.pii_sources import S3Location, ServerFiles, s3_location, table_dumps

EXPORT_MAX_AGE = timedelta(hours=24)


@dataclass(frozen=True)
class Leak:
    form: str
    where: str


class PiiLeak(AssertionError):
    pass


@dataclass
class PiiAudit:
    database_url: str
    store: ObjectStore
    scan_dirs: list[Path]
    records: Callable[[], list[logging.LogRecord]]
    recipients: set[str] = field(default_factory=set)
    personalisation: set[str] = field(default_factory=set)
    s3: S3Location | None = None
    hmac_keys: tuple[bytes, ...] = ()  # keys a leak would be hashed with; WEAK_HMAC_KEYS always apply
    server: ServerFiles | None = None

    @classmethod
    def started(
        cls, settings: Settings, scan_dirs: list[Path], records: Callable[[], list[logging.LogRecord]]
    ) -> PiiAudit:
        """An audit of the places ``settings`` writes to, noting where the server's log and WAL end now."""
        audit = cls(database_url=settings.database_url or "", store=open_object_store(settings),
                    scan_dirs=scan_dirs, records=records, s3=s3_location(settings))
        with psycopg.connect(libpq_url(audit.database_url)) as conn:
            audit.server = ServerFiles.mark(conn)
        return audit

    def fresh(self) -> PiiAudit:
        """A new audit over the same places and from the same start, tracking nothing yet."""
        return replace(self, recipients=set(), personalisation=set())

    def use_storage(self, settings: Settings) -> None:
        """Audit the store ``settings`` names (a test that builds its own app on another store)."""
        self.store = open_object_store(settings)
        self.s3 = s3_location(settings)

    def track(self, *recipients: str) -> None:
        self.recipients.update(recipients)

    def track_personalisation(self, *values: str) -> None:
        self.personalisation.update(values)

    @property
    def forms(self) -> set[str]:
        text: set[str] = set()
        canonical: set[str] = set()
        for value in self.recipients:
            text |= recipient_forms(value)
            canonical |= canonical_forms(value, recipient=True)
        for value in self.personalisation:
            found = personalisation_forms(value)
            text |= found
            canonical |= canonical_forms(value, recipient=False) if found else set()
        return text | encoded_forms(text, canonical, hmac_keys=self.hmac_keys)

    async def leaks(self) -> list[Leak]:
        forms = sorted(form.encode() for form in self.forms)
        if not forms:
            return []
        leaks: list[Leak] = []
        # One pass per place for all forms: thousands of forms (50 recipients) over a WAL range
        # cost ~600 ms with `in`, a few ms with Aho-Corasick.
        automaton = BytesAhoCorasick(forms)

        def search(where: str, data: bytes) -> None:
            found = {index for index, _, _ in automaton.find_matches_as_indexes(data, overlapping=True)}
            leaks.extend(Leak(forms[index].decode(), where) for index in sorted(found))

        with psycopg.connect(libpq_url(self.database_url)) as conn:
            for where, dump in table_dumps(conn):
                search(where, dump)
            allowed_exports = _live_exports(conn)
            if self.server is not None:
                for where, data in self.server.written_since(conn):
                    search(where, data)
        search("captured logs", "\n".join(_record_text(r) for r in self.records()).encode())
        now = datetime.now(UTC)
        await self._search_store(search, allowed_exports, now)
        self._search_files(search, allowed_exports, now)
        return leaks

    async def check(self) -> None:
        leaks = await self.leaks()
        if leaks:
            lines = "\n".join(f"  {leak.form!r} in {leak.where}" for leak in leaks[:50])
            raise PiiLeak(f"recipient data found outside the upload objects:\n{lines}")

    async def expect_leak(self, where: str) -> None:
        """For tests of the audit itself: fail unless a leak is reported in a place matching ``where``."""
        leaks = await self.leaks()
        if not any(re.search(where, leak.where) for leak in leaks):
            raise AssertionError(f"the audit missed a planted leak in {where!r}; it reported {leaks}")

    async def _search_store(
        self, search: Callable[[str, bytes], None], allowed_exports: dict[str, datetime], now: datetime
    ) -> None:
        if self.s3 is not None:
            # An export's age is only known from the listing, so exports are always fetched.
            for name, modified, content, metadata in self.s3.objects(lambda key: key.startswith(UPLOADS_PREFIX)):
                search(f"object key {name}", name.encode())
                search(f"object metadata {name}", metadata)
                if not name.startswith(UPLOADS_PREFIX) and not _export_live(name, modified, allowed_exports, now):
                    search(f"object {name}", content)
            for where, data in self.s3.multipart_parts():
                search(where, data)
            return
        async for info in self.store.list(""):
            search(f"object key {info.key}", info.key.encode())
            if info.key.startswith(UPLOADS_PREFIX) or _export_live(info.key, info.last_modified, allowed_exports, now):
                continue
            if self.store.local_root is None:  # a local store's objects are read as files below
                search(f"object {info.key}", await self.store.get(info.key))

    def _search_files(
        self, search: Callable[[str, bytes], None], allowed_exports: dict[str, datetime], now: datetime
    ) -> None:
        root = self.store.local_root.resolve() if self.store.local_root else None
        for path in self._files():
            search(f"file name {path}", str(path).encode())
            key = path.relative_to(root).as_posix() if root and path.is_relative_to(root) else None
            if key is not None and key.startswith(UPLOADS_PREFIX):
                continue  # the upload area (multipart staging files included) may hold recipients
            modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            if key is not None and _export_live(key, modified, allowed_exports, now):
                continue
            where = f"object {key}" if key is not None else str(path)
            search(where, path.read_bytes())

    def _files(self) -> list[Path]:
        found: list[Path] = []
        bases = [Path(base).resolve() for base in self.scan_dirs]
        root = self.store.local_root.resolve() if self.store.local_root else None
        if root is not None and not any(root.is_relative_to(base) for base in bases):
            bases.append(root)
        for base in bases:
            for root, dirs, files in os.walk(base):
                root_path = Path(root).resolve()
                # The database's own files are audited through SQL and ServerFiles above.
                dirs[:] = [d for d in dirs if d != "pgdata"]
                found += [root_path / f for f in files]
        return found


def _live_exports(conn: psycopg.Connection) -> dict[str, datetime]:
    """Export keys whose row promises an expiry within 24 hours that has not passed yet."""
    rows = conn.execute(
        "SELECT object_key, expires_at FROM report_exports "
        "WHERE expires_at <= created_at + interval '24 hours' AND expires_at > now()"
    ).fetchall()
    return dict(rows)


def _export_live(key: str, modified: datetime, allowed: dict[str, datetime], now: datetime) -> bool:
    """An export may hold recipients only while its row's expiry and its own age both allow it."""
    return key.startswith(EXPORTS_PREFIX) and key in allowed and now - modified < EXPORT_MAX_AGE


def _record_text(record: logging.LogRecord) -> str:
    parts = [str(record.msg), repr(record.args)]
    parts += [f"{k}={v!r} {v}" for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS]
    if record.exc_info and record.exc_info[1] is not None:
        parts.append(logging.Formatter().formatException(record.exc_info))
    return " ".join(parts)


_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

