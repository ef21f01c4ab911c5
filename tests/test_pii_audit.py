"""The audit must be able to fail: plant a recipient in each forbidden place and expect it caught."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from notify.config import Settings
from notify.reports.exports import ExportLimits, create_export
from notify.reports.query import ReportScope
from notify.runtime import Runtime
from notify.sending.providers.simulated import SimulatedProvider
from notify.storage import export_key, upload_key
from tests.fixtures.moto_server import s3_client, s3_store_settings
from tests.support.accounts import Account
from tests.support.pii_audit import PiiAudit, PiiLeak

# These tests plant leaks through the local store's files; the S3 ones build their own audit.
pytestmark = pytest.mark.local_store

PHONE = "+12025550177"
EMAIL = "someone.specific@example.org"


async def test_clean_run_passes(pii_audit: PiiAudit, runtime: Runtime, account: Account) -> None:
    audit = pii_audit.fresh()  # a fresh audit over the same places, so the fixture's own check stays clean
    audit.track(PHONE)
    audit.track_personalisation("Quartermaine")
    await runtime.store.put(upload_key(uuid.uuid4(), uuid.uuid4()), f"{PHONE},Quartermaine".encode())
    key = await _export(runtime, account, age=timedelta(hours=1))
    await runtime.store.put(key, PHONE.encode())  # a live export may hold recipients
    await audit.check()


async def test_finds_a_recipient_in_a_table_in_another_form(pii_audit: PiiAudit, runtime: Runtime) -> None:
    audit = pii_audit.fresh()
    audit.track(PHONE)
    await _execute(runtime, "CREATE TABLE leaky (note text)", "INSERT INTO leaky VALUES ('call (202) 555-0177 back')")
    with pytest.raises(PiiLeak, match="public.leaky"):
        await audit.check()
    await _execute(runtime, "DROP TABLE leaky")


@pytest.mark.parametrize(
    ("column", "value"),
    [
        pytest.param("bytea", PHONE.encode(), id="bytea"),
        pytest.param("text", "Zoë Quartermaine\nFlat 2\\B", id="escaped-by-copy"),
        pytest.param("text", json.dumps({"name": "Zoë Quartermaine\nFlat 2\\B"}), id="json-escaped"),
        pytest.param("jsonb", json.dumps({"name": "Zoë Quartermaine\nFlat 2\\B"}), id="jsonb"),
    ],
)
async def test_finds_bytea_and_escaped_text_in_tables(
    pii_audit: PiiAudit, runtime: Runtime, column: str, value: object
) -> None:
    audit = pii_audit.fresh()
    audit.track(PHONE)
    audit.track_personalisation("Zoë Quartermaine\nFlat 2\\B")
    await _execute(runtime, f"CREATE TABLE leaky (note {column})")
    async with runtime.engine.begin() as conn:
        await conn.execute(text("INSERT INTO leaky VALUES (:v)"), {"v": value})
    with pytest.raises(PiiLeak, match="public.leaky"):
        await audit.check()
    await _execute(runtime, "DROP TABLE leaky")


@pytest.mark.parametrize(
    "leaked",
    [
        pytest.param(hashlib.sha256(PHONE.encode()).hexdigest(), id="sha256-hex"),
        pytest.param(hashlib.md5(b"2025550177").hexdigest().upper(), id="md5-hex-of-national-number"),
        pytest.param(base64.b64encode(hashlib.sha256(PHONE.encode()).digest()).decode(), id="base64-of-sha256"),
        pytest.param(hmac.new(b"", PHONE.encode(), "sha256").hexdigest(), id="hmac-with-empty-key"),
        pytest.param(base64.b64encode(f'{{"to": "{PHONE}"}}'.encode()).decode(), id="base64-inside-json"),
        pytest.param("to=%2B12025550177", id="url-encoded"),
    ],
)
async def test_finds_hashed_and_encoded_recipients(pii_audit: PiiAudit, leaked: str) -> None:
    audit = pii_audit.fresh()
    audit.track(PHONE)
    logging.getLogger("notify.test").info("sending", extra={"recipient_ref": leaked})
    with pytest.raises(PiiLeak, match="captured logs"):
        await audit.check()


async def test_a_keyed_hash_is_found_with_the_key_it_was_made_with(pii_audit: PiiAudit) -> None:
    audit = pii_audit.fresh()
    audit.track(EMAIL)
    logging.getLogger("notify.test").info("lookup", extra={"hash": hmac.new(b"in-the-code", EMAIL.encode(), "sha256").hexdigest()})
    await audit.check()  # a key kept outside the database is allowed by the design
    audit.hmac_keys = (b"in-the-code",)
    with pytest.raises(PiiLeak, match="captured logs"):
        await audit.check()


async def test_finds_a_personalisation_value_in_another_form(pii_audit: PiiAudit) -> None:
    audit = pii_audit.fresh()
    audit.track_personalisation("  Quartermaine ")
    logging.getLogger("notify.test").info("rendered", extra={"digest": hashlib.sha1(b"quartermaine").hexdigest()})
    with pytest.raises(PiiLeak, match="captured logs"):
        await audit.check()


async def test_finds_a_recipient_in_logs(pii_audit: PiiAudit) -> None:
    audit = pii_audit.fresh()
    audit.track(PHONE)
    logging.getLogger("notify.test").info("sending", extra={"to": "2025550177"})
    with pytest.raises(PiiLeak, match="captured logs"):
        await audit.check()


class _LeaksOnClose(SimulatedProvider):
    """A provider that logs the last recipient while the app shuts down."""

    def close(self) -> None:
        logging.getLogger("notify.test").info("provider closing", extra={"last_to": PHONE})


class TestShutdown:
    @pytest.fixture
    def provider(self) -> SimulatedProvider:
        return _LeaksOnClose(record=True)

    # pii_audit is requested after client on purpose: the audit must still check after the app has stopped.
    @pytest.mark.pii_leak_expected("captured logs")
    async def test_a_recipient_logged_at_shutdown_is_caught(self, client: httpx.AsyncClient, pii_audit: PiiAudit) -> None:
        pii_audit.track(PHONE)
        assert (await client.get("/_status")).status_code == 200


async def test_finds_a_recipient_in_a_file_or_file_name_outside_uploads(
    pii_audit: PiiAudit, runtime: Runtime, tmp_path: Path
) -> None:
    audit = pii_audit.fresh()
    audit.track(EMAIL)
    (tmp_path / "scratch.csv").write_text(f"{EMAIL}\n")
    with pytest.raises(PiiLeak, match="scratch.csv"):
        await audit.check()
    (tmp_path / "scratch.csv").unlink()
    (tmp_path / f"{EMAIL}.txt").write_text("nothing inside")
    with pytest.raises(PiiLeak, match="file name"):
        await audit.check()
    (tmp_path / f"{EMAIL}.txt").unlink()
    await runtime.store.put("exports/x/report.csv", b"SOMEONE.SPECIFIC@EXAMPLE.ORG")
    with pytest.raises(PiiLeak, match="object exports/x/report.csv"):
        await audit.check()
    await runtime.store.delete("exports/x/report.csv")


async def test_finds_a_recipient_in_an_object_key_even_under_uploads(pii_audit: PiiAudit, runtime: Runtime) -> None:
    audit = pii_audit.fresh()
    audit.track(PHONE)
    await runtime.store.put(f"uploads/{uuid.uuid4()}/2025550177.csv", b"phone number\r\n")
    with pytest.raises(PiiLeak, match="object key uploads/"):
        await audit.check()


async def _export(runtime: Runtime, account: Account, *, age: timedelta, ttl: timedelta = timedelta(hours=24)) -> str:
    """A tracked export row created ``age`` ago; its object is the caller's to write."""
    async with runtime.engine.begin() as conn:
        export = await create_export(conn, ReportScope(service_id=account.service_id), ttl=ttl, retention_days=7,
                                     limits=ExportLimits(100, 100),
                                     now=datetime.now(UTC) - age)
    return export.object_key


