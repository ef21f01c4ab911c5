"""Amazon SNS message signatures: the string to sign, the signing certificate, the check.

SNS signs every HTTPS delivery with a certificate it publishes at ``SigningCertURL``; that signature
is the only authentication the receipts endpoint has. The algorithm is AWS's documented one
(docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html): a newline-separated
list of field names and values, signed SHA1withRSA (SignatureVersion 1) or SHA256withRSA (2).

The certificate is trusted because of where it comes from, not what it says: its URL must be
https on an SNS host (``sns.<region>.amazonaws.com``), and it is fetched over verified TLS. A
message cannot point us at a certificate of its own choosing.

Errors here are phrased with fixed wording; they never quote the message, which (for SES and
SMS events) holds the recipient.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

MAX_CERTIFICATE_BYTES = 64 * 1024

NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}


class SnsRejected(Exception):
    """An SNS request we refuse. Subclasses say how the edge answers; the text is fixed wording."""


class SnsMessageInvalid(SnsRejected):
    """Not a usable SNS message (malformed JSON, missing fields, unknown type)."""


class SnsMessageUnauthentic(SnsRejected):
    """Unsigned, badly signed, or signed with a certificate from somewhere other than SNS."""


class SnsUnavailable(SnsRejected):
    """AWS could not be reached to fetch a certificate or confirm a subscription; SNS will retry."""


def string_to_sign(message: Mapping[str, object]) -> bytes:
    """The exact bytes SNS signed: ``name\\nvalue\\n`` for each field, in AWS's order.

    Subject is signed only when the notification has one; confirmations sign their own fields.
    """
    kind = message.get("Type")
    fields = NOTIFICATION_FIELDS if kind == "Notification" else CONFIRMATION_FIELDS
    parts: list[str] = []
    for name in fields:
        value = message.get(name)
        if value is None and name == "Subject":
            continue
        if not isinstance(value, str):
            raise SnsMessageInvalid(f"the SNS message has no {name}")
        parts += [name, value]
    return ("\n".join(parts) + "\n").encode()


def check_sns_url(url: str, host_pattern: re.Pattern[str], *, pem: bool = False) -> None:
    """A URL a message asks us to fetch must be https on an SNS host (and, for a certificate, a .pem)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise SnsMessageUnauthentic("the URL in the SNS message is not an Amazon SNS URL") from None
    if (
        parts.scheme != "https"
        or parts.username is not None
        or parts.password is not None
        or not host_pattern.fullmatch(host)
        or (pem and not parts.path.endswith(".pem"))
    ):
        raise SnsMessageUnauthentic("the URL in the SNS message is not an Amazon SNS URL")


def verify_signature(message: Mapping[str, object], certificate: x509.Certificate) -> None:
    version = message.get("SignatureVersion")
    signature = message.get("Signature")
    if not signature:
        raise SnsMessageUnauthentic("the SNS message is not signed")
    if not isinstance(signature, str) or version not in _HASHES:
        raise SnsMessageUnauthentic("the SNS message signature version is not supported")
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise SnsMessageUnauthentic("the SNS message signature is not valid") from None
    now = datetime.now(UTC)
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise SnsMessageUnauthentic("the SNS signing certificate has expired")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SnsMessageUnauthentic("the SNS signing certificate is not an RSA certificate")
    try:
        key.verify(raw, string_to_sign(message), padding.PKCS1v15(), _HASHES[str(version)]())
    except InvalidSignature:
        raise SnsMessageUnauthentic("the SNS message signature is not valid") from None


class SigningCertificates:
    """Signing certificates by URL: fetched once per process, bounded, concurrent fetches shared.

    SNS signs with a handful of certificates that change rarely, so a small cache makes the
    steady state free. A fetch that fails is forgotten, so the next message tries again.
    """

    def __init__(self, client: httpx.AsyncClient, host_pattern: re.Pattern[str], *, max_entries: int = 32) -> None:
        self._client = client
        self._host_pattern = host_pattern
        self._max_entries = max_entries
        self._entries: OrderedDict[str, asyncio.Task[x509.Certificate]] = OrderedDict()

    async def get(self, url: str) -> x509.Certificate:
        check_sns_url(url, self._host_pattern, pem=True)
        task = self._entries.get(url)
        if task is None:
            task = asyncio.ensure_future(self._fetch(url))
            task.add_done_callback(lambda done: self._forget_failed(url, done))
            self._entries[url] = task
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(url)
        # Shielded: one caller giving up must not cancel the fetch others are waiting for.
        return await asyncio.shield(task)

    def _forget_failed(self, url: str, task: asyncio.Task[x509.Certificate]) -> None:
        if task.cancelled() or task.exception() is not None:
            if self._entries.get(url) is task:
                del self._entries[url]

    async def _fetch(self, url: str) -> x509.Certificate:
        try:
            async with self._client.stream("GET", url) as response:
                if response.status_code >= 500:
                    raise SnsUnavailable("the SNS signing certificate could not be fetched")
                if response.status_code != 200:
                    raise SnsMessageUnauthentic("the SNS signing certificate could not be fetched")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_CERTIFICATE_BYTES:
                        raise SnsMessageUnauthentic("the SNS signing certificate is not a certificate")
        except httpx.HTTPError as exc:
            raise SnsUnavailable("the SNS signing certificate could not be fetched") from exc
        try:
            return x509.load_pem_x509_certificate(bytes(body))
        except ValueError:
            raise SnsMessageUnauthentic("the SNS signing certificate is not a certificate") from None
