"""`notify job upload|status|cancel`: what a service team runs from a terminal."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from typer.testing import CliRunner

from notify.cli import app
from notify.runtime import Runtime
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


async def test_report_command_writes_the_csv(
    env: dict[str, str], tmp_path: Path, runtime: Runtime, pii_audit: PiiAudit
) -> None:
    """`runtime` runs a worker on the same database, so the uploaded job is delivered."""

    async def cli(*args: str) -> dict:
        return await asyncio.to_thread(_json, env, *args)

    service = await cli("service", "create", "--name", "Reports", "--live", "--json")
    template = await cli("template", "create", "--service", service["id"], "--name", "T", "--type", "sms",
                         "--content", "Hi ((name)) on ((day))", "--json")
    rows = sms_rows(3, start=700)
    pii_audit.track(*(r[0] for r in rows))
    source = tmp_path / "in.csv"
    source.write_bytes(csv_bytes(rows))
    job = await cli("job", "upload", str(source), "--service", service["id"], "--template", template["id"], "--json")
    source.unlink()
    for _ in range(200):
        status = await cli("job", "status", job["id"], "--service", service["id"], "--json")
        if status["status"] == "finished":
            break
        await asyncio.sleep(0.05)
    out = tmp_path / "out" / "report.csv"
    out.parent.mkdir()
    result = await cli("report", "--service", service["id"], "--job", job["id"], "--output", str(out), "--json")
    assert result["rows"] == 3
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("Phone Number,Template,Sent By,")
    assert [line.split(",")[0] for line in lines[1:]] == [r[0] for r in rows]
    out.unlink()  # the team's download is theirs to keep safe; the audit covers what Notify wrote
    bad = CliRunner().invoke(app, ["report", "--service", service["id"], "--output", str(out), "--days", "2"], env=env)
    assert bad.exit_code == 1 and "--days must be 1, 3, 5 or 7" in bad.output