async def test_an_export_older_than_its_ttl_is_a_leak_whatever_its_row_says(
    pii_audit: PiiAudit, runtime: Runtime, account: Account
) -> None:
    audit = pii_audit.fresh()
    audit.track(PHONE)
    key = await _export(runtime, account, age=timedelta(minutes=5))  # the row says it expires in 23 h 55 min
    await runtime.store.put(key, PHONE.encode())
    await audit.check()
    assert runtime.store.local_root is not None
    old = time.time() - timedelta(hours=25).total_seconds()
    os.utime(runtime.store.local_root / key, (old, old))  # but the object was written 25 hours ago
    with pytest.raises(PiiLeak, match=f"object {key}"):
        await audit.check()
    untracked = export_key(account.service_id, uuid.uuid4())  # and an export no row expires is never allowed
    await runtime.store.put(untracked, PHONE.encode())
    with pytest.raises(PiiLeak, match=f"object {untracked}"):
        await audit.check()


async def test_finds_a_recipient_in_the_postgres_server_log(pii_audit: PiiAudit, runtime: Runtime) -> None:
    audit = pii_audit.fresh()
    audit.track(PHONE)
    with pytest.raises(Exception, match="invalid input syntax"):
        await _execute(runtime, "SELECT CAST('+1 202-555-0177' AS integer)")  # the server logs the failed statement
    with pytest.raises(PiiLeak, match="PostgreSQL server log"):
        await audit.check()


