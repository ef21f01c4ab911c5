"""The models and the migrations describe the same schema (warehouse's db-check, as a test)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from notify.db.models import Base
from notify.db.urls import sqlalchemy_url


def test_models_match_migrations(database_url: str) -> None:
    engine = create_engine(sqlalchemy_url(database_url))
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    ours = [d for d in diff if "procrastinate" not in repr(d)]
    assert ours == [], f"models drifted from migrations; generate a revision: {ours}"
