"""AWS SMS, two ways: SNS Publish (the default) and End User Messaging SMS (SendTextMessage).

Both reach the same carriers through the same origination numbers.  SNS is the default because
it is what Notify.gov runs on: its per-message delivery-status logs in CloudWatch are what the
receipt poller reads.  End User Messaging SMS ("pinpoint-sms-voice-v2") is AWS's newer API,
which adds configuration sets (event destinations for receipts) and carries our notification id
in ``Context``; choose it with ``aws-sms-v2``.

Which number a message comes from: the service's sender when it is a phone number; otherwise the
configured origination number (SNS: ``AWS.MM.SMS.OriginationNumber``; End User Messaging: an
``OriginationIdentity``, which may also be a pool id or ARN), and an alphanumeric sender becomes
the sender ID where carriers allow one.
"""

from __future__ import annotations

import re
from typing import Any

from notify.sending.providers.aws_clients import AwsCalls
from notify.sending.providers.aws_errors import AwsErrorDetail
from notify.sending.providers.base import (
    PermanentProviderError,
    ProviderError,
    ProviderSetupError,
    SendResult,
    SmsMessage,
)

INVALID_PHONE_NUMBER = "Invalid phone number"
OPTED_OUT = "Phone number is opted out"
BLOCKED = "Destination is on a blocked list"
COUNTRY_BLOCKED = "Destination country blocked"
PRICE_TOO_HIGH = "Price exceeds max price"
NOT_VERIFIED = "Destination phone number not verified"
BAD_PARAMETER = "Provider rejected a message parameter"

_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_SENDER_ID = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9-]{1,11}$")


def is_phone_number(sender: str | None) -> bool:
    return bool(sender and _E164.match(sender))


class SnsSmsProvider:
    """SMS through ``sns.publish(PhoneNumber=...)``; provider_reference is the SNS MessageId."""

    name = "aws-sns"

    def __init__(self, client: Any, calls: AwsCalls, *, origination_number: str | None = None) -> None:
        self._client = client
        self._calls = calls
        self._origination_number = origination_number

    async def send_sms(self, message: SmsMessage) -> SendResult:
        attributes = {"AWS.SNS.SMS.SMSType": _string("Transactional")}
        number = message.sender if is_phone_number(message.sender) else self._origination_number
        if number:
            attributes["AWS.MM.SMS.OriginationNumber"] = _string(number)
        if message.sender and _SENDER_ID.match(message.sender):
            attributes["AWS.SNS.SMS.SenderID"] = _string(message.sender)
        return await self._calls.send(
            self._client.publish, classify_sns_error,
            PhoneNumber=message.to, Message=message.body, MessageAttributes=attributes,
        )

    def close(self) -> None:
        self._client.close()


def classify_sns_error(detail: AwsErrorDetail) -> ProviderError | None:
    """SNS names the bad parameter only in its message ("Invalid parameter: PhoneNumber Reason: ...")."""
    if "OptedOut" in detail.code:
        return PermanentProviderError(OPTED_OUT, code=detail.code)
    if detail.code in ("InvalidParameter", "ParameterValueInvalid", "InvalidParameterValue", "ValidationException"):
        text = detail.message.lower().replace(" ", "")
        if "phonenumber" in text or "e164" in text:
            return PermanentProviderError(INVALID_PHONE_NUMBER, code=detail.code)
        return ProviderSetupError(BAD_PARAMETER, code=detail.code)
    return None


class EndUserMessagingSmsProvider:
    """SMS through End User Messaging SMS ``SendTextMessage``; provider_reference is its MessageId."""

    name = "aws-sms-v2"

    def __init__(
        self,
        client: Any,
        calls: AwsCalls,
        *,
        origination_identity: str | None = None,
        configuration_set: str | None = None,
    ) -> None:
        self._client = client
        self._calls = calls
        self._origination_identity = origination_identity
        self._configuration_set = configuration_set

    async def send_sms(self, message: SmsMessage) -> SendResult:
        request: dict[str, Any] = {
            "DestinationPhoneNumber": message.to,
            "MessageBody": message.body,
            "MessageType": "TRANSACTIONAL",
            # Echoed in every event for this message, so receipts can name the notification.
            "Context": {"notification_id": message.reference},
        }
        identity = message.sender if is_phone_number(message.sender) else self._origination_identity
        if identity is None and message.sender and _SENDER_ID.match(message.sender):
            identity = message.sender
        if identity:
            request["OriginationIdentity"] = identity
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        return await self._calls.send(self._client.send_text_message, classify_sms_v2_error, **request)

    def close(self) -> None:
        self._client.close()


_CONFLICT_REASONS = {
    "DESTINATION_PHONE_NUMBER_OPTED_OUT": OPTED_OUT,
    "DESTINATION_PHONE_NUMBER_NOT_VERIFIED": NOT_VERIFIED,
    "DESTINATION_PHONE_NUMBER_BLOCKED_BY_PROTECT_NUMBER_OVERRIDE": BLOCKED,
    "DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION": COUNTRY_BLOCKED,
}
_VALIDATION_REASONS = {
    "CANNOT_PARSE": INVALID_PHONE_NUMBER,
    "DESTINATION_COUNTRY_BLOCKED": COUNTRY_BLOCKED,
    "COUNTRY_NOT_ENABLED": COUNTRY_BLOCKED,
    "INTERNATIONAL_SENDING_NOT_SUPPORTED": COUNTRY_BLOCKED,
    "INVALID_IDENTITY_FOR_DESTINATION_COUNTRY": COUNTRY_BLOCKED,
    "PRICE_OVER_THRESHOLD": PRICE_TOO_HIGH,
}


def classify_sms_v2_error(detail: AwsErrorDetail) -> ProviderError | None:
    """End User Messaging says why in a machine-readable ``Reason`` (and ``Fields`` for bad input)."""
    if detail.code == "ConflictException":
        reason = _CONFLICT_REASONS.get(detail.reason or "")
        if reason is not None:
            return PermanentProviderError(reason, code=detail.reason)
        return ProviderSetupError(BAD_PARAMETER, code=detail.reason or detail.code)
    if detail.code == "ValidationException":
        if "DestinationPhoneNumber" in detail.fields:
            return PermanentProviderError(INVALID_PHONE_NUMBER, code=detail.reason or detail.code)
        reason = _VALIDATION_REASONS.get(detail.reason or "")
        if reason is not None:
            return PermanentProviderError(reason, code=detail.reason)
        return ProviderSetupError(BAD_PARAMETER, code=detail.reason or detail.code)
    if detail.code in ("ServiceQuotaExceededException", "ResourceNotFoundException"):
        # Spend limits and missing configuration sets or numbers do not clear in seconds.
        return ProviderSetupError(code=detail.reason or detail.code)
    return None


def _string(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}