async def test_finds_a_recipient_written_to_the_wal_and_deleted(pii_audit: PiiAudit, runtime: Runtime) -> None:
    audit = pii_audit.fresh()
    audit.track(PHONE)
    await _execute(runtime, "CREATE TABLE scratch (note text)", f"INSERT INTO scratch VALUES ('{PHONE}')",
                   "DELETE FROM scratch", "DROP TABLE scratch")
    leaks = await audit.leaks()
    assert {leak.where.split(" /")[0] for leak in leaks} == {"PostgreSQL WAL"}, leaks


@pytest.fixture
def s3_audit(pii_audit: PiiAudit, settings: Settings, moto_s3_endpoint: str, s3_bucket: str) -> Iterator[PiiAudit]:
    audit = pii_audit.fresh()
    audit.use_storage(s3_store_settings(settings, moto_s3_endpoint, s3_bucket))
    audit.track(PHONE)
    yield audit


async def test_s3_clean_run_passes(s3_audit: PiiAudit, moto_s3_endpoint: str, s3_bucket: str) -> None:
    client = s3_client(moto_s3_endpoint)
    client.put_object(Bucket=s3_bucket, Key=f"uploads/{uuid.uuid4()}/{uuid.uuid4()}.csv", Body=PHONE.encode())
    started = client.create_multipart_upload(Bucket=s3_bucket, Key=f"uploads/{uuid.uuid4()}/big.csv")
    client.upload_part(Bucket=s3_bucket, Key=started["Key"], UploadId=started["UploadId"], PartNumber=1, Body=b"x")
    await s3_audit.check()


async def test_finds_a_recipient_in_s3_object_metadata(s3_audit: PiiAudit, moto_s3_endpoint: str, s3_bucket: str) -> None:
    s3_client(moto_s3_endpoint).put_object(
        Bucket=s3_bucket, Key=f"uploads/{uuid.uuid4()}/a.csv", Body=b"", Metadata={"first-recipient": PHONE}
    )
    with pytest.raises(PiiLeak, match="object metadata uploads/"):
        await s3_audit.check()


async def test_finds_a_recipient_in_an_unfinished_s3_multipart_upload(
    s3_audit: PiiAudit, moto_s3_endpoint: str, s3_bucket: str
) -> None:
    client = s3_client(moto_s3_endpoint)
    started = client.create_multipart_upload(Bucket=s3_bucket, Key=f"exports/{uuid.uuid4()}/report.csv")
    client.upload_part(Bucket=s3_bucket, Key=started["Key"], UploadId=started["UploadId"], PartNumber=1,
                       Body=f"Row,Recipient\r\n1,{PHONE}\r\n".encode())
    with pytest.raises(PiiLeak, match="multipart upload exports/"):
        await s3_audit.check()


async def _execute(runtime: Runtime, *statements: str) -> None:
    async with runtime.engine.begin() as conn:
        for statement in statements:
            await conn.execute(text(statement))
