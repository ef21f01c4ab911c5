"""Choosing providers: settings that cannot work are refused at start-up, and a service's own
choice is limited to the providers the deployment has configured."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from notify.cli import app
from notify.config import ConfigError, load_settings

AWS = {"sms_provider": "aws-sns", "email_provider": "ses", "aws_region": "us-east-1"}


def refused(**values: object) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(**values)
    return str(caught.value)


def test_production_refuses_provider_settings_that_cannot_work() -> None:
    production = {
        "environment": "production", "secret_key": "x" * 40, "database_url": "postgresql://db/notify",
        "storage_url": "s3://bucket",
    }
    assert "the simulated provider sends nothing (SMS and email)" in refused(**production)
    message = refused(**production, sms_provider="aws-sns", email_provider="ses", aws_endpoint_url="http://localhost:5000")
    assert "NOTIFY_AWS_REGION is needed" in message
    assert "NOTIFY_AWS_ENDPOINT_URL must be https://" in message
    assert "NOTIFY_EMAIL_FROM_DOMAIN must be a domain verified in SES" in message
    assert load_settings(**production, **AWS, email_from_domain="notify.agency.gov").sms_provider == "aws-sns"


def test_incoherent_provider_settings_are_refused_in_any_environment() -> None:
    assert "ses cannot send SMS" in refused(sms_provider="ses")
    assert "aws-sns cannot send email" in refused(email_provider="aws-sns")
    assert "NOTIFY_AWS_REGION is needed" in refused(email_provider="ses")
    assert "go together" in refused(**AWS, aws_access_key_id="AKIAEXAMPLE")
    assert "E.164" in refused(**AWS, sms_origination_number="NOTIFY")
    # End User Messaging also takes pool ids and ARNs as the origination identity.
    assert load_settings(**{**AWS, "sms_provider": "aws-sms-v2"}, sms_origination_number="pool-123").aws_region


def test_a_service_can_only_be_switched_to_a_configured_provider(env: dict[str, str]) -> None:
    configured = {**env, "NOTIFY_SMS_PROVIDER": "aws-sns", "NOTIFY_SMS_PROVIDER_CHOICES": "aws-sms-v2",
                  "NOTIFY_EMAIL_PROVIDER": "ses", "NOTIFY_AWS_REGION": "us-east-1"}
    runner = CliRunner()

    def run(*args: str) -> dict[str, object]:
        result = runner.invoke(app, [*args, "--json"], env=configured)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout.strip().splitlines()[-1])

    service = run("service", "create", "--name", "Licensing")
    switched = run("service", "update", "--id", str(service["id"]), "--sms-provider", "aws-sms-v2")
    assert (switched["sms_provider"], switched["email_provider"]) == ("aws-sms-v2", "default")

    unknown = runner.invoke(app, ["service", "update", "--id", str(service["id"]), "--email-provider", "simulated"],
                            env=configured)
    assert unknown.exit_code == 1
    assert "'simulated' is not a configured email provider; choose one of: ses, default" in " ".join(
        unknown.output.split()
    )

    back = run("service", "update", "--id", str(service["id"]), "--sms-provider", "default")
    assert back["sms_provider"] == "default"
