"""Callback tests: a real receiving server, and retry timings small enough to watch."""

from __future__ import annotations

import pytest

from notify.config import Settings
from tests.fixtures.callback_receiver import CallbackReceiver, callback_receiver

__all__ = ["CallbackReceiver", "callback_receiver"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "callback_poll_seconds": 0.05,
            "callback_backoff_base_seconds": 0.2,
            "callback_backoff_cap_seconds": 0.4,
            "callback_max_attempts": 3,
            "callback_timeout_seconds": 10,
        }
    )
