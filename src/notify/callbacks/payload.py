"""The delivery-status callback body, in GOV.UK Notify's documented shape.

All values are strings (timestamps in Notify's ``2017-05-14T12:15:30.000000Z`` format) or null,
except ``template_version``, which is a number. ``to`` is the recipient read back from the job's
file just before the POST; it is null once the file has expired (retention), because the
database has no other copy of it, and the status is still worth telling the service.
"""

from __future__ import annotations

import uuid
from typing import Any

from notify.api.responses import timestamp
from notify.callbacks.claims import NotificationFacts


def delivery_status_body(notification_id: uuid.UUID, facts: NotificationFacts, to: str | None) -> dict[str, Any]:
    return {
        "id": str(notification_id),
        "reference": facts.client_reference,
        "to": to,
        "status": facts.status,
        "created_at": timestamp(facts.created_at),
        "completed_at": timestamp(facts.completed_at),
        "sent_at": timestamp(facts.sent_at),
        "notification_type": facts.notification_type,
        "template_id": str(facts.template_id),
        "template_version": facts.template_version,
    }
