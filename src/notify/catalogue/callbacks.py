"""A service's delivery-status callback: the URL we POST final statuses to, and its bearer token.

The token is the service's secret for checking that a callback really came from us, so it is
stored only encrypted (SecretBox, like API key secrets) and never shown back: ``get`` returns
the URL alone. Rules follow GOV.UK Notify's: the token is at least 10 characters and the URL is
https. In production the URL must also reach only public addresses (notify.callbacks.destinations,
checked again before every POST); outside production plain http and internal addresses are
accepted so a team can point a development instance at a local receiver.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from notify.callbacks.destinations import CallbackDestinations, DestinationRefused
from notify.callbacks.outbox import DELIVERY_STATUS
from notify.catalogue.services import get_service
from notify.secrets import SecretBox

MIN_TOKEN_LENGTH = 10
MAX_TOKEN_LENGTH = 1000
MAX_URL_LENGTH = 2000


class InvalidCallback(ValueError):
    """The URL or token cannot be used; the message says what to change (never echoes the token)."""


@dataclass(frozen=True, slots=True)
class CallbackRecord:
    """What may be shown about a callback: never its token."""

    service_id: uuid.UUID
    url: str
    created_at: datetime
    updated_at: datetime | None


def check_callback_url(url: str, *, allow_http: bool) -> str:
    """Return the URL stripped of surrounding space, or say why it cannot be a callback URL."""
    url = url.strip()
    if not url:
        raise InvalidCallback("a callback needs a URL")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidCallback(f"the callback URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises for a port that is not a number or is out of range
    except ValueError as exc:
        raise InvalidCallback("the callback URL is not a valid URL") from exc
    allowed = ("https", "http") if allow_http else ("https",)
    if parts.scheme.lower() not in allowed:
        wanted = "http:// or https://" if allow_http else "https://"
        raise InvalidCallback(f"the callback URL must start with {wanted}")
    if not parts.hostname:
        raise InvalidCallback("the callback URL has no host name")
    if parts.username is not None or parts.password is not None:
        # Credentials in a URL would be stored in plain text; the bearer token is for that.
        raise InvalidCallback("put credentials in the bearer token, not in the callback URL")
    if any(ch.isspace() for ch in url):
        raise InvalidCallback("the callback URL contains spaces")
    return url


def check_bearer_token(token: str) -> str:
    if len(token) < MIN_TOKEN_LENGTH:
        raise InvalidCallback(f"the bearer token must be at least {MIN_TOKEN_LENGTH} characters")
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidCallback(f"the bearer token must be at most {MAX_TOKEN_LENGTH} characters")
    if not token.isprintable() or any(ch.isspace() for ch in token):
        # It goes into an HTTP header as-is.
        raise InvalidCallback("the bearer token must not contain spaces or control characters")
    return token


async def set_delivery_callback(
    conn: AsyncConnection,
    box: SecretBox,
    service_id: uuid.UUID,
    *,
    url: str,
    bearer_token: str,
    destinations: CallbackDestinations,
) -> CallbackRecord:
    """Create or replace the service's callback; callbacks already queued go to the new URL."""
    url = check_callback_url(url, allow_http=destinations.allow_http)
    token = check_bearer_token(bearer_token)
    try:
        await destinations.check_registration(url)
    except DestinationRefused as exc:
        raise InvalidCallback(str(exc)) from None
    await get_service(conn, service_id)
    row = (
        await conn.execute(
            text(
                "INSERT INTO service_callbacks (service_id, callback_type, url, bearer_token_encrypted) "
                "VALUES (:s, :t, :url, :token) "
                "ON CONFLICT (service_id, callback_type) DO UPDATE SET url = EXCLUDED.url, "
                "bearer_token_encrypted = EXCLUDED.bearer_token_encrypted, updated_at = now() "
                "RETURNING service_id, url, created_at, updated_at"
            ),
            {"s": service_id, "t": DELIVERY_STATUS, "url": url, "token": box.encrypt(token)},
        )
    ).one()
    return CallbackRecord(*row)


async def get_delivery_callback(conn: AsyncConnection, service_id: uuid.UUID) -> CallbackRecord | None:
    await get_service(conn, service_id)
    row = (
        await conn.execute(
            text(
                "SELECT service_id, url, created_at, updated_at FROM service_callbacks "
                "WHERE service_id = :s AND callback_type = :t"
            ),
            {"s": service_id, "t": DELIVERY_STATUS},
        )
    ).one_or_none()
    return CallbackRecord(*row) if row else None


async def remove_delivery_callback(conn: AsyncConnection, service_id: uuid.UUID) -> bool:
    """Stop callbacks, including ones still queued: nobody is listening for them any more.

    Returns whether the service had a callback. A POST already in flight may still arrive.
    """
    await get_service(conn, service_id)
    removed = (
        await conn.execute(
            text("DELETE FROM service_callbacks WHERE service_id = :s AND callback_type = :t"),
            {"s": service_id, "t": DELIVERY_STATUS},
        )
    ).rowcount
    await conn.execute(text("DELETE FROM callback_outbox WHERE service_id = :s"), {"s": service_id})
    return bool(removed)
