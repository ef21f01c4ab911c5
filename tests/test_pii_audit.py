"""The audit must be able to fail: plant a recipient in each forbidden place and expect it caught."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from notify.runtime import Runtime
from notify.storage import upload_key
from tests.support.pii_audit import PiiAudit, PiiLeak

PHONE = "+12025550177"


def _audit(pii_audit: PiiAudit) -> PiiAudit:
    # A fresh audit over the same places, so the fixture's own teardown check stays clean.
    return PiiAudit(pii_audit.database_url, pii_audit.store, pii_audit.scan_dirs, pii_audit.records)


async def test_clean_run_passes(pii_audit: PiiAudit, runtime: Runtime) -> None:
    audit = _audit(pii_audit)
    audit.track(PHONE)
    await runtime.store.put(upload_key(uuid.uuid4(), uuid.uuid4()), PHONE.encode())
    await audit.check()


async def test_finds_a_recipient_in_a_table_in_another_form(pii_audit: PiiAudit, runtime: Runtime) -> None:
    audit = _audit(pii_audit)
    audit.track(PHONE)
    async with runtime.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE leaky (note text)"))
        await conn.execute(text("INSERT INTO leaky VALUES ('call (202) 555-0177 back')"))
    with pytest.raises(PiiLeak, match="public.leaky"):
        await audit.check()
    async with runtime.engine.begin() as conn:
        await conn.execute(text("DROP TABLE leaky"))


async def test_finds_a_recipient_in_logs(pii_audit: PiiAudit) -> None:
    audit = _audit(pii_audit)
    audit.track(PHONE)
    logging.getLogger("notify.test").info("sending", extra={"to": "2025550177"})
    with pytest.raises(PiiLeak, match="captured logs"):
        await audit.check()


async def test_finds_a_recipient_in_a_file_outside_uploads(pii_audit: PiiAudit, runtime: Runtime, tmp_path: Path) -> None:
    audit = _audit(pii_audit)
    audit.track("someone.specific@example.org")
    (tmp_path / "scratch.csv").write_text("someone.specific@example.org\n")
    with pytest.raises(PiiLeak, match="scratch.csv"):
        await audit.check()
    (tmp_path / "scratch.csv").unlink()
    await runtime.store.put("exports/x/report.csv", b"SOMEONE.SPECIFIC@EXAMPLE.ORG")
    with pytest.raises(PiiLeak, match="object exports/x/report.csv"):
        await audit.check()
    await runtime.store.delete("exports/x/report.csv")
