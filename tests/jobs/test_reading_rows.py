"""Reading a job's rows back goes through the row index: a page never downloads the whole file.
Also: the same upload and delivery on S3 (moto's real HTTP server)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import httpx
import obstore.store

from notify.app import create_app
from notify.config import Settings
from notify.storage import ObjectStore
from tests.fixtures.moto_server import MOTO_ACCESS_KEY_ID, MOTO_REGION, MOTO_SECRET_ACCESS_KEY
from tests.support.accounts import create_account
from tests.support.jobs import csv_bytes, sms_rows, wait_for_job, wait_until_all_final
from tests.support.pii_audit import PiiAudit


class MeteredStore(ObjectStore):
    """The local store, counting the bytes each read returns (a fake at the storage boundary)."""

    def __init__(self, root: Path) -> None:
        super().__init__(obstore.store.LocalStore(prefix=root, mkdir=True))
        self.whole_reads: list[str] = []
        self.range_bytes = 0

    async def get(self, key: str) -> bytes:
        self.whole_reads.append(key)
        return await super().get(key)

    async def get_range(self, key: str, start: int, end: int) -> bytes:
        data = await super().get_range(key, start, end)
        self.range_bytes += len(data)
        return data

    async def get_ranges(self, key: str, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        parts = await super().get_ranges(key, ranges)
        self.range_bytes += sum(len(p) for p in parts)
        return parts


async def test_a_page_of_a_big_job_reads_only_its_rows(settings: Settings, tmp_path: Path, pii_audit: PiiAudit) -> None:
    rows = sms_rows(5000, start=1000)
    pii_audit.track(*(r[0] for r in rows[4000:4010]))
    store = MeteredStore(tmp_path / "objects")
    app = create_app(settings.model_copy(update={"row_index_every": 100}), run_worker=True, store=store)
    data = csv_bytes(rows)
    async with app.router.lifespan_context(app):
        account = await create_account(app.state.runtime)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            job = (await client.post(
                "/v2/jobs", data={"template_id": str(account.sms_template_id)},
                files={"file": ("big.csv", data, "text/csv")}, headers=account.headers(),
            )).json()["data"]
            await wait_for_job(client, account, job["id"])
            store.whole_reads.clear()
            store.range_bytes = 0
            page = (await client.get(f"/v2/jobs/{job['id']}/notifications?from_row=4000",
                                     headers=account.headers())).json()
    assert [n["row_number"] for n in page["notifications"]] == list(range(4000, 4250))
    assert page["notifications"][0]["phone_number"] == "+12025555000"
    assert page["links"]["next"].endswith("from_row=4250")
    assert store.whole_reads == []
    # One ranged read of the page's rows, rounded out to the row index (every 100 rows): ~300 rows of 5,000.
    assert 0 < store.range_bytes < len(data) // 10, (store.range_bytes, len(data))


async def test_upload_and_delivery_on_s3(
    settings: Settings, moto_s3_endpoint: str, s3_bucket: str, pii_audit: PiiAudit
) -> None:
    s3 = settings.model_copy(update={
        "storage_url": f"s3://{s3_bucket}", "storage_endpoint": moto_s3_endpoint, "storage_region": MOTO_REGION,
        "storage_access_key_id": MOTO_ACCESS_KEY_ID, "storage_secret_access_key": MOTO_SECRET_ACCESS_KEY,
        "storage_allow_http": True, "row_index_every": 100, "chunk_rows": 300,
    })
    pii_audit.use_storage(s3)
    rows = sms_rows(1000, start=3000)
    pii_audit.track(*(r[0] for r in rows[:10]))
    app = create_app(s3, run_worker=True)
    async with app.router.lifespan_context(app):
        account = await create_account(app.state.runtime)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            job = (await client.post(
                "/v2/jobs", data={"template_id": str(account.sms_template_id)},
                files={"file": ("s3.csv", csv_bytes(rows), "text/csv")}, headers=account.headers(),
            )).json()["data"]
            done = await wait_until_all_final(client, account, job["id"])
            page = (await client.get(f"/v2/jobs/{job['id']}/notifications?from_row=750",
                                     headers=account.headers())).json()
    assert done["statistics"] == [{"status": "delivered", "count": 1000}]
    assert page["notifications"][0]["phone_number"] == "+12025553750"
    keys = [info.key async for info in pii_audit.store.list("uploads/")]
    assert keys == [f"uploads/{account.service_id}/{job['id']}.csv"]
