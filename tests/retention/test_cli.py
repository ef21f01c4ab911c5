"""`notify retention run` and `notify storage lifecycle`, as an operator or a deploy script runs them."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import psycopg
from typer.testing import CliRunner

from notify.cli import app
from notify.db.urls import libpq_url
from notify.storage import upload_key
from tests.fixtures.moto_server import (
    MOTO_ACCESS_KEY_ID,
    MOTO_REGION,
    MOTO_SECRET_ACCESS_KEY,
    s3_client,
)
from tests.retention.week import at


def _json(env: dict[str, str], *args: str) -> dict:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_retention_run_once_with_a_chosen_now(env: dict[str, str], database_url: str, tmp_path: Path) -> None:
    service, job = uuid.uuid4(), uuid.uuid4()
    key = upload_key(service, job)
    (tmp_path / "objects" / key).parent.mkdir(parents=True)
    (tmp_path / "objects" / key).write_bytes(b"phone number\r\n")
    with psycopg.connect(libpq_url(database_url)) as conn:
        conn.execute("INSERT INTO services (id, name) VALUES (%s, 'Retention CLI')", (service,))
        conn.execute("INSERT INTO jobs (id, service_id, kind, object_key, row_count, status, created_at) "
                     "VALUES (%s, %s, 'api', %s, 2, 'in progress', %s)", (job, service, key, at(0)))
        for row in range(2):
            conn.execute(
                "INSERT INTO notifications (id, service_id, job_id, job_row_number, job_kind, template_id, "
                "template_version, notification_type, key_type, status, created_at) "
                "VALUES (%s, %s, %s, %s, 'api', %s, 1, 'sms', 'normal', 'delivered', %s)",
                (uuid.uuid4(), service, job, row, uuid.uuid4(), at(0)),
            )

    kept = _json(env, "retention", "run", "--now", "2031-03-04T03:30:00", "--json")
    assert (kept["now"], kept["facts_upserted"], kept["notifications_deleted"]) == ("2031-03-04T03:30:00+00:00", 2, 0)
    gone = _json(env, "retention", "run", "--now", "2031-03-11T03:30:00+00:00", "--json")
    assert (gone["facts_upserted"], gone["days_closed"], gone["notifications_deleted"]) == (0, 1, 2)
    assert (gone["jobs_archived"], gone["objects_deleted"]) == (1, 1)
    assert not (tmp_path / "objects" / key).exists()

    human = CliRunner().invoke(app, ["retention", "run", "--now", "2031-03-11T03:30:00Z"], env=env)
    assert human.exit_code == 0 and "0 notifications deleted" in " ".join(human.output.split())
    bad = CliRunner().invoke(app, ["retention", "run", "--now", "tomorrow"], env=env)
    assert bad.exit_code == 2 and "ISO 8601" in bad.output


def test_lifecycle_prints_the_rules(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["storage", "lifecycle"], env=env)
    assert result.exit_code == 0, result.output
    rules = {rule["ID"]: rule for rule in json.loads(result.stdout)["Rules"]}
    assert rules["notify-expire-uploads"]["Filter"] == {"Prefix": "uploads/"}
    assert rules["notify-expire-uploads"]["Expiration"] == {"Days": 12}
    assert rules["notify-expire-exports"]["Expiration"] == {"Days": 2}
    assert rules["notify-abort-incomplete-multipart"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}

    refused = CliRunner().invoke(app, ["storage", "lifecycle", "--apply"], env=env)
    assert refused.exit_code == 1
    assert "S3 only" in refused.output and "file://" in refused.output


def test_lifecycle_apply_puts_the_rules_on_the_bucket(
    env: dict[str, str], moto_s3_endpoint: str, s3_bucket: str
) -> None:
    s3_env = {
        **env,
        "NOTIFY_STORAGE_URL": f"s3://{s3_bucket}/tenant",
        "NOTIFY_STORAGE_ENDPOINT": moto_s3_endpoint,
        "NOTIFY_STORAGE_REGION": MOTO_REGION,
        "NOTIFY_STORAGE_ACCESS_KEY_ID": MOTO_ACCESS_KEY_ID,
        "NOTIFY_STORAGE_SECRET_ACCESS_KEY": MOTO_SECRET_ACCESS_KEY,
        "NOTIFY_STORAGE_ALLOW_HTTP": "true",
    }
    client = s3_client(moto_s3_endpoint)
    theirs = {"ID": "keep-logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 30}}
    client.put_bucket_lifecycle_configuration(Bucket=s3_bucket, LifecycleConfiguration={"Rules": [theirs]})

    for _ in range(2):  # applying twice leaves one copy of each rule
        applied = _json(s3_env, "storage", "lifecycle", "--apply", "--json")
        assert (applied["bucket"], applied["prefix"], applied["applied"]) == (s3_bucket, "tenant/", True)

    rules = {r["ID"]: r for r in client.get_bucket_lifecycle_configuration(Bucket=s3_bucket)["Rules"]}
    client.close()
    assert set(rules) == {"keep-logs", "notify-expire-uploads", "notify-expire-exports",
                          "notify-abort-incomplete-multipart"}
    assert rules["notify-expire-uploads"]["Filter"]["Prefix"] == "tenant/uploads/"
    assert rules["notify-expire-uploads"]["Expiration"]["Days"] == 12
    assert rules["notify-expire-exports"]["Filter"]["Prefix"] == "tenant/exports/"
    assert rules["notify-expire-exports"]["Expiration"]["Days"] == 2
    assert rules["notify-abort-incomplete-multipart"]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1
    assert all(rule["Status"] == "Enabled" for rule in rules.values())
