"""A stored row that cannot be read back fails only itself, everywhere the row is read.

Older versions accepted a personalisation larger than the csv module's field limit and stored it
in the API batch object, where nobody could read it back: the message stayed `created`, the
service's notification list and the notification itself answered 500, and reports were cut off.
:class:`~tests.support.older_batches.OlderVersionStore` writes what such a version wrote.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterable
from pathlib import Path

import httpx
import pytest
import obstore.store
from sqlalchemy import text

from notify.app import create_app
from notify.config import Settings
from notify.db.models import TemplateType
from notify.recipients.batch_file import RecipientRow, UnreadableRow, batch_recipients, decode_batch
from notify.recipients.columnar import read_spreadsheet_columns
from notify.recipients.spreadsheet_read import SpreadsheetRow, read_stored_rows, stored_records
from notify.reports.columns import UNREADABLE_RECIPIENT
from notify.sending.providers.simulated import SimulatedProvider
from notify.storage import ObjectStore
from tests.support.accounts import create_account
from tests.support.jobs import upload, wait_for_job
from tests.support.older_batches import GOOD, older_version_app, send_batch
from tests.support.pii_audit import PiiAudit
from tests.support.exports import wait_for_export
from tests.support.polling import wait_for_status


def _rows(content: bytes) -> dict[str, list[str]]:
    """Report rows by their recipient cell (without the ' that keeps "+1..." from being a formula)."""
    reader = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    return {row[0].removeprefix("'"): row for row in reader[1:]}


@pytest.mark.local_store  # its store is built here on the local disk
async def test_one_unreadable_row_in_a_batch_fails_only_itself(
    settings: Settings, tmp_path: Path, pii_audit: PiiAudit
) -> None:
    provider = SimulatedProvider(record=True)
    app = older_version_app(settings, tmp_path / "objects", provider, pii_audit)
    async with app.router.lifespan_context(app):
        account = await create_account(app.state.runtime)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            good_a, poisoned, good_b = await send_batch(client, account)
            async with app.state.runtime.engine.connect() as conn:
                jobs = (await conn.execute(
                    text("SELECT count(DISTINCT job_id) FROM notifications WHERE service_id = :s"),
                    {"s": account.service_id},
                )).scalar_one()
            assert jobs == 1, "the three sends should share one batch object"

            # Delivery: the unreadable row fails with a reason; its neighbours are sent.
            failed = await wait_for_status(client, account, poisoned, "technical-failure")
            assert failed["phone_number"] is None and failed["body"] is None
            assert failed["provider_response"] == "recipient row cannot be read"
            for good in (good_a, good_b):
                delivered = await wait_for_status(client, account, good, "delivered")
                assert delivered["phone_number"] in GOOD
                assert delivered["body"] == "Hi Augusta, your appointment is on Thursday."
            assert sorted(message.to for message in provider.sent) == GOOD

            # The service's list: every notification, the unreadable one without a recipient.
            listing = await client.get("/v2/notifications", headers=account.headers())
            assert listing.status_code == 200, listing.text
            numbers = {n["id"]: n["phone_number"] for n in listing.json()["notifications"]}
            assert numbers == {good_a: GOOD[0], poisoned: None, good_b: GOOD[1]}

            # The streamed report: all rows, the unreadable one with the marker cell.
            report = await client.get("/v2/reports/notifications.csv?days=1", headers=account.headers())
            assert report.status_code == 200
            rows = _rows(report.content)
            assert sorted(rows) == sorted([*GOOD, UNREADABLE_RECIPIENT])
            assert rows[UNREADABLE_RECIPIENT][4] == "Technical failure"

            # The export: the same complete file.
            requested = await client.post("/v2/reports", json={"days": 1}, headers=account.headers())
            assert requested.status_code == 202, requested.text
            done = await wait_for_export(client, account, requested.json()["data"]["id"])
            assert done["status"] == "ready" and done["row_count"] == 3
            content = await client.get(f"/v2/reports/{done['id']}/content", headers=account.headers())
            assert _rows(content.content) == rows


class DamagedUploadStore(ObjectStore):
    """The local store, damaging one recipient of each stored upload (same length, so offsets hold)."""

    def __init__(self, root: Path, original: bytes, damaged: bytes) -> None:
        super().__init__(obstore.store.LocalStore(prefix=root, mkdir=True))
        self.original, self.damaged = original, damaged

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        data = b"".join([chunk async for chunk in chunks]).replace(self.original, self.damaged)
        await self.put(key, data)
        return len(data)


@pytest.mark.local_store  # its store is built here on the local disk
async def test_a_spreadsheet_row_that_no_longer_reads_fails_only_itself(
    settings: Settings, tmp_path: Path, pii_audit: PiiAudit
) -> None:
    numbers = ["2025550151", "2025550152", "2025550153"]
    pii_audit.track(*numbers)
    pii_audit.track_personalisation("Augusta", "Thursday")
    provider = SimulatedProvider(record=True)
    # What an object altered after validation looks like: its recipient no longer normalises.
    store = DamagedUploadStore(tmp_path / "objects", b"2025550152", b"0000000000")
    app = create_app(settings, run_worker=True, store=store, sms_provider=provider, email_provider=provider)
    async with app.router.lifespan_context(app):
        account = await create_account(app.state.runtime)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            data = ("phone number,name,day\n" + "".join(f"{n},Augusta,Thursday\n" for n in numbers)).encode()
            job = (await upload(client, account, data)).json()["data"]
            await wait_for_job(client, account, job["id"])
            page = await client.get(f"/v2/jobs/{job['id']}/notifications", headers=account.headers())
            assert page.status_code == 200, page.text
            found = [(n["row_number"], n["phone_number"], n["status"], n["provider_response"])
                     for n in page.json()["notifications"]]
            assert found == [
                (0, "+12025550151", "delivered", found[0][3]),
                (1, None, "technical-failure", "recipient row cannot be read"),
                (2, "+12025550153", "delivered", found[2][3]),
            ]
            assert sorted(message.to for message in provider.sent) == ["+12025550151", "+12025550153"]
            report = await client.get(f"/v2/jobs/{job['id']}/report.csv", headers=account.headers())
            assert report.status_code == 200
            assert len(list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))) == 1 + 3


