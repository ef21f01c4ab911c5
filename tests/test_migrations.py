"""The models and the migrations describe the same schema (warehouse's db-check, as a test)."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from notify.catalogue.services import team_lookup
from notify.db import migrate
from notify.db.models import Base, TemplateType
from notify.db.urls import libpq_url, sqlalchemy_url
from notify.secrets import SecretBox
from tests.conftest import TEST_SECRET_KEY
from tests.fixtures.database import with_database


def test_models_match_migrations(database_url: str) -> None:
    engine = create_engine(sqlalchemy_url(database_url))
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    ours = [d for d in diff if "procrastinate" not in repr(d)]
    assert ours == [], f"models drifted from migrations; generate a revision: {ours}"


def test_0010_encrypts_the_team_members_already_stored(postgres_url: str) -> None:
    """Team contacts written in clear before 0010 end encrypted, findable, and nowhere in clear."""
    name = f"notify_migrate_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(libpq_url(postgres_url), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(postgres_url, name)
    try:
        migrate.upgrade(url, "0009")
        service_id = uuid.uuid4()
        with psycopg.connect(libpq_url(url)) as conn:
            conn.execute("INSERT INTO services (id, name) VALUES (%s, 'Old service')", (service_id,))
            for kind, contact in (("sms", "+12025550177"), ("email", "old.staffer@agency.example.gov")):
                conn.execute(
                    "INSERT INTO service_team_members (id, service_id, recipient_type, recipient) VALUES (%s, %s, %s, %s)",
                    (uuid.uuid4(), service_id, kind, contact),
                )
        with pytest.raises(RuntimeError, match="NOTIFY_SECRET_KEY"):
            migrate.upgrade(url)  # rows to encrypt and no key: refused, and nothing half-done
        assert migrate.current_revision(url) == "0009"

        migrate.upgrade(url, secret_key=TEST_SECRET_KEY)
        box = SecretBox(TEST_SECRET_KEY)
        with psycopg.connect(libpq_url(url)) as conn:
            rows = conn.execute(
                "SELECT recipient_type, recipient_encrypted, recipient_lookup FROM service_team_members"
            ).fetchall()
            with conn.cursor().copy("COPY service_team_members TO STDOUT") as copy:
                dump = b"".join(bytes(block) for block in copy)
        assert sorted((kind, box.decrypt(token)) for kind, token, _ in rows) == [
            ("email", "old.staffer@agency.example.gov"), ("sms", "+12025550177")
        ]
        assert {bytes(lookup) for _, _, lookup in rows} == {
            team_lookup(box, TemplateType.sms, "+12025550177"),
            team_lookup(box, TemplateType.email, "old.staffer@agency.example.gov"),
        }
        assert b"5550177" not in dump and b"old.staffer" not in dump

        migrate.downgrade(url, "0009", secret_key=TEST_SECRET_KEY)  # and back, for a rollback
        with psycopg.connect(libpq_url(url)) as conn:
            back = sorted(conn.execute("SELECT recipient_type, recipient FROM service_team_members").fetchall())
        assert back == [("email", "old.staffer@agency.example.gov"), ("sms", "+12025550177")]
    finally:
        with psycopg.connect(libpq_url(postgres_url), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
