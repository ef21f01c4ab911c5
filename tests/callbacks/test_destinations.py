"""Callback URLs may not reach inside: refused at registration and again before every POST.

The production rules are the default of ``CallbackDestinations``; tests (like development) use
the relaxed rules, so their receivers on 127.0.0.1 keep working. Resolvers are injected where a
test needs a name to resolve to a given address.
"""

from __future__ import annotations

import ipaddress
import logging
import ssl
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from notify.callbacks.destinations import CallbackDestinations, IPAddress, internal_reason
from notify.callbacks.dispatch import CallbackDispatcher, CallbackPolicy, callback_client
from notify.catalogue.callbacks import InvalidCallback, set_delivery_callback
from notify.config import Settings
from notify.runtime import Runtime
from tests.callbacks.support import BEARER_TOKEN, log_events, outbox_rows, register_callback, send_sms
from tests.fixtures.callback_receiver import CallbackReceiver
from tests.support.accounts import Account
from tests.support.pii_audit import PiiAudit
from tests.support.polling import wait_for_status
from tests.support.sns import make_pki

PUBLIC = ipaddress.ip_address("93.184.215.14")
LOOPBACK = ipaddress.ip_address("127.0.0.1")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"callbacks_enabled": False})  # each test runs its own rounds


class Resolver:
    """Answers one name with the addresses it is told, and counts the lookups (DNS as we choose)."""

    def __init__(self, *answers: IPAddress) -> None:
        self.answers = list(answers)
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.lookups.append(host)
        return list(self.answers)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "a loopback address"), ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"), ("10.20.30.40", "a private address"),
        ("172.16.0.9", "a private address"), ("192.168.1.1", "a private address"),
        ("169.254.10.10", "a link-local address"), ("fe80::1", "a link-local address"),
        ("fd12:3456::1", "a unique-local address"), ("224.0.0.251", "a multicast address"),
        ("ff02::1", "a multicast address"), ("169.254.169.254", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"), ("100.100.100.200", "a cloud metadata address"),
        ("64:ff9b::a9fe:a9fe", "a cloud metadata address"), ("0.0.0.0", "a private address"),
        ("100.64.0.1", "an address that is not public"), ("93.184.215.14", None), ("2606:4700::1111", None),
    ],
)
def test_internal_addresses_are_refused_with_a_reason(address: str, reason: str | None) -> None:
    assert internal_reason(ipaddress.ip_address(address)) == reason


