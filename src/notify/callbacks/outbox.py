"""The callback outbox: which notifications still owe their service a delivery-status callback.

Every statement that moves notifications to a final status adds one data-modifying CTE from
here, so the outbox row commits with the status it reports and costs no extra round trip. Only
services that registered a callback get rows; the POSTs happen later in their own task, so a
slow or failing callback URL can never hold up receipts.
"""

from __future__ import annotations

from notify.statuses import FINAL

DELIVERY_STATUS = "delivery_status"

_FINAL_SQL = ", ".join(f"'{s.value}'" for s in sorted(FINAL))


def enqueue_callbacks_cte(changed: str, name: str = "callbacks") -> str:
    """A CTE that queues callbacks for the rows of ``changed`` (a CTE with id, service_id, status)."""
    return f"""
    {name} AS (
        INSERT INTO callback_outbox (notification_id, service_id)
        SELECT c.id, c.service_id FROM {changed} AS c
        WHERE c.status IN ({_FINAL_SQL})
          AND EXISTS (SELECT 1 FROM service_callbacks AS s
                      WHERE s.service_id = c.service_id AND s.callback_type = '{DELIVERY_STATUS}')
        ON CONFLICT (notification_id) DO NOTHING
        RETURNING 1
    )"""
