"""Notification JSON in GOV.UK Notify's v2 shape, with the recipient read back from storage."""

from __future__ import annotations

from typing import Any

from notify.notifications import NotificationRow
from notify.recipients.batch_file import RecipientRow, StoredRow
from notify.templates import MissingPersonalisation, render_email, render_sms
from notify.api.responses import timestamp


def template_ref(base_url: str, template_id: object, version: int) -> dict[str, Any]:
    return {
        "id": str(template_id),
        "version": version,
        "uri": f"{base_url}/v2/template/{template_id}/version/{version}",
    }


def notification_json(row: NotificationRow, stored: StoredRow | None, base_url: str) -> dict[str, Any]:
    """``stored`` is None once the job's object has expired, an UnreadableRow when its row cannot be
    read back: either way the notification is still reported, with a null recipient and body."""
    recipient = stored if isinstance(stored, RecipientRow) else None
    body: str | None = None
    subject: str | None = None
    if recipient is not None:
        try:
            if row.notification_type == "sms":
                body = render_sms(row.template_content, recipient.personalisation).body
            else:
                email = render_email(row.template_subject or "", row.template_content, recipient.personalisation)
                body, subject = email.body, email.subject
        except MissingPersonalisation:
            body = None
    is_sms = row.notification_type == "sms"
    return {
        "id": str(row.id),
        "reference": row.client_reference,
        "email_address": None if is_sms or recipient is None else recipient.recipient,
        "phone_number": recipient.recipient if is_sms and recipient is not None else None,
        "line_1": None,
        "line_2": None,
        "line_3": None,
        "line_4": None,
        "line_5": None,
        "line_6": None,
        "postcode": None,
        "postage": None,
        "type": row.notification_type,
        "status": row.status,
        "template": template_ref(base_url, row.template_id, row.template_version),
        "body": body,
        "subject": subject,
        "created_at": timestamp(row.created_at),
        "created_by_name": None,
        "sent_at": timestamp(row.sent_at),
        "completed_at": timestamp(row.completed_at),
        "scheduled_for": None,
        "one_click_unsubscribe_url": None,
        "is_cost_data_ready": row.status in ("delivered", "sent", "permanent-failure", "temporary-failure"),
        "cost_in_pounds": None,
        "cost_details": {"billable_sms_fragments": row.billable_units} if is_sms else {},
        "carrier": row.carrier,
        "provider_response": row.provider_response,
        "job_id": str(row.job_id) if row.job_kind == "upload" else None,
        "row_number": row.job_row_number if row.job_kind == "upload" else None,
    }