async def test_production_refuses_internal_urls_at_registration(runtime: Runtime, account: Account) -> None:
    async def register(url: str, destinations: CallbackDestinations) -> None:
        async with runtime.engine.begin() as conn:
            await set_delivery_callback(conn, runtime.secrets, account.service_id, url=url,
                                        bearer_token=BEARER_TOKEN, destinations=destinations)

    production = CallbackDestinations(resolve=Resolver(PUBLIC))
    for url, reason in [
        ("https://127.0.0.1:9000/cb", "a loopback address"),
        ("https://[::1]/cb", "a loopback address"),
        ("https://localhost/cb", "a loopback address"),
        ("https://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
        ("https://metadata.google.internal/computeMetadata/v1/", "a cloud metadata address"),
        ("https://10.0.0.8/cb", "a private address"),
    ]:
        with pytest.raises(InvalidCallback) as refused:
            await register(url, production)
        assert str(refused.value) == f"the callback URL points at {reason}", url
    # A name whose answers mix a public and an internal address is refused: any bad answer counts.
    with pytest.raises(InvalidCallback, match="points at a loopback address"):
        await register("https://hooks.agency.test/cb", CallbackDestinations(resolve=Resolver(PUBLIC, LOOPBACK)))
    with pytest.raises(InvalidCallback, match="must start with https://"):
        await register("http://hooks.agency.test/cb", production)

    await register("https://hooks.agency.test/cb", production)  # resolves to a public address
    await register("https://not-live-yet.agency.test/cb", CallbackDestinations(resolve=Resolver()))
    # Development and tests: a local receiver is fine.
    await register("http://127.0.0.1:9000/cb", CallbackDestinations(allow_http=True, allow_internal=True))


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with callback_client(CallbackPolicy(timeout_seconds=3)) as client:
        yield client


async def _one_due_callback(client: httpx.AsyncClient, account: Account, runtime: Runtime, number: str) -> str:
    notification_id = await send_sms(client, account, number)
    await wait_for_status(client, account, notification_id, "delivered")
    assert [row[0] for row in await outbox_rows(runtime)] == [notification_id]
    return notification_id


def _dispatcher(runtime: Runtime, http: httpx.AsyncClient, destinations: CallbackDestinations) -> CallbackDispatcher:
    policy = CallbackPolicy(max_attempts=3, timeout_seconds=3, backoff_base_seconds=0.1, backoff_cap_seconds=0.2)
    return CallbackDispatcher(runtime.engine, runtime.store, runtime.secrets, http, policy, destinations=destinations)


@pytest.mark.parametrize(
    ("destinations", "error"),
    [
        # Registered as http while that was allowed; production rules at dispatch refuse the scheme.
        (CallbackDestinations(), "ForbiddenScheme"),
        # The name's DNS now points inside: refused before any connection is made.
        (CallbackDestinations(allow_http=True, resolve=Resolver(LOOPBACK)), "ForbiddenAddress"),
    ],
    ids=["scheme", "address"],
)
async def test_dispatch_checks_again_and_refuses_without_connecting(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, callback_receiver: CallbackReceiver,
    http: httpx.AsyncClient, pii_audit: PiiAudit, caplog: pytest.LogCaptureFixture,
    destinations: CallbackDestinations, error: str,
) -> None:
    pii_audit.track("+12025550181")
    port = urlsplit(callback_receiver.url).port
    await register_callback(runtime, account, f"http://hooks.agency.test:{port}/notify/status")
    notification_id = await _one_due_callback(client, account, runtime, "+12025550181")
    caplog.set_level(logging.INFO)

    outcome = await _dispatcher(runtime, http, destinations).dispatch_once()

    assert (outcome.claimed, outcome.sent, outcome.retrying, outcome.gave_up) == (1, 0, 0, 1)
    assert callback_receiver.requests == []
    (gave_up,) = log_events(caplog.records, "callbacks.gave_up")
    assert (gave_up["notification_id"], gave_up["error"]) == (notification_id, error)
    assert "hooks.agency.test" not in caplog.text and "127.0.0.1" not in caplog.text


async def test_dispatch_connects_to_the_address_it_checked(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, callback_receiver: CallbackReceiver,
    http: httpx.AsyncClient, pii_audit: PiiAudit,
) -> None:
    """The name exists only in our resolver: the POST reached the receiver through the address it gave."""
    pii_audit.track("+12025550182")
    port = urlsplit(callback_receiver.url).port
    await register_callback(runtime, account, f"http://receiver.callbacks.test:{port}/notify/status?source=notify")
    notification_id = await _one_due_callback(client, account, runtime, "+12025550182")
    resolver = Resolver(LOOPBACK)

    outcome = await _dispatcher(
        runtime, http, CallbackDestinations(allow_http=True, allow_internal=True, resolve=resolver)
    ).dispatch_once()

    assert (outcome.claimed, outcome.sent) == (1, 1)
    (request,) = callback_receiver.requests
    assert request.body["id"] == notification_id
    assert request.path == "/notify/status?source=notify"
    assert request.headers["host"] == f"receiver.callbacks.test:{port}"
    assert request.headers["authorization"] == f"Bearer {BEARER_TOKEN}"
    assert resolver.lookups == ["receiver.callbacks.test"]  # one lookup, and the connection used its answer


class _Recorder(BaseHTTPRequestHandler):
    received: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).received.append(self.headers["Host"])
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep test output quiet
        pass


@pytest.fixture
def https_receiver(tmp_path: Path) -> Iterator[tuple[int, Path, list[str]]]:
    """An HTTPS receiver on 127.0.0.1 whose certificate (from a test CA) names localhost and 127.0.0.1."""
    pki = make_pki(tmp_path)
    handler = type("Recorder", (_Recorder,), {"received": []})
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.handle_error = lambda request, address: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, name="https-callback-receiver", daemon=True)
    thread.start()
    yield server.server_address[1], pki.ca_bundle, handler.received
    server.shutdown()
    server.server_close()


async def test_tls_is_verified_against_the_url_host_not_the_pinned_address(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, https_receiver: tuple[int, Path, list[str]],
    pii_audit: PiiAudit,
) -> None:
    """The certificate also names 127.0.0.1, so only a check against the URL's host name refuses the second."""
    port, ca_bundle, received = https_receiver
    pii_audit.track("+12025550183", "+12025550184")
    destinations = CallbackDestinations(allow_internal=True, resolve=Resolver(LOOPBACK))
    async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(ca_bundle))) as tls:
        dispatcher = _dispatcher(runtime, tls, destinations)

        await register_callback(runtime, account, f"https://localhost:{port}/status")
        await _one_due_callback(client, account, runtime, "+12025550183")
        assert (await dispatcher.dispatch_once()).sent == 1
        assert received == [f"localhost:{port}"]

        await register_callback(runtime, account, f"https://hooks.agency.test:{port}/status")
        await _one_due_callback(client, account, runtime, "+12025550184")
        outcome = await dispatcher.dispatch_once()
        assert (outcome.sent, outcome.retrying) == (0, 1)  # certificate does not name hooks.agency.test
        assert received == [f"localhost:{port}"]