# --- Each reader on its own: damaged bytes mark their rows, the rows around them read normally ---


def test_a_batch_file_marks_each_unreadable_row_and_keeps_the_numbering() -> None:
    data = (
        b"recipient,personalisation\n"
        b'+12025550181,{"a":"1"}\n'
        + b"+12025550182," + b"x" * 140_000 + b"\n"  # over the csv field limit
        + b'+12025550183,{"a":"\xff"}\n'  # not UTF-8
        + b'+12025550184,[1]\n'  # not an object
        + b'"+12025550185,{}\n+12025550186,{}\n'  # a quote never closed swallows the next line
    )
    rows = decode_batch(data)
    assert isinstance(rows[0], RecipientRow) and rows[0].recipient == "+12025550181"
    assert [type(rows[n]) for n in range(1, 6)] == [UnreadableRow] * 5
    assert batch_recipients(data) == ["+12025550181", None, None, "+12025550184", None, None]
    assert decode_batch(data, [5, 0]).keys() == {0, 5}


def test_a_spreadsheet_row_whose_recipient_no_longer_normalises_is_marked_alone() -> None:
    data = b"(202) 555-0191,Ann\n(000) 000-0000,Bob\n(202) 555-0193,Cy\n"
    rows = list(read_stored_rows(
        data, first_row_number=0, header=["phone number", "name"], recipient_column=0,
        template_type=TemplateType.sms, default_region="US", allow_international=False, skip_bom=False,
    ))
    assert [type(row) for row in rows] == [SpreadsheetRow, UnreadableRow, SpreadsheetRow]
    assert rows[2].recipient == "+12025550193"  # type: ignore[union-attr]


def test_damaged_spreadsheet_bytes_end_the_read_with_a_marker() -> None:
    data = b"(202) 555-0191,Ann\n(202) 555-0192,B\xffb\n(202) 555-0193,Cy\n"
    records = list(stored_records(data, first_row_number=0))
    assert records[0] == (0, ["(202) 555-0191", "Ann"])
    assert isinstance(records[1], UnreadableRow) and records[1].row_number == 1 and records[1].and_after
    columns = read_spreadsheet_columns(data, header_width=2, recipient_column=0, other_columns=True)
    assert columns.recipients.to_pylist() == ["(202) 555-0191"]
    assert columns.unreadable_from == 1
