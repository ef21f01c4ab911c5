"""Validating a big upload must not hold up other requests: it runs off the event loop.

Validation used to run on the event loop itself, so while one chunk of a file was checked no
other request was answered (a 1,000-row file of 500,000 columns held every request for 8.7 s).
The test sends the whole file as one chunk and, while that chunk is being validated, asks for
/_status. The store below notes when the file's bytes reach it, which happens only after the
chunk has been validated; /_status must be answered before that.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path

import httpx
import pytest
import obstore.store

from notify.app import create_app
from notify.config import Settings
from notify.storage import ObjectStore
from tests.support.accounts import create_account
from tests.support.pii_audit import PiiAudit

ROWS = 300_000
NUMBER = "2025550143"
BOUNDARY = "off-loop-boundary"


class ObservedStore(ObjectStore):
    """The local store, counting the upload bytes handed to it (a fake at the storage boundary)."""

    def __init__(self, root: Path) -> None:
        super().__init__(obstore.store.LocalStore(prefix=root, mkdir=True))
        self.received = 0

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        parts: list[bytes] = []
        async for chunk in chunks:
            self.received += len(chunk)
            parts.append(chunk)
        data = b"".join(parts)
        await self.put(key, data)
        return len(data)


def _multipart(template_id: str, data: bytes) -> bytes:
    return (
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"template_id\"\r\n\r\n{template_id}\r\n"
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\n"
        "Content-Type: text/csv\r\n\r\n"
    ).encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()


@pytest.mark.local_store  # its store is built here on the local disk
async def test_status_is_answered_while_a_big_file_is_validated(
    settings: Settings, tmp_path: Path, pii_audit: PiiAudit
) -> None:
    pii_audit.track(NUMBER)
    pii_audit.track_personalisation("Augusta", "Thursday")
    data = b"phone number,name,day\n" + f"{NUMBER},Augusta,Thursday\n".encode() * ROWS
    store = ObservedStore(tmp_path / "objects")
    # No worker: the job is only accepted here, never sent.
    app = create_app(settings.model_copy(update={"max_upload_rows": ROWS}), store=store)
    async with app.router.lifespan_context(app):
        account = await create_account(app.state.runtime, message_limit=ROWS)
        started = asyncio.Event()

        async def body() -> AsyncIterator[bytes]:
            started.set()
            yield _multipart(str(account.sms_template_id), data)  # one chunk: validated in one go

        headers = {**account.headers(), "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            upload = asyncio.create_task(client.post("/v2/jobs", content=body(), headers=headers))
            await asyncio.wait_for(started.wait(), timeout=30)
            status = await client.get("/_status")
            assert status.status_code == 200
            assert store.received == 0, "/_status waited for the file to be validated"
            accepted = await asyncio.wait_for(upload, timeout=120)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["data"]["row_count"] == ROWS
    assert store.received == len(data)
