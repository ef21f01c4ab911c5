"""Settings: the one typed place every ``NOTIFY_*`` environment variable is read.

Settings are built by the caller (the CLI or a test fixture) and passed down, never
constructed at import time, so tests can run many differently-configured apps in one
process without patching globals.
"""

from __future__ import annotations

import re
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from notify.deployment_checks import production_endpoint_problems, unset_environment_problems


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class ProviderName(StrEnum):
    simulated = "simulated"
    aws_sns = "aws-sns"  # SMS: SNS Publish, the default AWS SMS provider
    aws_sms_v2 = "aws-sms-v2"  # SMS: AWS End User Messaging SMS (pinpoint-sms-voice-v2)
    ses = "ses"  # email: Amazon SES v2


SMS_PROVIDERS = frozenset({ProviderName.simulated, ProviderName.aws_sns, ProviderName.aws_sms_v2})
EMAIL_PROVIDERS = frozenset({ProviderName.simulated, ProviderName.ses})
AWS_PROVIDERS = frozenset({ProviderName.aws_sns, ProviderName.aws_sms_v2, ProviderName.ses})
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")


class LogFormat(StrEnum):
    console = "console"
    json = "json"


class ConfigError(Exception):
    """Start-up configuration is unusable; the message says which variable to fix."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFY_", extra="ignore", env_ignore_empty=True)

    environment: Environment = Environment.development
    data_dir: Path = Path(".notify")

    database_url: str | None = Field(
        default=None,
        description="postgresql://… of an external database; unset starts an embedded one under data_dir.",
    )
    database_pool_size: int = Field(default=10, ge=1, le=200)

    storage_url: str | None = Field(
        default=None, description="file://path, s3://bucket[/prefix] or memory://; unset uses data_dir/objects."
    )
    storage_endpoint: str | None = None
    storage_region: str | None = None
    storage_access_key_id: str | None = None
    storage_secret_access_key: str | None = None
    storage_allow_http: bool = False

    secret_key: str | None = Field(default=None, min_length=32)

    host: str = "127.0.0.1"
    port: int = Field(default=6011, ge=0, le=65535)
    public_url: str | None = Field(default=None, description="Base URL used in links; defaults to http://host:port.")

    sms_provider: ProviderName = Field(
        default=ProviderName.simulated, description="Default SMS provider: simulated, aws-sns or aws-sms-v2."
    )
    email_provider: ProviderName = Field(
        default=ProviderName.simulated, description="Default email provider: simulated or ses."
    )
    sms_provider_choices: Annotated[list[ProviderName], NoDecode] = Field(
        default_factory=list,
        description="Other SMS providers a service may be switched to (comma-separated); the default is always one.",
    )
    email_provider_choices: Annotated[list[ProviderName], NoDecode] = Field(
        default_factory=list, description="Other email providers a service may be switched to (comma-separated)."
    )

    aws_region: str | None = Field(default=None, description="Region of SNS, End User Messaging SMS and SES.")
    aws_endpoint_url: str | None = Field(default=None, description="Endpoint for every AWS provider (tests: moto).")
    sns_endpoint_url: str | None = None
    sms_v2_endpoint_url: str | None = None
    ses_endpoint_url: str | None = None
    aws_access_key_id: str | None = Field(
        default=None, description="Unset: boto3's usual chain (IAM role, environment, profile)."
    )
    aws_secret_access_key: str | None = None
    sms_origination_number: str | None = Field(
        default=None,
        description="Sends from this number when the service's sender is not a phone number; for aws-sms-v2 it "
        "may also be a pool id or ARN.",
    )
    sms_configuration_set: str | None = Field(
        default=None, description="aws-sms-v2 configuration set (event destinations)."
    )
    ses_configuration_set: str | None = Field(
        default=None, description="SES configuration set, so SES events reach SNS."
    )

    provider_max_attempts: int = Field(
        default=3, ge=1, le=20, description="Attempts for a send failing with an unrecognised or 5xx error."
    )
    provider_throttle_max_wait_seconds: float = Field(
        default=30.0, ge=0, le=3600, description="How long one message may keep retrying while throttled."
    )
    provider_backoff_initial_seconds: float = Field(default=0.2, gt=0, le=60)
    provider_backoff_max_seconds: float = Field(default=5.0, gt=0, le=600)
    provider_connect_timeout_seconds: float = Field(default=3.0, gt=0, le=120)
    provider_read_timeout_seconds: float = Field(
        default=10.0, gt=0, le=300, description="After this the send is in doubt: technical-failure, never resent."
    )
    simulated_delivery_delay_ms: int = Field(default=500, ge=0, le=600_000)
    simulated_send_latency_ms: int = Field(
        default=0, ge=0, le=60_000, description="How long the simulated provider takes to accept each message."
    )

    default_phone_region: str = "US"
    email_from_domain: str = Field(
        default="notify.localhost", description="Emails go out as <service-slug>@this-domain."
    )

    batch_max_wait_ms: float = Field(default=4.0, ge=0, le=1000)
    batch_max_size: int = Field(default=500, ge=1, le=10_000)

    max_upload_rows: int = Field(default=100_000, ge=1, le=10_000_000)
    max_upload_bytes: int = Field(default=100 * 1024 * 1024, ge=1024)
    max_schedule_hours: int = Field(default=96, ge=1, le=24 * 30)
    # Spreadsheet caps (notify.recipients.spreadsheet_validate): validation costs CPU per cell, so a
    # file of 500,000 columns cost 8 ms a row. Cells stay within the csv module's field limit
    # (131,072 characters), so every accepted file can be read back.
    max_upload_columns: int = Field(default=1000, ge=1, le=16_384, description="Columns a spreadsheet may have.")
    max_upload_cell_chars: int = Field(
        default=10_000, ge=1, le=131_072, description="Characters a spreadsheet cell may hold."
    )
    row_index_every: int = Field(default=1000, ge=1, le=1_000_000, description="Rows between row-index entries.")
    chunk_rows: int = Field(default=1000, ge=1, le=100_000, description="Rows per delivery task.")
    claim_rows: int = Field(
        default=250, ge=1, le=100_000,
        description="Rows claimed per provider round; bounds what a killed worker leaves in doubt.",
    )
    sms_sender_rate: float = Field(default=0, ge=0, description="Messages/s per SMS sender, all workers; 0 = no limit.")
    email_sender_rate: float = Field(default=0, ge=0, description="Emails/s for the email sender; 0 = no limit.")
    stalled_worker_seconds: float = Field(default=30, gt=0, description="Heartbeat age after which a worker's tasks are retried.")
    # Job statuses (statuses helper): the periodic backstop that finishes jobs whose chunks are all done.
    job_sweep_seconds: int = Field(default=60, ge=1, le=60, description="Seconds between job sweeps; divides 60.")
    simulated_send_log: Path | None = Field(
        default=None, description="Tests: the simulated provider appends each reference (never a recipient) here."
    )

    receipt_timeout_hours: float = Field(
        default=72, gt=0, le=24 * 30, description="Sending/pending this long without a receipt becomes temporary-failure."
    )
    parked_receipt_max_age_hours: float = Field(
        default=168, gt=0, description="A receipt for a send never recorded is dropped after this long."
    )

    callbacks_enabled: bool = Field(
        default=True, description="Workers POST delivery-status callbacks; off leaves them to other workers."
    )
    callback_poll_seconds: float = Field(default=0.5, gt=0, le=60, description="Idle wait between outbox checks.")
    callback_batch_size: int = Field(default=100, ge=1, le=10_000, description="Outbox rows claimed per round.")
    callback_concurrency: int = Field(default=20, ge=1, le=1000, description="Callback POSTs in flight per worker.")
    callback_timeout_seconds: float = Field(default=5, gt=0, le=60, description="Whole-request limit per POST.")
    callback_max_attempts: int = Field(
        default=6, ge=1, le=100, description="POSTs per callback before giving up (GOV.UK: one plus five retries)."
    )
    callback_backoff_base_seconds: float = Field(default=60, gt=0, description="Wait after the first failure.")
    callback_backoff_cap_seconds: float = Field(default=900, gt=0, description="Longest wait between attempts.")

    # Report exports (PII, issue 9): an export is a full copy of recipients, so it lives at most a
    # day (DESIGN: "expires within 24 hours") and a service may make only so many.
    export_ttl_hours: float = Field(default=24, gt=0, le=24, description="How long report exports are kept.")
    export_max_concurrent: int = Field(
        default=3, ge=1, le=1000, description="Exports a service may have waiting or being written at once."
    )
    export_max_per_day: int = Field(default=50, ge=1, le=100_000, description="Exports a service may request per UTC day.")

    # API edge: request bodies and personalisation (README, API > Limits).
    max_json_body_bytes: int = Field(
        default=1024 * 1024, ge=4096, description="Largest JSON body of any endpoint but the bulk one; above it, 413."
    )
    max_bulk_body_bytes: int = Field(
        default=32 * 1024 * 1024, ge=4096,
        description="Largest body of POST /v2/notifications/bulk; bigger files go through POST /v2/jobs.",
    )
    personalisation_max_keys: int = Field(default=250, ge=1, le=10_000, description="Keys in one personalisation.")
    personalisation_max_value_chars: int = Field(
        default=20_000, ge=1, description="Characters in one personalisation value (a list: all its items)."
    )
    personalisation_max_bytes: int = Field(
        default=64 * 1024, ge=1024, le=120 * 1024,
        description="One personalisation as compact UTF-8 JSON; stays under the batch reader's 128 KiB field limit.",
    )

    sns_topic_arns: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="SNS topics whose receipts are accepted (comma-separated; fnmatch patterns such as "
        "arn:aws:sns:*:123456789012:*). Empty: any topic in development, none in production.",
    )
    sns_host_pattern: str = Field(
        default=r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?",
        description="Regular expression a SigningCertURL / SubscribeURL host must match in full.",
    )
    sns_ca_bundle: Path | None = Field(
        default=None,
        description="Tests: a CA bundle trusted for fetching SNS certificates and confirming subscriptions "
        "(unset: the system's trust store).",
    )
    sns_max_age_seconds: int = Field(
        default=3600, ge=60, le=7 * 24 * 3600, description="SNS messages older than this are rejected as replays."
    )
    sns_clock_skew_seconds: int = Field(
        default=300, ge=0, le=3600, description="How far in the future an SNS Timestamp may be."
    )
    sns_fetch_timeout_seconds: float = Field(
        default=5.0, gt=0, le=60, description="Timeout for fetching a signing certificate or confirming a subscription."
    )

    worker_concurrency: int = Field(default=4, ge=1, le=64)
    send_concurrency: int = Field(default=32, ge=1, le=1000)

    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    catalogue_cache_seconds: float = Field(
        default=5.0, ge=0, le=300,
        description="How long a process may reuse a service's keys, templates and senders; edits made "
        "elsewhere show within this time.",
    )
    catalogue_max_stale_seconds: float = Field(
        default=30.0, ge=0, le=600,
        description="How long past its expiry a cached record is still used while reloads fail (database "
        "down); then requests fail with 503 rather than trust a key that may have been revoked.",
    )

    # Delivery receipts read from the SNS SMS delivery-status logs in CloudWatch Logs
    # (notify.receipts.cloudwatch). Off unless asked for: development has no AWS account.
    cloudwatch_receipts: bool = Field(default=False, description="Run the CloudWatch receipt poller in the worker.")
    cloudwatch_region: str | None = Field(default=None, description="AWS region of the SNS logs; unset: AWS_REGION.")
    cloudwatch_account_id: str | None = Field(default=None, description="AWS account id in the SNS log group names.")
    cloudwatch_log_groups: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated log group names; unset: sns/<region>/<account-id>/DirectPublishToPhoneNumber "
        "and its /Failure group.",
    )
    cloudwatch_endpoint_url: str | None = Field(default=None, description="Another endpoint (moto, LocalStack).")
    cloudwatch_access_key_id: str | None = Field(default=None, description="Unset: the AWS default credential chain.")
    cloudwatch_secret_access_key: str | None = None
    cloudwatch_poll_seconds: int = Field(default=60, ge=1, le=60, description="Seconds between rounds; divides 60.")
    cloudwatch_settle_lag_seconds: float = Field(
        default=30, ge=0, le=3600, description="Only read events at least this old: CloudWatch ingests late."
    )
    cloudwatch_overlap_seconds: float = Field(
        default=120, ge=0, le=86_400, description="Re-read this much before the watermark each round."
    )
    cloudwatch_window_seconds: float = Field(
        default=300, ge=1, le=86_400, description="Longest time window read and applied in one transaction."
    )
    cloudwatch_lookback_seconds: float = Field(
        default=3600, ge=0, le=14 * 86_400, description="How far back the very first round starts."
    )

    log_format: LogFormat | None = None
    log_level: str = "INFO"

    @field_validator(
        "cloudwatch_log_groups", "sns_topic_arns", "sms_provider_choices", "email_provider_choices", mode="before"
    )
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """Lists in the environment are comma-separated, not JSON."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("job_sweep_seconds")
    @classmethod
    def _divides_a_minute(cls, value: int) -> int:
        if 60 % value:
            raise ValueError("NOTIFY_JOB_SWEEP_SECONDS must divide 60 (1, 2, 5, 10, 15, 20, 30 or 60)")
        return value

    def _cloudwatch_problems(self) -> list[str]:
        problems: list[str] = []
        if 60 % self.cloudwatch_poll_seconds:
            problems.append("NOTIFY_CLOUDWATCH_POLL_SECONDS must divide 60 (1, 2, 5, 10, 15, 20, 30 or 60)")
        if any(len(name) > 240 for name in self.cloudwatch_log_groups):
            problems.append("NOTIFY_CLOUDWATCH_LOG_GROUPS: each name must be at most 240 characters")
        if self.cloudwatch_receipts and not self.resolved_cloudwatch_log_groups:
            problems.append(
                "NOTIFY_CLOUDWATCH_RECEIPTS needs NOTIFY_CLOUDWATCH_LOG_GROUPS, or NOTIFY_CLOUDWATCH_REGION and "
                "NOTIFY_CLOUDWATCH_ACCOUNT_ID to name the SNS delivery-status log groups"
            )
        return problems

    @field_validator("sns_host_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"is not a regular expression: {exc}") from None
        return value

    @property
    def available_sms_providers(self) -> list[ProviderName]:
        """The default first, then the other choices: every SMS provider this process builds."""
        return list(dict.fromkeys([self.sms_provider, *self.sms_provider_choices]))

    @property
    def available_email_providers(self) -> list[ProviderName]:
        return list(dict.fromkeys([self.email_provider, *self.email_provider_choices]))

    @model_validator(mode="after")
    def _refuse_insecure_or_incoherent(self) -> Settings:
        """Every problem at once, each naming its variable, so one restart fixes them all."""
        problems: list[str] = self._cloudwatch_problems() + unset_environment_problems(self)
        if self.environment is Environment.production:
            problems += production_endpoint_problems(self)
            missing = [
                name
                for name, value in (
                    ("NOTIFY_SECRET_KEY", self.secret_key),
                    ("NOTIFY_DATABASE_URL", self.database_url),
                    ("NOTIFY_STORAGE_URL", self.storage_url),
                )
                if not value
            ]
            if missing:
                problems.append(
                    "production needs " + ", ".join(missing) + " set; the embedded defaults are for development only"
                )
            if self.storage_url and self.storage_url.startswith("memory://"):
                problems.append("NOTIFY_STORAGE_URL=memory:// loses every upload on restart; use file:// or s3://")
        problems += provider_problems(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def resolved_log_format(self) -> LogFormat:
        if self.log_format is not None:
            return self.log_format
        return LogFormat.json if self.environment is Environment.production else LogFormat.console

    @property
    def callbacks_allow_http(self) -> bool:
        """Plain-http callback URLs are for local receivers; production sends statuses over TLS only."""
        return self.environment is not Environment.production

    @property
    def resolved_storage_url(self) -> str:
        if self.storage_url:
            return self.storage_url
        return (self.data_dir / "objects").resolve().as_uri()

    @property
    def resolved_cloudwatch_log_groups(self) -> list[str]:
        """The log groups SNS writes SMS delivery status to: successes, and failures in their own group."""
        if self.cloudwatch_log_groups:
            return list(self.cloudwatch_log_groups)
        if self.cloudwatch_region and self.cloudwatch_account_id:
            base = f"sns/{self.cloudwatch_region}/{self.cloudwatch_account_id}/DirectPublishToPhoneNumber"
            return [base, f"{base}/Failure"]
        return []

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def ensure_secret_key(self) -> str:
        """Development keeps a generated key under data_dir so API keys survive restarts."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            self.secret_key = path.read_text().strip()
        else:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.secret_key = secrets.token_urlsafe(48)
            path.write_text(self.secret_key)
            path.chmod(0o600)
        return self.secret_key


def provider_problems(settings: Settings) -> list[str]:
    """What is wrong with the provider settings, each naming the variable to fix (empty: coherent)."""
    problems: list[str] = []
    sms, email = settings.available_sms_providers, settings.available_email_providers
    wrong_sms = [p.value for p in sms if p not in SMS_PROVIDERS]
    wrong_email = [p.value for p in email if p not in EMAIL_PROVIDERS]
    if wrong_sms:
        problems.append(
            f"NOTIFY_SMS_PROVIDER / _CHOICES: {', '.join(wrong_sms)} cannot send SMS (simulated, aws-sns, aws-sms-v2)"
        )
    if wrong_email:
        problems.append(
            f"NOTIFY_EMAIL_PROVIDER / _CHOICES: {', '.join(wrong_email)} cannot send email (simulated, ses)"
        )
    uses_aws = any(p in AWS_PROVIDERS for p in [*sms, *email])
    if uses_aws and not settings.aws_region:
        problems.append("NOTIFY_AWS_REGION is needed by the AWS providers (e.g. us-east-1)")
    if bool(settings.aws_access_key_id) != bool(settings.aws_secret_access_key):
        problems.append("NOTIFY_AWS_ACCESS_KEY_ID and NOTIFY_AWS_SECRET_ACCESS_KEY go together (or set neither)")
    if (
        ProviderName.aws_sns in sms
        and settings.sms_origination_number
        and not _E164.match(settings.sms_origination_number)
    ):
        problems.append("NOTIFY_SMS_ORIGINATION_NUMBER must be an E.164 phone number (+12025550100) for aws-sns")
    if settings.provider_backoff_initial_seconds > settings.provider_backoff_max_seconds:
        problems.append("NOTIFY_PROVIDER_BACKOFF_INITIAL_SECONDS is more than NOTIFY_PROVIDER_BACKOFF_MAX_SECONDS")
    if settings.environment is Environment.production:
        simulated = [kind for kind, names in (("SMS", sms), ("email", email)) if ProviderName.simulated in names]
        if simulated:
            problems.append(
                f"the simulated provider sends nothing ({' and '.join(simulated)}); production needs "
                "NOTIFY_SMS_PROVIDER=aws-sns|aws-sms-v2 and NOTIFY_EMAIL_PROVIDER=ses"
            )
        if ProviderName.ses in email and settings.email_from_domain.endswith(".localhost"):
            problems.append("NOTIFY_EMAIL_FROM_DOMAIN must be a domain verified in SES, not notify.localhost")
    return problems


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, turning pydantic's errors into one readable message."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            loc = ".".join(str(part) for part in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            if loc:
                lines.append(f"  NOTIFY_{loc.upper()}: {message}")
            else:
                # Whole-settings checks name their variables themselves, one problem per line.
                lines += [f"  {problem}" for problem in message.split("\n")]
        raise ConfigError("invalid configuration:\n" + "\n".join(lines)) from exc
