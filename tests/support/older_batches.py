"""A batch object written the way an older version wrote it: one row the readers cannot parse.

Older versions accepted a personalisation larger than the csv module's field limit and stored it.
:class:`OlderVersionStore` swaps one request's marker value for a 200 KB one as the batch object
is stored, so the unreadable row and its neighbours share one real object, rows and task.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import obstore.store

from notify.storage import ObjectStore
from tests.support.accounts import Account

MARKER = "Unreadable-Marker-6f1c"
OVERSIZED = "Oversized-value " * 13_000  # 208,000 characters: over the csv field limit (131,072)
GOOD = ["+12025550171", "+12025550172"]
POISONED = "+12025550173"


class OlderVersionStore(ObjectStore):
    """The local store, writing one batch row the way an older version did (a fake at the boundary)."""

    def __init__(self, root: Path) -> None:
        super().__init__(obstore.store.LocalStore(prefix=root, mkdir=True))

    async def put(self, key: str, data: bytes) -> None:  # type: ignore[override]
        if data.startswith(b"recipient,personalisation\n"):
            data = data.replace(MARKER.encode(), OVERSIZED.encode())
        await super().put(key, data)


async def send_with_note(client: httpx.AsyncClient, account: Account, number: str, note: str) -> str:
    response = await client.post(
        "/v2/notifications/sms",
        json={"phone_number": number, "template_id": str(account.sms_template_id),
              "personalisation": {"name": "Augusta", "day": "Thursday", "note": note}},
        headers=account.headers(),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])
