"""SNS signatures: AWS's string to sign, the certificate URL rule, both signature versions, the certificate cache."""

from __future__ import annotations

import asyncio
import re
import ssl

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from notify.config import Settings
from notify.receipts.sns_signature import (
    SigningCertificates,
    SnsMessageUnauthentic,
    SnsUnavailable,
    check_sns_url,
    string_to_sign,
    verify_signature,
)
from tests.support.sns import SNS_HOST_PATTERN, AwsServer, Pki, Signer

DEFAULT_HOSTS = re.compile(Settings.model_fields["sns_host_pattern"].default)


def test_string_to_sign_for_a_notification_follows_aws_order_and_skips_a_missing_subject() -> None:
    message = {
        "Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:t", "Message": "line 1\nline 2",
        "Timestamp": "2026-01-02T03:04:05.678Z", "Signature": "ignored", "UnsubscribeURL": "ignored",
    }
    assert string_to_sign(message) == (
        b"Message\nline 1\nline 2\nMessageId\nm-1\nTimestamp\n2026-01-02T03:04:05.678Z\nTopicArn\narn:t\n"
        b"Type\nNotification\n"
    )
    assert string_to_sign({**message, "Subject": None}) == string_to_sign(message)
    assert string_to_sign({**message, "Subject": "Hello"}) == (
        b"Message\nline 1\nline 2\nMessageId\nm-1\nSubject\nHello\nTimestamp\n2026-01-02T03:04:05.678Z\n"
        b"TopicArn\narn:t\nType\nNotification\n"
    )


@pytest.mark.parametrize("kind", ["SubscriptionConfirmation", "UnsubscribeConfirmation"])
def test_string_to_sign_for_confirmations_signs_the_subscribe_url_and_token(kind: str) -> None:
    message = {
        "Type": kind, "MessageId": "m-2", "TopicArn": "arn:t", "Message": "confirm", "Token": "tok",
        "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
        "Timestamp": "2026-01-02T03:04:05.678Z", "Subject": "not signed for confirmations",
    }
    assert string_to_sign(message) == (
        b"Message\nconfirm\nMessageId\nm-2\nSubscribeURL\nhttps://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription\n"
        b"Timestamp\n2026-01-02T03:04:05.678Z\nToken\ntok\nTopicArn\narn:t\nType\n" + kind.encode() + b"\n"
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.eu-west-2.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
    ],
)
def test_sns_certificate_urls_are_allowed(url: str) -> None:
    check_sns_url(url, DEFAULT_HOSTS, pem=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",  # not https
        "https://sns.us-east-1.amazonaws.com.evil.example/cert.pem",  # suffix trick
        "https://evilsns.us-east-1.amazonaws.com/cert.pem",
        "https://sns.amazonaws.com/cert.pem",  # no region
        "https://s3.amazonaws.com/bucket/sns.us-east-1.amazonaws.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com@evil.example/cert.pem",  # userinfo trick
        "https://user@sns.us-east-1.amazonaws.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com/cert.txt",  # not a certificate
        "https://sns.us-east-1.amazonaws.com:notaport/cert.pem",
        "file:///etc/ssl/cert.pem",
        "",
    ],
)
def test_other_certificate_urls_are_refused(url: str) -> None:
    with pytest.raises(SnsMessageUnauthentic):
        check_sns_url(url, DEFAULT_HOSTS, pem=True)


@pytest.mark.parametrize("version", ["1", "2"])
def test_both_signature_versions_verify_and_tampering_does_not(pki: Pki, version: str) -> None:
    signer = Signer(pki.signing_key, "https://sns.us-east-1.amazonaws.com/c.pem", "https://sns.us-east-1.amazonaws.com")
    certificate = x509.load_pem_x509_certificate(pki.signing_cert_pem)
    message = signer.notification({"eventType": "Delivery"}, version=version, subject="With a subject")
    verify_signature(message, certificate)
    for tampered in (
        {**message, "Message": message["Message"].replace("Delivery", "Bounce")},
        {**message, "Subject": "Another subject"},
        {k: v for k, v in message.items() if k != "Subject"},
        {**message, "TopicArn": message["TopicArn"] + "-other"},
        {**message, "SignatureVersion": "2" if version == "1" else "1"},
        {**message, "Signature": "not base64!"},
        {**message, "SignatureVersion": "3"},
    ):
        with pytest.raises(SnsMessageUnauthentic):
            verify_signature(tampered, certificate)
    forged = signer.sign({k: v for k, v in message.items() if k != "Signature"}, version=version, key=pki.other_key)
    with pytest.raises(SnsMessageUnauthentic):
        verify_signature(forged, certificate)


def _client(pki: Pki) -> httpx.AsyncClient:
    return httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(pki.ca_bundle)), timeout=5)


async def test_certificates_are_fetched_once_and_shared(pki: Pki, aws_server: AwsServer) -> None:
    async with _client(pki) as client:
        certificates = SigningCertificates(client, re.compile(SNS_HOST_PATTERN))
        fetched = await asyncio.gather(*(certificates.get(aws_server.cert_url) for _ in range(5)))
        again = await certificates.get(aws_server.cert_url)
    assert {c.public_bytes(serialization.Encoding.PEM) for c in [*fetched, again]} == {pki.signing_cert_pem}
    assert aws_server.requested("/SimpleNotificationService-test.pem") == ["/SimpleNotificationService-test.pem"]


async def test_the_cache_is_bounded(pki: Pki, aws_server: AwsServer) -> None:
    async with _client(pki) as client:
        certificates = SigningCertificates(client, re.compile(SNS_HOST_PATTERN), max_entries=1)
        await certificates.get(aws_server.cert_url)
        await certificates.get(f"{aws_server.base_url}/SimpleNotificationService-other.pem")
        await certificates.get(aws_server.cert_url)
    assert len(aws_server.requested("/SimpleNotificationService-test.pem")) == 2


async def test_a_missing_certificate_is_refused_and_not_cached(pki: Pki, aws_server: AwsServer) -> None:
    async with _client(pki) as client:
        certificates = SigningCertificates(client, re.compile(SNS_HOST_PATTERN))
        for _ in range(2):
            with pytest.raises(SnsMessageUnauthentic):
                await certificates.get(f"{aws_server.base_url}/missing.pem")
    assert len(aws_server.requested("/missing.pem")) == 2


async def test_an_untrusted_tls_certificate_or_unreachable_host_is_unavailable(pki: Pki, aws_server: AwsServer) -> None:
    async with httpx.AsyncClient(timeout=5) as client:  # the system trust store does not know the test CA
        with pytest.raises(SnsUnavailable):
            await SigningCertificates(client, re.compile(SNS_HOST_PATTERN)).get(aws_server.cert_url)
    assert aws_server.requested("/SimpleNotificationService-test.pem") == []
    async with _client(pki) as client:
        with pytest.raises(SnsUnavailable):
            await SigningCertificates(client, re.compile(SNS_HOST_PATTERN)).get("https://127.0.0.1:9/cert.pem")
