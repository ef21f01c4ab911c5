"""A delivery-status callback for a row that cannot be read back still goes, with "to": null.

Reading the batch used to raise for the whole object, so every callback of every notification
that shared it failed its attempts as a storage error and was given up.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from notify.config import Settings
from notify.sending.providers.simulated import SimulatedProvider
from tests.callbacks.support import register_callback, wait_for_empty_outbox
from tests.fixtures.callback_receiver import CallbackReceiver
from tests.support.accounts import create_account
from tests.support.older_batches import GOOD, older_version_app, send_batch
from tests.support.pii_audit import PiiAudit


@pytest.mark.local_store  # its store is built here on the local disk
async def test_callbacks_of_a_batch_with_an_unreadable_row(
    settings: Settings, tmp_path: Path, callback_receiver: CallbackReceiver, pii_audit: PiiAudit
) -> None:
    provider = SimulatedProvider(record=True)
    app = older_version_app(settings, tmp_path / "objects", provider, pii_audit)
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        account = await create_account(runtime)
        await register_callback(runtime, account, callback_receiver.url)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            good_a, poisoned, good_b = await send_batch(client, account)
            received = await callback_receiver.wait_for(3)
            await wait_for_empty_outbox(runtime)
    bodies = {r.body["id"]: (r.body["to"], r.body["status"]) for r in received}
    assert bodies == {
        good_a: (GOOD[0], "delivered"),
        poisoned: (None, "technical-failure"),
        good_b: (GOOD[1], "delivered"),
    }
