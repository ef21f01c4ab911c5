"""Requests that share a group-commit batch succeed or fail one by one, across services.

One request's part of the batch failing (its data, an exception while it is encoded) or one
service's object failing to store must fail only that request or that service; every other
request in the same batch, of every service, still gets its 201 and is delivered.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import obstore.store
import pytest

from notify.app import create_app
from notify.config import Settings
from notify.db.models import KeyType, TemplateType
from notify.runtime import Runtime
from notify.sending.group_commit import Accepted, PendingSend
from notify.sending.providers.simulated import SimulatedProvider
from notify.storage import ObjectStore, StorageUnavailable
from tests.support.accounts import Account, create_account
from tests.support.pii_audit import PiiAudit
from tests.support.polling import wait_for_status

NUMBERS = ["+12025550161", "+12025550162", "+12025550163"]
NAME, DAY = "Philippa", "Thursday"


class ExplodingPersonalisation(Mapping[str, str]):
    """Personalisation that raises as soon as it is read: any exception in one request's part of a batch."""

    def __getitem__(self, key: str) -> str:
        raise RuntimeError("this request's part cannot be built")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("this request's part cannot be built")

    def __len__(self) -> int:
        return 2


def _pending(account: Account, recipient: str, personalisation: Mapping[str, str]) -> PendingSend:
    return PendingSend(
        notification_id=uuid.uuid4(),
        service_id=account.service_id,
        template_id=account.sms_template_id,
        template_version=1,
        notification_type=TemplateType.sms,
        api_key_id=account.keys[KeyType.normal].id,
        key_type=KeyType.normal,
        recipient=recipient,
        personalisation=personalisation,
        client_reference=None,
        sender_id=None,
        international=False,
        billable_units=1,
        message_limit=100_000,
        rate_limit=100_000,
    )


async def test_an_exception_in_one_request_fails_only_that_request(
    client: httpx.AsyncClient, runtime: Runtime, pii_audit: PiiAudit
) -> None:
    pii_audit.track(*NUMBERS)
    pii_audit.track_personalisation(NAME, DAY)
    accounts = [await create_account(runtime) for _ in range(3)]
    good = [_pending(account, number, {"name": NAME, "day": DAY}) for account in accounts for number in NUMBERS]
    poisoned = _pending(accounts[1], NUMBERS[0], ExplodingPersonalisation())
    sends = [*good[:4], poisoned, *good[4:]]

    outcomes = await asyncio.gather(*(runtime.committer.submit(s) for s in sends), return_exceptions=True)

    assert isinstance(outcomes[4], RuntimeError)
    accepted = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(accepted) == len(good) and all(isinstance(o, Accepted) for o in accepted)
    # One batch: every accepted send carries the same commit time, and each service one job.
    assert len({o.created_at for o in accepted}) == 1
    assert len({o.job_id for o in accepted}) == len(accounts)
    for send in good:
        account = next(a for a in accounts if a.service_id == send.service_id)
        delivered = await wait_for_status(client, account, str(send.notification_id), "delivered")
        assert delivered["body"] == f"Hi {NAME}, your appointment is on {DAY}."


class RefusingStore(ObjectStore):
    """Local storage that refuses writes under one prefix: one service's object failing to store."""

    def __init__(self, root: Path) -> None:
        super().__init__(obstore.store.LocalStore(prefix=root, mkdir=True))
        self.refused_prefix = "uploads/nobody/"

    async def put(self, key: str, data: bytes) -> None:
        if key.startswith(self.refused_prefix):
            raise StorageUnavailable("simulated outage for one prefix")
        await super().put(key, data)


@pytest.fixture
def refusing_store(tmp_path: Path) -> RefusingStore:
    return RefusingStore(tmp_path / "objects")  # where the settings fixture stores, so the PII audit sees it


@pytest.mark.local_store  # its store is built here on the local disk
async def test_one_service_whose_object_cannot_be_stored_fails_alone(
    settings: Settings, refusing_store: RefusingStore, provider: SimulatedProvider, pii_audit: PiiAudit
) -> None:
    pii_audit.track(*NUMBERS)
    pii_audit.track_personalisation(NAME, DAY)
    app = create_app(settings, run_worker=True, sms_provider=provider, email_provider=provider, store=refusing_store)
    async with app.router.lifespan_context(app):
        runtime: Runtime = app.state.runtime
        accounts = [await create_account(runtime) for _ in range(3)]
        refusing_store.refused_prefix = f"uploads/{accounts[1].service_id}/"
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as client:

            async def send(account: Account, number: str) -> httpx.Response:
                return await client.post(
                    "/v2/notifications/sms",
                    json={"phone_number": number, "template_id": str(account.sms_template_id),
                          "personalisation": {"name": NAME, "day": DAY}},
                    headers=account.headers(),
                )

            pairs = [(account, number) for number in NUMBERS for account in accounts]
            responses = await asyncio.gather(*(send(a, n) for a, n in pairs))
            for (account, _), response in zip(pairs, responses, strict=True):
                if account is accounts[1]:
                    assert response.status_code == 503, response.text
                else:
                    assert response.status_code == 201, response.text
                    await wait_for_status(client, account, response.json()["id"], "delivered")
        keys = [info.key async for info in refusing_store.list("uploads/")]
        assert keys and not any(key.startswith(refusing_store.refused_prefix) for key in keys)
