"""Fakes for the AWS provider tests: End User Messaging SMS (moto lacks it) and a proxy in front of SNS."""

from tests.fixtures.sms_v2_fake import sms_v2_fake
from tests.fixtures.sns_proxy import sns_proxy

__all__ = ["sms_v2_fake", "sns_proxy"]
