"""`notify service|template|key` against a real database, as deployment scripts use them (--json)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from notify.cli import app
from notify.db.urls import sqlalchemy_url


def _run(env: dict[str, str], *args: str) -> dict:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_service_template_and_key_lifecycle(env: dict[str, str], database_url: str) -> None:
    service = _run(env, "service", "create", "--name", "Benefits", "--live", "--message-limit", "50",
                   "--sms-sender", "BENEFITS", "--team-email", "Staff@Agency.gov", "--json")
    assert service["trial_mode"] is False and service["message_limit"] == 50
    template = _run(env, "template", "create", "--service", service["id"], "--name", "Reminder", "--type", "sms",
                    "--content", "Hi ((name))", "--json")
    assert template["placeholders"] == ["name"]
    key = _run(env, "key", "create", "--service", service["id"], "--name", "ci", "--type", "test", "--json")
    assert key["key"].startswith(f"ci-{service['id']}-") and len(key["key"].rsplit("-", 5)[-1]) == 12

    engine = create_engine(sqlalchemy_url(database_url))
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT secret_encrypted FROM api_keys")).scalar_one()
        assert key["key"][-36:].encode() not in stored
        team = conn.execute(text("SELECT service_team_members::text FROM service_team_members")).scalar_one()
        assert "staff@agency.gov" not in team.lower()  # the team contact is stored encrypted only
    revoked = _run(env, "key", "revoke", "--service", service["id"], "--key-id", key["id"], "--json")
    assert revoked == {"id": key["id"], "revoked": True}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT revoked_at IS NOT NULL FROM api_keys")).scalar_one()
    engine.dispose()


def test_errors_are_clear_and_exit_nonzero(env: dict[str, str]) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["key", "create", "--service", "00000000-0000-0000-0000-000000000001",
                                  "--name", "x", "--json"], env=env)
    assert missing.exit_code == 1
    assert "no such service" in missing.output
    _run(env, "service", "create", "--name", "Dup", "--json")
    duplicate = runner.invoke(app, ["service", "create", "--name", "Dup"], env=env)
    assert duplicate.exit_code == 1 and "already exists" in duplicate.output
    too_long = runner.invoke(app, ["service", "create", "--name", "R", "--retention-days", "8"], env=env)
    assert too_long.exit_code == 2  # typer refuses out-of-range values before we run


def test_production_refuses_insecure_defaults(env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        app, ["db", "current"], env={"NOTIFY_ENVIRONMENT": "production", "NOTIFY_DATABASE_URL": "", "NOTIFY_SECRET_KEY": ""}
    )
    assert result.exit_code == 2
    assert "NOTIFY_SECRET_KEY" in result.output and "NOTIFY_DATABASE_URL" in result.output


def test_db_upgrade_on_an_empty_database(postgres_url: str, tmp_path: Path) -> None:
    import psycopg

    from notify.db.urls import libpq_url
    from tests.fixtures.database import with_database

    name = f"notify_empty_{int(time.time() * 1000)}"
    with psycopg.connect(libpq_url(postgres_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = with_database(postgres_url, name)
        result = CliRunner().invoke(app, ["db", "upgrade"], env={"NOTIFY_DATABASE_URL": url, "NOTIFY_LOG_LEVEL": "WARNING",
                                                                "NOTIFY_DATA_DIR": str(tmp_path)})
        assert result.exit_code == 0, result.output
        assert "database at revision" in result.output
        with psycopg.connect(libpq_url(url)) as conn:
            tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert {"notifications", "jobs", "services", "procrastinate_jobs"} <= tables
    finally:
        with psycopg.connect(libpq_url(postgres_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_service_and_template_updates(env: dict[str, str]) -> None:
    service = _run(env, "service", "create", "--name", "Licensing", "--json")
    assert service["trial_mode"] is True
    updated = _run(env, "service", "update", "--id", service["id"], "--live", "--message-limit", "5000",
                   "--international-sms", "--retention-days", "3", "--json")
    assert (updated["trial_mode"], updated["message_limit"], updated["international_sms"],
            updated["data_retention_days"]) == (False, 5000, True, 3)
    template = _run(env, "template", "create", "--service", service["id"], "--name", "T", "--type", "email",
                    "--subject", "Re ((case))", "--content", "Hello ((name))", "--json")
    edited = _run(env, "template", "update", "--service", service["id"], "--id", template["id"],
                  "--content", "Hi ((name)), about ((case))", "--json")
    assert edited["version"] == 2 and edited["placeholders"] == ["case", "name"]
    archived = _run(env, "template", "update", "--service", service["id"], "--id", template["id"], "--archive",
                    "--json")
    assert archived["archived"] is True and archived["version"] == 2  # archiving is not a new version
