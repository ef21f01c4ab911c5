"""Root fixtures: real PostgreSQL, a real S3 endpoint, the app, an account to send with, the PII audit."""

from __future__ import annotations

import inspect
import logging
import os
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from notify.app import create_app
from notify.config import LogFormat, Settings
from notify.log_config import configure_logging
from notify.runtime import Runtime, open_object_store
from notify.sending.providers.simulated import SimulatedProvider
from tests.support.accounts import Account, create_account
from tests.support.pii_audit import PiiAudit
from tests.support.sending import EMAIL_PERSONALISATION, SMS_PERSONALISATION

pytest_plugins = ["tests.fixtures.moto_server", "tests.fixtures.database", "tests.fixtures.live_server"]

TEST_SECRET_KEY = "test-secret-key-that-is-long-enough-0123456789"


def pytest_configure(config: pytest.Config) -> None:
    configure_logging(LogFormat.json, "DEBUG")


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: Path, database_url: str) -> Settings:
    local = Settings(
        environment="test",
        data_dir=tmp_path / ".notify",
        database_url=database_url,
        storage_url=(tmp_path / "objects").as_uri(),
        secret_key=TEST_SECRET_KEY,
        simulated_delivery_delay_ms=0,
        batch_max_wait_ms=2,
        database_pool_size=5,
        catalogue_cache_seconds=0,
    )
    if not _on_s3(request):
        return local
    # Imported here: the module is a pytest plugin (listed below), and importing it at the top
    # would stop pytest from rewriting its asserts.
    from tests.fixtures.moto_server import s3_store_settings

    return s3_store_settings(local, request.getfixturevalue("moto_s3_endpoint"), request.getfixturevalue("s3_bucket"))


def _on_s3(request: pytest.FixtureRequest) -> bool:
    """Recipient tests (those that request ``pii_audit``) alternate between moto's S3 and the local store.

    Half of them, picked by a hash of the test id so a failure reproduces, run on S3: production
    runs there, and a test switched over costs a few milliseconds per object, not a second run.
    ``@pytest.mark.local_store`` keeps a test that reads the store's files on the local store,
    ``@pytest.mark.s3_store`` puts any test on S3;
    NOTIFY_TEST_STORE=s3 or =local puts every recipient test on one store.
    """
    if request.node.get_closest_marker("local_store") is not None:
        return False
    if request.node.get_closest_marker("s3_store") is not None:
        return True
    function = getattr(request.node, "function", None)
    if function is None or "pii_audit" not in inspect.signature(function).parameters:
        return False
    forced = os.environ.get("NOTIFY_TEST_STORE")
    if forced:
        return forced == "s3"
    return zlib.crc32(request.node.nodeid.encode()) % 2 == 0


@pytest.fixture
def provider() -> SimulatedProvider:
    return SimulatedProvider(record=True)


@pytest.fixture
async def app(settings: Settings, provider: SimulatedProvider, pii_audit: PiiAudit) -> AsyncIterator[FastAPI]:
    # Depending on pii_audit makes its check run after this lifespan (and the worker) has shut down.
    application = create_app(settings, run_worker=True, sms_provider=provider, email_provider=provider)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def runtime(app: FastAPI) -> Runtime:
    return app.state.runtime  # type: ignore[no-any-return]


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def account(runtime: Runtime) -> Account:
    return await create_account(runtime)


@pytest.fixture
async def pii_audit(
    request: pytest.FixtureRequest, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[PiiAudit]:
    """Request this in every test that sends recipients; it fails the test on any leak.

    It tracks the default personalisation of tests.support.sending; track any other value you send.

    ``app`` and ``live_server`` depend on it, so the check runs after they have shut down.
    ``@pytest.mark.pii_leak_expected(where)`` (tests of the audit) inverts it: the test then
    fails unless the audit reports a leak in a place matching the regex ``where``.
    """
    caplog.set_level(logging.DEBUG)
    audit = PiiAudit.started(
        settings,
        scan_dirs=[tmp_path],
        records=lambda: [r for phase in ("setup", "call") for r in caplog.get_records(phase)] + caplog.records,
    )
    audit.track_personalisation(*SMS_PERSONALISATION.values(), *EMAIL_PERSONALISATION.values())
    yield audit
    expected = request.node.get_closest_marker("pii_leak_expected")
    if expected is not None:
        await audit.expect_leak(*expected.args)
    else:
        await audit.check()


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    """Environment for running `notify` commands against this test's database and storage."""
    values = {
        "NOTIFY_ENVIRONMENT": "test",  # said explicitly, as NOTIFY_TEST_DATABASE_URL may be a remote server
        "NOTIFY_DATABASE_URL": settings.database_url or "",
        "NOTIFY_SECRET_KEY": TEST_SECRET_KEY,
        "NOTIFY_DATA_DIR": str(settings.data_dir),
        "NOTIFY_STORAGE_URL": settings.resolved_storage_url,
        "NOTIFY_LOG_LEVEL": "WARNING",
    }
    # The same store as `settings`, which puts half the recipient tests on S3.
    for name in ("storage_endpoint", "storage_region", "storage_access_key_id", "storage_secret_access_key"):
        if getattr(settings, name) is not None:
            values[f"NOTIFY_{name.upper()}"] = getattr(settings, name)
    if settings.storage_allow_http:
        values["NOTIFY_STORAGE_ALLOW_HTTP"] = "true"
    return values
