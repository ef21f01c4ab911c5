"""`notify job upload|status|cancel`: what a service team runs from a terminal."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from notify.cli import app
from tests.support.jobs import csv_bytes, sms_rows
from tests.support.pii_audit import PiiAudit


def _json(env: dict[str, str], *args: str) -> dict:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_upload_status_and_cancel(env: dict[str, str], tmp_path: Path, pii_audit: PiiAudit) -> None:
    service = _json(env, "service", "create", "--name", "Jobs", "--live", "--json")
    template = _json(env, "template", "create", "--service", service["id"], "--name", "T", "--type", "sms",
                     "--content", "Hi ((name)) on ((day))", "--json")
    rows = sms_rows(40)
    pii_audit.track(*(r[0] for r in rows))
    upload_file = tmp_path / "uploads-in" / "people.csv"
    upload_file.parent.mkdir()
    upload_file.write_bytes(csv_bytes(rows))
    job = _json(env, "job", "upload", str(upload_file), "--service", service["id"], "--template", template["id"],
                "--json")
    assert (job["rows"], job["status"]) == (40, "pending")
    status = _json(env, "job", "status", job["id"], "--service", service["id"], "--json")
    assert status["status"] == "pending" and status["rows"] == 40
    cancelled = _json(env, "job", "cancel", job["id"], "--service", service["id"], "--json")
    assert cancelled == {"id": job["id"], "status": "cancelled", "unsent": 40}
    upload_file.unlink()  # the team's own copy is theirs; the audit looks only at what Notify wrote


def test_a_rejected_file_lists_its_problems(env: dict[str, str], tmp_path: Path) -> None:
    service = _json(env, "service", "create", "--name", "Jobs2", "--live", "--json")
    template = _json(env, "template", "create", "--service", service["id"], "--name", "T", "--type", "sms",
                     "--content", "Hi ((name))", "--json")
    bad = tmp_path / "bad.csv"
    bad.write_text("phone number,name\nnot a number,Al\n")
    result = CliRunner().invoke(app, ["job", "upload", str(bad), "--service", service["id"],
                                      "--template", template["id"]], env=env)
    assert result.exit_code == 1
    assert "The file was not accepted" in result.output
    assert "row 2, column 'phone number'" in result.output
    bad.unlink()
