"""CLI tests run commands against the test's own database and storage through environment variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import TEST_SECRET_KEY


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "NOTIFY_DATABASE_URL": database_url,
        "NOTIFY_SECRET_KEY": TEST_SECRET_KEY,
        "NOTIFY_DATA_DIR": str(tmp_path / ".notify"),
        "NOTIFY_STORAGE_URL": (tmp_path / "objects").as_uri(),
        "NOTIFY_LOG_LEVEL": "WARNING",
    }
