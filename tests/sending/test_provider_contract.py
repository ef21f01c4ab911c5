"""One contract for every SMS provider: a send returns the reference the provider itself files the
message under, and a refusal that names the recipient leaves no trace of them in the error raised."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from notify.config import Settings
from notify.sending.providers.base import PermanentProviderError, SmsMessage, SmsProvider
from notify.sending.providers.registry import Providers, build_providers
from notify.sending.providers.simulated import SimulatedProvider
from tests.fixtures.moto_server import MOTO_ACCESS_KEY_ID, MOTO_REGION, MOTO_SECRET_ACCESS_KEY
from tests.fixtures.sms_v2_fake import SmsV2Fake
from tests.fixtures.sns_proxy import SnsProxy
from tests.support.aws import moto_published_sms

RECIPIENT = "+12025557801"
REFUSED = "+12025557802"


@dataclass
class Subject:
    provider: SmsProvider
    sent: Callable[[], dict[str, str]]  # what the provider side holds: reference -> recipient


@pytest.fixture(params=["simulated", "aws-sns", "aws-sms-v2"])
def subject(request: pytest.FixtureRequest, sns_proxy: SnsProxy, sms_v2_fake: SmsV2Fake) -> Iterator[Subject]:
    settings = Settings(
        environment="test", sms_provider=request.param, aws_region=MOTO_REGION,
        aws_access_key_id=MOTO_ACCESS_KEY_ID, aws_secret_access_key=MOTO_SECRET_ACCESS_KEY,
        sns_endpoint_url=sns_proxy.url, sms_v2_endpoint_url=sms_v2_fake.url,
    )
    simulated = SimulatedProvider(record=True)
    providers: Providers = build_providers(settings, simulated)
    sns_proxy.fail(REFUSED, "InvalidParameter", message=f"Invalid parameter: PhoneNumber Reason: {REFUSED} is not valid")
    sms_v2_fake.fail(REFUSED, "ValidationException", reason="INVALID_PARAMETER", fields=("DestinationPhoneNumber",))
    recorded: Callable[[], dict[str, str]] = {
        "simulated": lambda: {},
        "aws-sns": lambda: {k: v["phone_number"] for k, v in moto_published_sms().items()},
        "aws-sms-v2": lambda: {s.message_id: s.destination for s in sms_v2_fake.sent},
    }[request.param]
    try:
        yield Subject(providers.sms_for(None), recorded)
    finally:
        providers.close()


async def test_a_send_returns_the_providers_own_reference(subject: Subject) -> None:
    result = await subject.provider.send_sms(SmsMessage(RECIPIENT, "Your code is 1234", "Agency", "ref-1"))

    assert result.provider_reference
    if subject.provider.name != "simulated":
        assert subject.sent()[result.provider_reference] == RECIPIENT
        assert result.final_status is None, "real providers report the outcome later, by receipt"


async def test_a_refusal_naming_the_recipient_keeps_no_trace_of_them(subject: Subject) -> None:
    if subject.provider.name == "simulated":
        pytest.skip("the simulator refuses through receipts, not at send time")
    with pytest.raises(PermanentProviderError) as caught:
        await subject.provider.send_sms(SmsMessage(REFUSED, "Your code is 1234", "Agency", "ref-2"))

    error = caught.value
    assert error.reason == "Invalid phone number"
    assert error.__cause__ is None and error.__context__ is None
    printed = "".join(traceback.format_exception(error))
    assert REFUSED not in printed and REFUSED[2:] not in printed
