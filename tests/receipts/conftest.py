"""SNS receipts fixtures: our own CA and signing key, a real HTTPS server, a message signer.

The signing certificate is served by a real HTTPS server on 127.0.0.1 whose TLS certificate comes
from a test CA; the app trusts that CA through ``sns_ca_bundle`` (used only for certificate and
subscription fetches) and accepts 127.0.0.1 as the SNS host. Nothing is patched: the app fetches,
verifies and confirms exactly as it would against AWS.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from notify.config import Settings
from tests.support.sns import (
    SNS_HOST_PATTERN,
    AwsServer,
    Pki,
    Signer,
    make_pki,
    serve_aws,
)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("sns-pki"))


@pytest.fixture
def aws_server(pki: Pki) -> Iterator[AwsServer]:
    with serve_aws(pki) as server:
        yield server


@pytest.fixture
def settings(settings: Settings, pki: Pki) -> Settings:
    """The root settings, trusting the test CA for SNS fetches; simulated receipts held back for 10 minutes,
    so the SNS receipts are the ones that move each notification."""
    return settings.model_copy(
        update={
            "sns_ca_bundle": pki.ca_bundle,
            "sns_host_pattern": SNS_HOST_PATTERN,
            "simulated_delivery_delay_ms": 600_000,
        }
    )


@pytest.fixture
def signer(pki: Pki, aws_server: AwsServer) -> Signer:
    return Signer(pki.signing_key, aws_server.cert_url, aws_server.base_url)


