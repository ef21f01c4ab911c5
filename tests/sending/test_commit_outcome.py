"""A batch whose COMMIT goes unanswered is undone only if PostgreSQL says it did not commit.

The connection is really dropped at COMMIT by a TCP relay in front of PostgreSQL.  Used to be: any
error at commit deleted the batch object and refunded the allowance, so a notification that had
committed lost its recipient, and the client got a 503 for a message that was sent.
"""

from __future__ import annotations

import httpx

from notify.app import create_app
from notify.config import Settings
from notify.sending.providers.simulated import SimulatedProvider
from tests.support.accounts import create_account
from tests.support.pg_proxy import CommitCuttingProxy
from tests.support.pii_audit import PiiAudit
from tests.support.polling import wait_for_status

NUMBER = "+12025550151"


async def test_a_commit_that_happened_is_a_201_and_one_that_did_not_is_a_503(
    settings: Settings, provider: SimulatedProvider, pii_audit: PiiAudit
) -> None:
    pii_audit.track(NUMBER)
    pii_audit.track_personalisation("Okonkwo", "Wednesday")
    proxy = CommitCuttingProxy(settings.database_url or "")
    proxied = settings.model_copy(update={"database_url": await proxy.start()})
    app = create_app(proxied, run_worker=True, sms_provider=provider, email_provider=provider)
    try:
        async with app.router.lifespan_context(app):
            account = await create_account(app.state.runtime, message_limit=2)
            store = app.state.runtime.store
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as client:

                async def send() -> httpx.Response:
                    return await client.post(
                        "/v2/notifications/sms",
                        json={"phone_number": NUMBER, "template_id": str(account.sms_template_id),
                              "personalisation": {"name": "Okonkwo", "day": "Wednesday"}},
                        headers=account.headers(),
                    )

                proxy.arm("after", b"COPY jobs")
                committed = await send()
                assert proxy.cuts == 1
                assert committed.status_code == 201, committed.text
                await wait_for_status(client, account, committed.json()["id"], "delivered")

                proxy.arm("before", b"COPY jobs")
                lost = await send()
                assert proxy.cuts == 2
                assert lost.status_code == 503, lost.text
                keys = [info.key async for info in store.list(f"uploads/{account.service_id}/")]
                assert len(keys) == 1  # the committed batch kept its object; the aborted one's is gone

                # The committed send kept its allowance, the aborted one was refunded: one more fits.
                assert (await send()).status_code == 201
                assert (await send()).status_code == 429
    finally:
        await proxy.close()


async def test_an_upload_whose_commit_happened_is_accepted_and_keeps_its_file(
    settings: Settings, provider: SimulatedProvider, pii_audit: PiiAudit
) -> None:
    pii_audit.track(NUMBER)
    pii_audit.track_personalisation("Okonkwo", "Wednesday")
    proxy = CommitCuttingProxy(settings.database_url or "")
    proxied = settings.model_copy(update={"database_url": await proxy.start()})
    app = create_app(proxied, run_worker=True, sms_provider=provider, email_provider=provider)
    try:
        async with app.router.lifespan_context(app):
            account = await create_account(app.state.runtime)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as client:
                proxy.arm("after", b"INSERT INTO jobs")
                response = await client.post(
                    "/v2/jobs",
                    data={"template_id": str(account.sms_template_id)},
                    files={"file": ("people.csv", f"phone number,name,day\n{NUMBER},Okonkwo,Wednesday\n".encode())},
                    headers=account.headers(),
                )
                assert proxy.cuts == 1
                assert response.status_code == 201, response.text
                job_id = response.json()["data"]["id"]
                keys = [info.key async for info in app.state.runtime.store.list(f"uploads/{account.service_id}/")]
                assert keys == [f"uploads/{account.service_id}/{job_id}.csv"]
    finally:
        await proxy.close()
