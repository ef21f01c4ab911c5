"""The catalogue cache against a database that really goes away: stale keys are trusted only briefly.

The test database is made unreachable for real (``ALLOW_CONNECTIONS false`` and its sessions
terminated), so every reload fails as it would in an outage.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from notify.api.auth import load_service
from notify.app import create_app
from notify.catalogue.cache import CatalogueUnavailable
from notify.catalogue.keys import revoke_api_key
from notify.config import Settings
from notify.db.models import KeyType
from notify.db.urls import libpq_url
from notify.runtime import Runtime
from tests.support.accounts import create_account

TTL, MAX_STALE = 0.2, 1.0


class Outage:
    """Cut and restore every connection to one database, from an admin session on the server."""

    def __init__(self, server_url: str, database_url: str) -> None:
        self._server = libpq_url(server_url)
        self._name = make_url(libpq_url(database_url)).database

    def _run(self, sql: str) -> None:
        with psycopg.connect(self._server, autocommit=True) as conn:
            conn.execute(sql.format(name=self._name))

    def cut(self) -> None:
        self._run('ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        with psycopg.connect(self._server, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (self._name,),
            )

    def restore(self) -> None:
        self._run('ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


@pytest.fixture
def outage(postgres_url: str, database_url: str) -> Iterator[Outage]:
    cut = Outage(postgres_url, database_url)
    yield cut
    cut.restore()


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    app = create_app(
        settings.model_copy(update={"catalogue_cache_seconds": TTL, "catalogue_max_stale_seconds": MAX_STALE})
    )
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
            yield c, app.state.runtime


async def test_a_key_revoked_before_an_outage_stops_working_after_the_stale_limit(
    served: tuple[httpx.AsyncClient, Runtime], outage: Outage
) -> None:
    client, runtime = served
    account = await create_account(runtime)
    assert (await client.get("/v2/templates", headers=account.headers())).status_code == 200  # keys now cached
    async with runtime.engine.begin() as conn:
        await revoke_api_key(conn, account.service_id, account.keys[KeyType.normal].id)
    outage.cut()
    cut_at = time.monotonic()

    def load():  # type: ignore[no-untyped-def]
        return load_service(runtime, account.service_id)

    # Within the limit the cached copy (revoked key still active in it) is used while reloads fail...
    stale = await runtime.caches.services.get_or_load(account.service_id, load)
    assert not next(k for k in stale.keys if k.id == account.keys[KeyType.normal].id).revoked
    # ...then the API fails closed with a v2 503, for as long as the database stays away.
    while (response := await client.get("/v2/templates", headers=account.headers())).status_code != 503:
        assert time.monotonic() - cut_at < TTL + MAX_STALE + 5, f"still {response.status_code}: {response.text}"
        await asyncio.sleep(0.05)
    assert time.monotonic() - cut_at >= TTL
    assert response.json() == {
        "status_code": 503,
        "errors": [{"error": "ServiceUnavailableError",
                    "message": "The service is temporarily unavailable; try again shortly"}],
    }
    with pytest.raises(CatalogueUnavailable):
        await runtime.caches.services.get_or_load(account.service_id, load)
    assert (await client.get("/v2/templates", headers=account.headers())).status_code == 503

    # Back up: the revocation is seen, and the service's other keys work again.
    outage.restore()
    deadline = time.monotonic() + 10
    while (response := await client.get("/v2/templates", headers=account.headers())).status_code != 403:
        assert time.monotonic() < deadline, f"still {response.status_code} after the database came back"
        await asyncio.sleep(0.05)
    assert response.json()["errors"][0]["message"] == "Invalid token: API key revoked"
    assert (await client.get("/v2/templates", headers=account.headers(KeyType.test))).status_code == 200
