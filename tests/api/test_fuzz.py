"""Schemathesis fuzzes every operation in the OpenAPI schema: no input may produce a 5xx.

Generated sends use the service's test key, so nothing reaches a provider; recipients that were
accepted (201) are handed to the PII audit.
"""

from __future__ import annotations

import asyncio
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings

from notify.db.models import KeyType
from tests.support.accounts import Account
from tests.support.pii_audit import PiiAudit


def _fuzz(base_url: str, headers: dict[str, str], accepted: list[str]) -> list[str]:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 6
    checked: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            response = case.call(base_url=base_url, headers=headers)
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
            if response.status_code >= 400:
                assert response.json()["errors"], response.text
            if response.status_code == 201 and isinstance(case.body, dict):
                accepted.extend(v for k, v in case.body.items() if k in ("phone_number", "email_address"))

        check()
        checked.append(f"{operation.method.upper()} {operation.path}")
    return checked


async def test_no_input_causes_a_server_error(live_server: str, account: Account, pii_audit: PiiAudit) -> None:
    accepted: list[str] = []
    checked = await asyncio.to_thread(_fuzz, live_server, account.headers(KeyType.test), accepted)
    pii_audit.track(*accepted)
    assert "POST /v2/notifications/sms" in checked
