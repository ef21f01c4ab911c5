"""Root fixtures: real PostgreSQL, a real S3 endpoint, the app, an account to send with, the PII audit."""

from __future__ import annotations

import logging
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

pytest_plugins = ["tests.fixtures.moto_server", "tests.fixtures.database", "tests.fixtures.live_server"]

TEST_SECRET_KEY = "test-secret-key-that-is-long-enough-0123456789"


def pytest_configure(config: pytest.Config) -> None:
    configure_logging(LogFormat.json, "DEBUG")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
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
    yield audit
    expected = request.node.get_closest_marker("pii_leak_expected")
    if expected is not None:
        await audit.expect_leak(*expected.args)
    else:
        await audit.check()


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    """Environment for running `notify` commands against this test's database and storage."""
    return {
        "NOTIFY_ENVIRONMENT": "test",  # said explicitly, as NOTIFY_TEST_DATABASE_URL may be a remote server
        "NOTIFY_DATABASE_URL": database_url,
        "NOTIFY_SECRET_KEY": TEST_SECRET_KEY,
        "NOTIFY_DATA_DIR": str(tmp_path / ".notify"),
        "NOTIFY_STORAGE_URL": (tmp_path / "objects").as_uri(),
        "NOTIFY_LOG_LEVEL": "WARNING",
    }
