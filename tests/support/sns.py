"""Stand-ins for AWS in SNS tests: a test PKI, an HTTPS server for certificates and confirmations, a signer.

Signing here is written from AWS's documentation independently of notify.receipts.sns_signature,
so a mistake there cannot be mirrored by the tests.
"""

from __future__ import annotations

import base64
import ipaddress
import ssl
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

SNS_ENDPOINT = "/notifications/receipts/sns"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:notify-receipts"
SNS_HOST_PATTERN = r"127\.0\.0\.1"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _certificate(
    subject: str, key: rsa.RSAPrivateKey, issuer: str, issuer_key: rsa.RSAPrivateKey, *, ca: bool = False,
    san: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class Pki:
    ca_bundle: Path
    server_cert: Path
    server_key: Path
    signing_key: rsa.RSAPrivateKey
    signing_cert_pem: bytes
    other_key: rsa.RSAPrivateKey  # a key SNS never used: what a forger has
    other_cert_pem: bytes


def make_pki(directory: Path) -> Pki:
    """A CA, a TLS certificate for 127.0.0.1 from it, and two signing keys with certificates."""
    ca_key, server_key, signing_key, other_key = _key(), _key(), _key(), _key()
    ca = _certificate("Test CA", ca_key, "Test CA", ca_key, ca=True)
    server = _certificate(
        "127.0.0.1", server_key, "Test CA", ca_key,
        san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")],
    )
    signing = _certificate("sns.amazonaws.com", signing_key, "Test CA", ca_key)
    other = _certificate("sns.amazonaws.com", other_key, "Test CA", ca_key)
    (directory / "ca.pem").write_bytes(_pem(ca))
    (directory / "server.pem").write_bytes(_pem(server))
    (directory / "server.key").write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return Pki(
        directory / "ca.pem", directory / "server.pem", directory / "server.key",
        signing_key, _pem(signing), other_key, _pem(other),
    )


@dataclass
class AwsServer:
    """Stands in for sns.<region>.amazonaws.com: serves certificates, answers ConfirmSubscription."""

    base_url: str
    certificates: dict[str, bytes]
    requests: list[str] = field(default_factory=list)

    @property
    def cert_url(self) -> str:
        return f"{self.base_url}/SimpleNotificationService-test.pem"

    def requested(self, prefix: str) -> list[str]:
        return [path for path in self.requests if path.startswith(prefix)]


@contextmanager
def serve_aws(pki: Pki) -> Iterator[AwsServer]:
    """A real HTTPS server on 127.0.0.1 with the test CA's certificate, in a thread."""
    state = AwsServer("", {"/SimpleNotificationService-test.pem": pki.signing_cert_pem,
                           "/SimpleNotificationService-other.pem": pki.other_cert_pem})
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            with lock:
                state.requests.append(self.path)
            path = self.path.split("?", 1)[0]
            if path in state.certificates:
                self._answer(200, state.certificates[path])
            elif path == "/confirm":
                self._answer(200, b"<ConfirmSubscriptionResponse/>")
            else:
                self._answer(404, b"not found")

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    state.base_url = f"https://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="aws-server", daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def aws_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def aws_string_to_sign(message: dict[str, Any]) -> bytes:
    if message["Type"] == "Notification":
        names = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    return "".join(f"{name}\n{message[name]}\n" for name in names if message.get(name) is not None).encode()


@dataclass
class Signer:
    key: rsa.RSAPrivateKey
    cert_url: str
    base_url: str

    def sign(self, message: dict[str, Any], *, version: str = "2", key: rsa.RSAPrivateKey | None = None) -> dict[str, Any]:
        message = {"SignatureVersion": version, "SigningCertURL": self.cert_url, **message}
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = (key or self.key).sign(aws_string_to_sign(message), padding.PKCS1v15(), algorithm)
        return {**message, "Signature": base64.b64encode(signature).decode()}

    def notification(
        self,
        event: dict[str, Any] | str,
        *,
        version: str = "2",
        sent_at: datetime | None = None,
        subject: str | None = None,
        topic_arn: str = TOPIC_ARN,
        **overrides: Any,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "Type": "Notification",
            "MessageId": str(uuid.uuid4()),
            "TopicArn": topic_arn,
            "Message": event if isinstance(event, str) else orjson.dumps(event).decode(),
            "Timestamp": aws_timestamp(sent_at or datetime.now(UTC)),
            "UnsubscribeURL": f"{self.base_url}/unsubscribe?SubscriptionArn={topic_arn}:sub",
            **overrides,
        }
        if subject is not None:
            message["Subject"] = subject
        return self.sign(message, version=version)

    def confirmation(self, kind: str = "SubscriptionConfirmation", *, version: str = "2", **overrides: Any) -> dict[str, Any]:
        token = uuid.uuid4().hex
        message: dict[str, Any] = {
            "Type": kind,
            "MessageId": str(uuid.uuid4()),
            "Token": token,
            "TopicArn": TOPIC_ARN,
            "Message": f"You have chosen to subscribe to the topic {TOPIC_ARN}.",
            "SubscribeURL": f"{self.base_url}/confirm?Action=ConfirmSubscription&TopicArn={TOPIC_ARN}&Token={token}",
            "Timestamp": aws_timestamp(datetime.now(UTC)),
            **overrides,
        }
        return self.sign(message, version=version)


async def post_sns(client: httpx.AsyncClient, message: dict[str, Any] | bytes) -> httpx.Response:
    """Post as SNS does: JSON with a text/plain content type and the message-type header."""
    body = message if isinstance(message, bytes) else orjson.dumps(message)
    headers = {"Content-Type": "text/plain; charset=UTF-8"}
    if isinstance(message, dict) and isinstance(message.get("Type"), str):
        headers["x-amz-sns-message-type"] = message["Type"]
    return await client.post(SNS_ENDPOINT, content=body, headers=headers)


def ses_event(event_type: str, reference: str, recipient: str, *, source: str = "eventType", **detail: Any) -> dict[str, Any]:
    """An SES event as event publishing (``eventType``) or notifications (``notificationType``) sends it.

    Full of the recipient, as the real ones are: destination, headers, and diagnostic codes.
    """
    now = aws_timestamp(datetime.now(UTC))
    event: dict[str, Any] = {
        source: event_type,
        "mail": {
            "timestamp": now,
            "source": "benefits@notify.localhost",
            "sendingAccountId": "123456789012",
            "messageId": reference,
            "destination": [recipient],
            "headersTruncated": False,
            "headers": [{"name": "To", "value": recipient}],
            "commonHeaders": {"from": ["benefits@notify.localhost"], "to": [recipient], "subject": "Your case 7"},
            "tags": {"ses:configuration-set": ["notify"]},
        },
    }
    if event_type == "Delivery":
        event["delivery"] = {"timestamp": now, "recipients": [recipient], "smtpResponse": f"250 2.0.0 OK <{recipient}>",
                             "reportingMTA": "a8-70.smtp-out.amazonses.com", "processingTimeMillis": 546}
    elif event_type == "Bounce":
        event["bounce"] = {
            "bounceType": detail.get("bounce_type", "Permanent"),
            "bounceSubType": detail.get("bounce_sub_type", "General"),
            "bouncedRecipients": [{"emailAddress": recipient, "action": "failed", "status": "5.1.1",
                                   "diagnosticCode": f"smtp; 550 5.1.1 <{recipient}>: Recipient address rejected"}],
            "timestamp": now, "feedbackId": "0100017c-bounce", "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
        }
    elif event_type == "Complaint":
        event["complaint"] = {"complainedRecipients": [{"emailAddress": recipient}], "timestamp": now,
                              "feedbackId": "0100017c-complaint", "complaintFeedbackType": "abuse"}
    elif event_type == "DeliveryDelay":
        event["deliveryDelay"] = {"delayType": "MailboxFull", "timestamp": now, "expirationTime": now,
                                  "delayedRecipients": [{"emailAddress": recipient, "status": "4.2.2",
                                                         "diagnosticCode": f"smtp; 452 4.2.2 <{recipient}> full"}]}
    elif event_type == "Reject":
        event["reject"] = {"reason": "Bad content"}
    return event


def sms_event(event_type: str, reference: str, phone: str, *, carrier: str | None = "Verizon Wireless") -> dict[str, Any]:
    """An End User Messaging SMS event, as its SNS event destination publishes it (with the recipient)."""
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    event: dict[str, Any] = {
        "eventType": event_type,
        "eventVersion": "1.0",
        "eventTimestamp": now_ms,
        "isFinal": True,
        "originationPhoneNumber": "+12065550152",
        "destinationPhoneNumber": phone,
        "isoCountryCode": "US",
        "isInternationalSend": False,
        "mcc": "310",
        "mnc": "800",
        "messageId": reference,
        "messageRequestTimestamp": now_ms - 300,
        "messageEncoding": "GSM",
        "messageType": "TRANSACTIONAL",
        "messageStatus": event_type.removeprefix("TEXT_"),
        "messageStatusDescription": f"Message to {phone} has the status {event_type}",
        "context": {},
        "totalMessageParts": 1,
        "totalMessagePrice": 0.00581,
        "totalCarrierFee": 0.00302,
    }
    if carrier is not None:
        event["carrierName"] = carrier
    return event
