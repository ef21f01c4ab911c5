"""The providers a process has configured, by name, and which one a service sends through.

Settings name a default SMS and email provider and any others a service may be switched to
(``services.sms_provider`` / ``email_provider``; NULL means the default).  Every configured
provider is built once per process; AWS ones share one thread pool (notify.sending.providers.aws_clients).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from notify.config import AWS_PROVIDERS, ProviderName, Settings
from notify.log_config import get_logger
from notify.sending.providers.aws_clients import AwsCalls, AwsOptions, aws_client
from notify.sending.providers.aws_sms import EndUserMessagingSmsProvider, SnsSmsProvider
from notify.sending.providers.base import EmailProvider, SmsProvider
from notify.sending.providers.ses import SesEmailProvider
from notify.sending.providers.simulated import SimulatedProvider

logger = get_logger(__name__)


@dataclass
class Providers:
    sms: dict[str, SmsProvider]
    email: dict[str, EmailProvider]
    default_sms: str
    default_email: str
    calls: AwsCalls | None = None
    _warned: set[tuple[str, str]] = field(default_factory=set)

    def sms_for(self, chosen: str | None) -> SmsProvider:
        return self.sms[self._pick("sms", chosen, self.sms, self.default_sms)]

    def email_for(self, chosen: str | None) -> EmailProvider:
        return self.email[self._pick("email", chosen, self.email, self.default_email)]

    def use_as_default(self, sms: SmsProvider | None = None, email: EmailProvider | None = None) -> None:
        """Register injected providers (fakes in tests) under their own names, as the defaults."""
        if sms is not None:
            self.sms[sms.name] = sms
            self.default_sms = sms.name
        if email is not None:
            self.email[email.name] = email
            self.default_email = email.name

    def _pick(self, kind: str, chosen: str | None, known: dict[str, object], default: str) -> str:
        if chosen is None or chosen in known:
            return chosen or default
        # The service chose a provider this process no longer has (settings changed since):
        # sending through the default beats leaving its messages stuck or failing them all.
        if (kind, chosen) not in self._warned:
            self._warned.add((kind, chosen))
            logger.warning("service provider not configured; using the default", action="deliver.provider_fallback",
                           kind=kind, provider=chosen, default=default)
        return default

    def close(self) -> None:
        for provider in [*self.sms.values(), *self.email.values()]:
            close = getattr(provider, "close", None)
            if close is not None:
                close()
        if self.calls is not None:
            self.calls.close()


def build_providers(settings: Settings, simulated: SimulatedProvider) -> Providers:
    """Every provider the settings make available; AWS clients are built here but connect lazily."""
    wanted = {*settings.available_sms_providers, *settings.available_email_providers}
    calls = None
    sms: dict[str, SmsProvider] = {}
    email: dict[str, EmailProvider] = {}
    if ProviderName.simulated in wanted:
        sms[simulated.name] = simulated
        email[simulated.name] = simulated
    if wanted & AWS_PROVIDERS:
        calls = AwsCalls(settings.send_concurrency)
        options = AwsOptions(
            region=settings.aws_region,
            access_key_id=settings.aws_access_key_id,
            secret_access_key=settings.aws_secret_access_key,
            connect_timeout=settings.provider_connect_timeout_seconds,
            read_timeout=settings.provider_read_timeout_seconds,
            max_connections=settings.send_concurrency,
        )
        if ProviderName.aws_sns in wanted:
            sms[ProviderName.aws_sns.value] = SnsSmsProvider(
                aws_client("sns", options, settings.sns_endpoint_url or settings.aws_endpoint_url),
                calls,
                origination_number=settings.sms_origination_number,
            )
        if ProviderName.aws_sms_v2 in wanted:
            sms[ProviderName.aws_sms_v2.value] = EndUserMessagingSmsProvider(
                aws_client("pinpoint-sms-voice-v2", options, settings.sms_v2_endpoint_url or settings.aws_endpoint_url),
                calls,
                origination_identity=settings.sms_origination_number,
                configuration_set=settings.sms_configuration_set,
            )
        if ProviderName.ses in wanted:
            email[ProviderName.ses.value] = SesEmailProvider(
                aws_client("sesv2", options, settings.ses_endpoint_url or settings.aws_endpoint_url),
                calls,
                configuration_set=settings.ses_configuration_set,
            )
    return Providers(
        sms=sms,
        email=email,
        default_sms=settings.sms_provider.value,
        default_email=settings.email_provider.value,
        calls=calls,
    )
