"""Where delivery-status callbacks may go: the guard against a callback URL used to reach inside.

A service chooses its callback URL, and our workers POST to it from inside our network.  In
production a URL must therefore be https:// and reach only public addresses: never loopback,
private (RFC 1918, CGNAT), link-local, unique-local, multicast, unspecified or reserved ranges,
nor a cloud metadata service.  The URL is checked when it is registered and again before every
POST, because the service's DNS can change in between; the POST then connects to the very
address that was checked (``pin``), so a DNS answer that changes between the check and the
connect (DNS rebinding) cannot send it elsewhere.  TLS still verifies the certificate against
the URL's host name (SNI), and the Host header is the URL's.

Development and tests use a policy that allows plain http and internal addresses, so a team can
point an instance at a local receiver; ``for_settings`` picks the policy from the environment.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

import httpx

from notify.config import Environment, Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

# Instance metadata services: AWS (IPv4, IPv6 and ECS task metadata), GCP, Azure, Oracle (all
# 169.254.169.254), Alibaba.  Most are link-local anyway; naming them keeps the reason precise.
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
_METADATA_NAMES = frozenset({"metadata", "metadata.google.internal", "metadata.goog", "instance-data"})
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class DestinationRefused(ValueError):
    """The callback URL may not be used under this policy; the message says why (never the URL).

    ``kind`` is a fixed word for logs and the outbox: the URL and its addresses are the
    service's configuration and stay out of them.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class DestinationUnresolved(Exception):
    """The host name has no address right now: worth retrying, like a connection error."""


def internal_reason(address: IPAddress) -> str | None:
    """Why a POST must not go to this address in production, or None for a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address in _NAT64:
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, ipaddress.IPv6Address) and address in _UNIQUE_LOCAL:
        return "a unique-local address"
    if address.is_private:
        return "a private address"
    if not address.is_global:  # unspecified, reserved, shared (CGNAT), documentation ranges
        return "an address that is not public"
    return None


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver gives for ``host``, in its order of preference."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise DestinationUnresolved(type(exc).__name__) from exc
    found = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    return list(dict.fromkeys(found))


@dataclass(frozen=True, slots=True)
class PinnedDestination:
    """What to connect to for one POST: the checked address, with the URL's own host for HTTP and TLS."""

    url: str  # the URL with its host replaced by the checked address
    host_header: str
    sni_hostname: str | None  # https only: the name the certificate must match


@dataclass(frozen=True, slots=True)
class CallbackDestinations:
    allow_http: bool = False
    allow_internal: bool = False
    resolve: Resolver = system_resolver

    @classmethod
    def for_settings(cls, settings: Settings, resolve: Resolver = system_resolver) -> CallbackDestinations:
        """Production: https to public addresses only. Development and test: local receivers too."""
        internal = settings.environment is not Environment.production
        return cls(allow_http=settings.callbacks_allow_http, allow_internal=internal, resolve=resolve)

    def check_scheme(self, url: str) -> SplitResult:
        parts = urlsplit(url)
        allowed = ("https", "http") if self.allow_http else ("https",)
        if parts.scheme.lower() not in allowed:
            wanted = "http:// or https://" if self.allow_http else "https://"
            raise DestinationRefused("ForbiddenScheme", f"the callback URL must start with {wanted}")
        if not parts.hostname:
            raise DestinationRefused("NoHost", "the callback URL has no host name")
        return parts

    def _check_name(self, host: str) -> None:
        name = host.lower().rstrip(".")
        if self.allow_internal:
            return
        if name == "localhost" or name.endswith(".localhost"):
            raise DestinationRefused("ForbiddenAddress", "the callback URL points at a loopback address")
        if name in _METADATA_NAMES:
            raise DestinationRefused("ForbiddenAddress", "the callback URL points at a cloud metadata address")

    def _check_addresses(self, addresses: list[IPAddress]) -> None:
        if self.allow_internal:
            return
        for address in addresses:  # any bad answer refuses: an attacker's DNS may mix them
            reason = internal_reason(address)
            if reason is not None:
                raise DestinationRefused("ForbiddenAddress", f"the callback URL points at {reason}")

    async def _addresses(self, host: str, port: int) -> list[IPAddress]:
        try:
            return [ipaddress.ip_address(host.split("%", 1)[0])]
        except ValueError:
            pass
        addresses = await self.resolve(host, port)
        if not addresses:
            raise DestinationUnresolved("no address")
        return addresses

    async def check_registration(self, url: str) -> None:
        """At registration: the scheme, the name, and its addresses if it resolves already.

        A name that does not resolve yet is accepted (the service's DNS may not be live); every
        POST checks again anyway.
        """
        parts = self.check_scheme(url)
        assert parts.hostname is not None
        self._check_name(parts.hostname)
        try:
            addresses = await self._addresses(parts.hostname, _port(parts))
        except DestinationUnresolved:
            return
        self._check_addresses(addresses)

    async def pin(self, url: str) -> PinnedDestination:
        """Check the URL now and say which address to connect to; raises DestinationRefused/Unresolved."""
        parts = self.check_scheme(url)
        assert parts.hostname is not None
        self._check_name(parts.hostname)
        addresses = await self._addresses(parts.hostname, _port(parts))
        self._check_addresses(addresses)
        original = httpx.URL(url)
        pinned = original.copy_with(host=str(addresses[0]))
        host_header = original.netloc.decode("ascii").rsplit("@", 1)[-1]
        https = parts.scheme.lower() == "https"
        return PinnedDestination(str(pinned), host_header, original.raw_host.decode("ascii") if https else None)


def _port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme.lower() == "https" else 80)
