"""API sends on the S3 backend (moto's real HTTP server), and what happens when storage fails."""

from __future__ import annotations

import httpx
import obstore.store
from sqlalchemy import text

from notify.app import create_app
from notify.config import Settings
from notify.storage import ObjectStore, StorageUnavailable
from tests.fixtures.moto_server import MOTO_ACCESS_KEY_ID, MOTO_REGION, MOTO_SECRET_ACCESS_KEY
from tests.support.accounts import create_account
from tests.support.pii_audit import PiiAudit
from tests.support.polling import wait_for_status
from tests.support.sending import SMS_PERSONALISATION


async def test_send_and_read_back_on_s3(
    settings: Settings, moto_s3_endpoint: str, s3_bucket: str, pii_audit: PiiAudit
) -> None:
    s3_settings = settings.model_copy(
        update={
            "storage_url": f"s3://{s3_bucket}",
            "storage_endpoint": moto_s3_endpoint,
            "storage_region": MOTO_REGION,
            "storage_access_key_id": MOTO_ACCESS_KEY_ID,
            "storage_secret_access_key": MOTO_SECRET_ACCESS_KEY,
            "storage_allow_http": True,
        }
    )
    pii_audit.use_storage(s3_settings)
    pii_audit.track("+12025550188")
    app = create_app(s3_settings, run_worker=True)
    async with app.router.lifespan_context(app):
        account = await create_account(app.state.runtime)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s3") as client:
            sent = await client.post(
                "/v2/notifications/sms",
                json={"phone_number": "+12025550188", "template_id": str(account.sms_template_id),
                      "personalisation": SMS_PERSONALISATION},
                headers=account.headers(),
            )
            assert sent.status_code == 201, sent.text
            got = await wait_for_status(client, account, sent.json()["id"], "delivered")
    assert got["phone_number"] == "+12025550188"
    keys = [info.key async for info in pii_audit.store.list("uploads/")]
    assert len(keys) == 1 and keys[0].startswith(f"uploads/{account.service_id}/")


class UnavailableStore(ObjectStore):
    """The object store boundary failing, as S3 does during an outage."""

    async def put(self, key: str, data: bytes) -> None:
        raise StorageUnavailable("simulated outage")


async def test_storage_outage_answers_503_and_stores_nothing(settings: Settings, pii_audit: PiiAudit) -> None:
    pii_audit.track("+12025550189")
    app = create_app(settings, store=UnavailableStore(obstore.store.MemoryStore()))
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        account = await create_account(runtime)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as client:
            response = await client.post(
                "/v2/notifications/sms",
                json={"phone_number": "+12025550189", "template_id": str(account.sms_template_id),
                      "personalisation": SMS_PERSONALISATION},
                headers=account.headers(),
            )
        assert response.status_code == 503
        assert response.json()["errors"] == [
            {"error": "ServiceUnavailableError", "message": "the message could not be stored; please retry"}
        ]
        async with runtime.engine.connect() as conn:
            counts = (await conn.execute(text(
                "SELECT (SELECT count(*) FROM notifications), (SELECT count(*) FROM jobs), "
                "(SELECT count(*) FROM procrastinate_jobs WHERE task_name IN ('start_job', 'deliver_rows')), "
                "(SELECT coalesce(sum(count), 0) FROM usage_counters)"
            ))).one()
        assert tuple(counts) == (0, 0, 0, 0), "a failed batch must leave nothing behind, not even used allowance"
