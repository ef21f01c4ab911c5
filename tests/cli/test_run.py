"""`notify run` (what `make run` starts): one process, embedded defaults, clean Ctrl-C, data kept."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import httpx
from notifications_python_client.authentication import create_jwt_token

from tests.fixtures.live_server import free_port


def _start(workdir: Path, port: int) -> tuple[subprocess.Popen[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFY_")}
    env.update(NOTIFY_PORT=str(port), NOTIFY_SIMULATED_DELIVERY_DELAY_MS="0")
    proc = subprocess.Popen(
        [sys.executable, "-m", "notify", "run"], cwd=workdir, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    info: dict[str, str] = {}
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    for line in proc.stdout:
        for label, key in (("service id:", "service"), ("sms template id:", "sms"), ("API key (live):", "key")):
            if label in line:
                info[key] = line.split(label, 1)[1].strip()
        if "Uvicorn running" in line or time.monotonic() > deadline:
            break
    assert {"service", "sms", "key"} <= info.keys(), info
    return proc, info


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, rest
    return rest


def _headers(info: dict[str, str]) -> dict[str, str]:
    return {"Authorization": "Bearer " + create_jwt_token(info["key"][-36:], info["service"])}


@pytest.fixture
def workdir() -> Iterator[Path]:
    """Outside pytest's private basetemp: the embedded server runs as another user (see db.embedded)."""
    path = Path(tempfile.mkdtemp(prefix="notify-run-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_run_starts_everything_stops_cleanly_and_keeps_data(workdir: Path) -> None:
    tmp_path = workdir
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc, first = _start(tmp_path, port)
    try:
        sent = httpx.post(
            f"{base}/v2/notifications/sms",
            json={"phone_number": "+14254147755", "template_id": first["sms"], "personalisation": {"name": "Run"}},
            headers=_headers(first),
        )
        assert sent.status_code == 201, sent.text
        notification_id = sent.json()["id"]
        status = ""
        for _ in range(100):
            status = httpx.get(f"{base}/v2/notifications/{notification_id}", headers=_headers(first)).json()["status"]
            if status == "delivered":
                break
            time.sleep(0.1)
        assert status == "delivered"
    finally:
        output = _stop(proc)
    assert "Traceback" not in output
    assert not re.search(r"\+?1?4254147755", output), "the recipient must never be logged"
    assert (tmp_path / ".notify" / "pgdata").is_dir()
    assert list((tmp_path / ".notify" / "objects" / "uploads").rglob("*.csv"))

    proc, second = _start(tmp_path, port)
    try:
        assert second == first  # same service, template and key after a restart
        again = httpx.get(f"{base}/v2/notifications/{notification_id}", headers=_headers(second))
        assert again.status_code == 200
        assert again.json()["phone_number"] == "+14254147755"
    finally:
        _stop(proc)
