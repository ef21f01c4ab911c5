"""Running Notify against AWS providers in tests: moto's server (and fakes) over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import boto3
import httpx
from sqlalchemy import text

from notify.app import create_app
from notify.config import ProviderName, Settings
from notify.runtime import Runtime
from tests.fixtures.moto_server import (
    MOTO_ACCESS_KEY_ID,
    MOTO_REGION,
    MOTO_SECRET_ACCESS_KEY,
)

EMAIL_DOMAIN = "notify.example.gov"


def aws_settings(settings: Settings, endpoint: str, **overrides: Any) -> Settings:
    """The test settings, sending through AWS providers at ``endpoint`` with quick retries."""
    values: dict[str, Any] = {
        "sms_provider": ProviderName.aws_sns,
        "email_provider": ProviderName.ses,
        "aws_region": MOTO_REGION,
        "aws_endpoint_url": endpoint,
        "aws_access_key_id": MOTO_ACCESS_KEY_ID,
        "aws_secret_access_key": MOTO_SECRET_ACCESS_KEY,
        "email_from_domain": EMAIL_DOMAIN,
        "provider_backoff_initial_seconds": 0.05,
        "provider_backoff_max_seconds": 0.2,
        "provider_read_timeout_seconds": 5.0,
    }
    values.update(overrides)
    # Validate like start-up does, so a test cannot run on settings production would refuse.
    return Settings.model_validate({**settings.model_dump(), **values})


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    """The real app with its in-process worker and the providers its settings name (none injected)."""
    app = create_app(settings, run_worker=True)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            yield client, app.state.runtime


# What moto accepted is read from its backends directly: the server runs in this process (a
# ThreadedMotoServer), so these are the very objects its HTTP API serves.  Its one HTTP view of them,
# /moto-api/data.json, serialises every model moto ever tracked and fails once other tests have
# deleted S3 buckets whose keys it still tracks, so it cannot be relied on in a full run.


def moto_published_sms() -> dict[str, dict[str, Any]]:
    """Every SMS moto's SNS accepted, by MessageId."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    backend = sns_backends[DEFAULT_ACCOUNT_ID][MOTO_REGION]
    return {
        message_id: {"message_id": message_id, "phone_number": number, "message": body}
        for message_id, (number, body) in list(backend.sms_messages.items())
    }


def moto_sent_emails() -> dict[str, dict[str, Any]]:
    """Every email moto's SES accepted, by MessageId."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    backend = ses_backends[DEFAULT_ACCOUNT_ID][MOTO_REGION]
    return {
        m.id: {"id": m.id, "source": m.source, "subject": m.subject, "body": m.body, "destinations": m.destinations}
        for m in list(backend.sent_messages)
        if hasattr(m, "destinations")
    }


def verify_ses_domain(endpoint: str, domain: str = EMAIL_DOMAIN) -> None:
    """moto's SES sends only from a verified identity, as real SES does outside its sandbox."""
    client = boto3.client(
        "sesv2", endpoint_url=endpoint, region_name=MOTO_REGION,
        aws_access_key_id=MOTO_ACCESS_KEY_ID, aws_secret_access_key=MOTO_SECRET_ACCESS_KEY,
    )
    client.create_email_identity(EmailIdentity=domain)
    client.close()


async def notification_rows(runtime: Runtime, job_id: str) -> dict[int, Any]:
    """Each notification of a job by row number: status, provider, reference, response, timestamps."""
    async with runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT job_row_number, id, status, provider, provider_reference, provider_response, "
                    "updated_at, completed_at FROM notifications WHERE job_id = :job"
                ),
                {"job": job_id},
            )
        ).all()
    return {r.job_row_number: r for r in rows}
