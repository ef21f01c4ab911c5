"""Where the service runs decides what may start: an unset environment against real infrastructure
is refused, and production refuses every endpoint setting that would drop TLS, all in one message."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from notify.cli import app
from notify.config import ConfigError, Environment, load_settings


@pytest.fixture(autouse=True)
def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about what happens when the operator sets nothing."""
    monkeypatch.delenv("NOTIFY_ENVIRONMENT", raising=False)


def refused(**values: object) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(**values)
    return " ".join(str(caught.value).split())


REMOTE_DATABASE = "postgresql://notify:secret@db.internal.example.gov:5432/notify"


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"database_url": REMOTE_DATABASE}, "NOTIFY_DATABASE_URL"),
        ({"database_url": "postgresql://notify@10.0.3.7/notify"}, "NOTIFY_DATABASE_URL"),
        ({"database_url": "postgresql://notify@/notify?host=db.internal.example.gov"}, "NOTIFY_DATABASE_URL"),
        ({"storage_url": "s3://agency-notify"}, "NOTIFY_STORAGE_URL"),
        ({"storage_url": "s3://agency-notify", "storage_endpoint": "https://minio.internal.example.gov"},
         "NOTIFY_STORAGE_URL / NOTIFY_STORAGE_ENDPOINT"),
    ],
)
def test_unset_environment_against_remote_infrastructure_refuses_to_start(
    values: dict[str, object], named: str
) -> None:
    message = refused(**values)
    assert f"NOTIFY_ENVIRONMENT is unset, so this would run as development against a non-local {named}" in message
    assert "Set NOTIFY_ENVIRONMENT=production, or NOTIFY_ENVIRONMENT=development if you mean it" in message


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"database_url": "postgresql://postgres@localhost/notify"},
        {"database_url": "postgresql://postgres@127.0.0.1:5432/notify"},
        {"database_url": "postgresql://postgres@[::1]/notify"},
        {"database_url": "postgresql://postgres:@/postgres?host=/tmp/notify-pg"},
        {"storage_url": "file:///var/lib/notify/objects"},
        {"storage_url": "memory://"},
        {"storage_url": "s3://bucket", "storage_endpoint": "http://127.0.0.1:5000", "storage_allow_http": True},
    ],
)
def test_local_set_ups_start_with_nothing_set(values: dict[str, object]) -> None:
    assert load_settings(**values).environment is Environment.development


def test_saying_development_explicitly_allows_remote_infrastructure(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(environment="development", database_url=REMOTE_DATABASE).database_url == REMOTE_DATABASE
    monkeypatch.setenv("NOTIFY_ENVIRONMENT", "development")
    assert load_settings(database_url=REMOTE_DATABASE, storage_url="s3://agency-notify").storage_url


def test_the_cli_says_what_to_set(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["service", "create", "--name", "Licensing"],
        env={"NOTIFY_DATABASE_URL": REMOTE_DATABASE, "NOTIFY_DATA_DIR": str(tmp_path), "NOTIFY_ENVIRONMENT": ""},
    )
    assert result.exit_code == 2
    assert "Set NOTIFY_ENVIRONMENT=production, or NOTIFY_ENVIRONMENT=development" in " ".join(result.output.split())


PRODUCTION = {
    "environment": "production", "secret_key": "x" * 40, "database_url": REMOTE_DATABASE,
    "storage_url": "s3://agency-notify", "sms_provider": "aws-sns", "email_provider": "ses",
    "aws_region": "us-east-1", "email_from_domain": "notify.agency.gov",
}


def test_production_refuses_every_plain_endpoint_and_test_only_setting_at_once(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("test CA")
    message = refused(
        **PRODUCTION,
        aws_endpoint_url="http://aws.internal", sns_endpoint_url="http://sns.internal",
        sms_v2_endpoint_url="http://sms.internal", ses_endpoint_url="http://ses.internal",
        cloudwatch_endpoint_url="http://logs.internal", storage_endpoint="http://minio.internal",
        storage_allow_http=True, sns_ca_bundle=bundle,
    )
    for name in ("NOTIFY_AWS_ENDPOINT_URL", "NOTIFY_SNS_ENDPOINT_URL", "NOTIFY_SMS_V2_ENDPOINT_URL",
                 "NOTIFY_SES_ENDPOINT_URL", "NOTIFY_CLOUDWATCH_ENDPOINT_URL", "NOTIFY_STORAGE_ENDPOINT"):
        assert name in message.split(" must be https:// in production")[0], name
    assert "NOTIFY_STORAGE_ALLOW_HTTP=true" in message
    assert "NOTIFY_SNS_CA_BUNDLE is for tests" in message


def test_production_lists_every_problem_in_one_message() -> None:
    message = refused(
        **{**PRODUCTION, "secret_key": None}, cloudwatch_poll_seconds=7, cloudwatch_endpoint_url="http://logs.internal"
    )
    assert "NOTIFY_CLOUDWATCH_POLL_SECONDS must divide 60" in message
    assert "NOTIFY_CLOUDWATCH_ENDPOINT_URL must be https://" in message
    assert "production needs NOTIFY_SECRET_KEY set" in message


def test_production_with_https_endpoints_starts() -> None:
    settings = load_settings(
        **PRODUCTION, aws_endpoint_url="https://vpce.example.amazonaws.com",
        cloudwatch_endpoint_url="https://logs.vpce.example.amazonaws.com",
        storage_endpoint="https://s3.vpce.example.amazonaws.com",
    )
    assert settings.environment is Environment.production
