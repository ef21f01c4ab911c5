"""The PII audit: proves the recipients a test used appear nowhere but the upload objects.

Given the recipients (and personalisation values) a test sent, it searches, in every normalised
form (tests.support.pii_forms):
- every table in the database, the task queue's tables included, dumped with COPY;
- every log record captured during the test (message and every structured field);
- every file under the test's directories, except the upload area of the object store;
- every object in the store outside ``uploads/`` (so it works for S3 too), except report exports
  that are tracked with an expiry within 24 hours (the design allows those, briefly).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from notify.db.urls import libpq_url
from notify.storage import UPLOADS_PREFIX, ObjectStore
from tests.support.pii_forms import personalisation_forms, recipient_forms


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

    def track(self, *recipients: str) -> None:
        self.recipients.update(recipients)

    def track_personalisation(self, *values: str) -> None:
        self.personalisation.update(values)

    @property
    def forms(self) -> set[str]:
        found: set[str] = set()
        for value in self.recipients:
            found |= recipient_forms(value)
        for value in self.personalisation:
            found |= personalisation_forms(value)
        return found

    async def leaks(self) -> list[Leak]:
        forms = self.forms
        if not forms:
            return []
        leaks: list[Leak] = []
        for where, content in self._tables():
            leaks += [Leak(f, where) for f in forms if f in content]
        allowed_exports = self._expiring_exports()
        log_text = "\n".join(_record_text(r) for r in self.records())
        leaks += [Leak(f, "captured logs") for f in forms if f in log_text]
        export_paths = (
            {(self.store.local_root / key).resolve() for key in allowed_exports} if self.store.local_root else set()
        )
        for path in self._files():
            if path in export_paths:
                continue
            data = path.read_bytes()
            leaks += [Leak(f, str(path)) for f in forms if f.encode() in data]
        async for info in self.store.list(""):
            if info.key.startswith(UPLOADS_PREFIX) or info.key in allowed_exports:
                continue
            data = await self.store.get(info.key)
            leaks += [Leak(f, f"object {info.key}") for f in forms if f.encode() in data]
        return leaks

    async def check(self) -> None:
        leaks = await self.leaks()
        if leaks:
            lines = "\n".join(f"  {leak.form!r} in {leak.where}" for leak in leaks[:50])
            raise PiiLeak(f"recipient data found outside the upload objects:\n{lines}")

    def _expiring_exports(self) -> set[str]:
        """Export objects may hold recipients only while tracked with an expiry within 24 hours."""
        with psycopg.connect(libpq_url(self.database_url)) as conn:
            rows = conn.execute(
                "SELECT object_key FROM report_exports WHERE expires_at <= created_at + interval '24 hours'"
            ).fetchall()
        return {key for (key,) in rows}

    def _tables(self) -> list[tuple[str, str]]:
        dumps: list[tuple[str, str]] = []
        with psycopg.connect(libpq_url(self.database_url)) as conn:
            tables = conn.execute(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')"
            ).fetchall()
            for schema, table in tables:
                chunks: list[str] = []
                with conn.cursor().copy(f'COPY "{schema}"."{table}" TO STDOUT') as copy:
                    for block in copy:
                        chunks.append(bytes(block).decode("utf-8", "replace"))
                dumps.append((f"table {schema}.{table}", "".join(chunks)))
        return dumps

    def _files(self) -> list[Path]:
        upload_root = (self.store.local_root / UPLOADS_PREFIX).resolve() if self.store.local_root else None
        found: list[Path] = []
        for base in self.scan_dirs:
            for root, dirs, files in os.walk(base):
                root_path = Path(root).resolve()
                # The database's own files are audited through SQL above; the upload area is allowed.
                dirs[:] = [
                    d
                    for d in dirs
                    if (root_path / d) != upload_root and d != "pgdata"
                ]
                found += [root_path / f for f in files]
        return found


def _record_text(record: logging.LogRecord) -> str:
    parts = [str(record.msg), repr(record.args)]
    parts += [f"{k}={v!r}" for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS]
    if record.exc_info and record.exc_info[1] is not None:
        parts.append(logging.Formatter().formatException(record.exc_info))
    return " ".join(parts)


_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
