"""Email through Amazon SES v2 ``SendEmail``; provider_reference is the SES MessageId.

Messages are plain text with a subject (Notify renders no HTML).  With a configuration set, SES
publishes each message's events (delivery, bounce, complaint) to its event destinations, such as
the SNS topic whose webhook turns them into receipts.  The notification id travels as an email
tag, so those events name the notification without us storing anything else.
"""

from __future__ import annotations

from typing import Any

from notify.sending.providers.aws_clients import AwsCalls
from notify.sending.providers.aws_errors import AwsErrorDetail
from notify.sending.providers.base import (
    EmailMessage,
    PermanentProviderError,
    ProviderError,
    ProviderSetupError,
    SendResult,
)

EMAIL_REJECTED = "Email address rejected"
SENDER_NOT_VERIFIED = "Sender address not verified"

_SETUP_CODES = frozenset(
    {"AccountSuspendedException", "SendingPausedException", "MailFromDomainNotVerifiedException", "NotFoundException"}
)


class SesEmailProvider:
    name = "ses"

    def __init__(self, client: Any, calls: AwsCalls, *, configuration_set: str | None = None) -> None:
        self._client = client
        self._calls = calls
        self._configuration_set = configuration_set

    async def send_email(self, message: EmailMessage) -> SendResult:
        request: dict[str, Any] = {
            "FromEmailAddress": message.from_address,
            "Destination": {"ToAddresses": [message.to]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": message.subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": message.body, "Charset": "UTF-8"}},
                }
            },
            "EmailTags": [{"Name": "notification_id", "Value": message.reference}],
        }
        if message.reply_to:
            request["ReplyToAddresses"] = [message.reply_to]
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set

        def classify(detail: AwsErrorDetail) -> ProviderError | None:
            return classify_ses_error(detail, message.from_address)

        return await self._calls.send(self._client.send_email, classify, **request)

    def close(self) -> None:
        self._client.close()


def classify_ses_error(detail: AwsErrorDetail, from_address: str) -> ProviderError | None:
    """MessageRejected is about the recipient unless it names our own (unverified) sender address."""
    if detail.code == "MessageRejected":
        if from_address.lower() in detail.message.lower():
            return ProviderSetupError(SENDER_NOT_VERIFIED, code=detail.code)
        return PermanentProviderError(EMAIL_REJECTED, code=detail.code)
    if detail.code in _SETUP_CODES:
        return ProviderSetupError(code=detail.code)
    if detail.code == "BadRequestException":
        return ProviderSetupError("Provider rejected a message parameter", code=detail.code)
    return None
