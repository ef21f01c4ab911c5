"""A batch object written the way an older version wrote it: one row the readers cannot parse.

Older versions accepted a personalisation larger than the csv module's field limit and stored it.
:class:`OlderVersionStore` swaps one request's marker value for a 200 KB one as the batch object
is stored, so the unreadable row and its neighbours share one real object, rows and task.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import obstore.store
from fastapi import FastAPI

from notify.app import create_app
from notify.config import Settings
from notify.sending.providers.simulated import SimulatedProvider
from notify.storage import ObjectStore
from tests.support.accounts import Account
from tests.support.pii_audit import PiiAudit

MARKER = "Unreadable-Marker-6f1c"
OVERSIZED = "Oversized-value " * 13_000  # 208,000 characters: over the csv field limit (131,072)
GOOD = ["+12025550171", "+12025550172"]
POISONED = "+12025550173"
HARMLESS = "Harmless-note-9a2"


class OlderVersionStore(ObjectStore):
    """The local store, writing one batch row the way an older version did (a fake at the boundary)."""

    def __init__(self, root: Path) -> None:
        super().__init__(obstore.store.LocalStore(prefix=root, mkdir=True))

    async def put(self, key: str, data: bytes) -> None:  # type: ignore[override]
        if data.startswith(b"recipient,personalisation\n"):
            data = data.replace(MARKER.encode(), OVERSIZED.encode())
        await super().put(key, data)


async def _send(client: httpx.AsyncClient, account: Account, number: str, note: str) -> str:
    response = await client.post(
        "/v2/notifications/sms",
        json={"phone_number": number, "template_id": str(account.sms_template_id),
              "personalisation": {"name": "Augusta", "day": "Thursday", "note": note}},
        headers=account.headers(),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def older_version_app(settings: Settings, root: Path, provider: SimulatedProvider, audit: PiiAudit) -> FastAPI:
    """An app with a worker whose store writes like an older version; tracks what the batch holds."""
    audit.track(*GOOD, POISONED)
    audit.track_personalisation("Augusta", "Thursday", HARMLESS, MARKER)
    # A long batch window, so the three concurrent requests of send_batch share one batch object.
    return create_app(settings.model_copy(update={"batch_max_wait_ms": 300}), run_worker=True,
                      store=OlderVersionStore(root), sms_provider=provider, email_provider=provider)


async def send_batch(client: httpx.AsyncClient, account: Account) -> tuple[str, str, str]:
    """Ids of three concurrent sends (good, unreadable once stored, good), in that order."""
    good_a, poisoned, good_b = await asyncio.gather(
        _send(client, account, GOOD[0], HARMLESS),
        _send(client, account, POISONED, MARKER),
        _send(client, account, GOOD[1], HARMLESS),
    )
    return good_a, poisoned, good_b
