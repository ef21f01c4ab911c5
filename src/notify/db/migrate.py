"""Apply migrations: our tables through Alembic, and Procrastinate's queue schema in the first revision.

Keeping the queue schema inside an Alembic revision means one command (`notify db upgrade`)
brings any database, embedded or managed, to a working state.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from notify.db.urls import sqlalchemy_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str, *, secret_key: str | None = None) -> Config:
    """``secret_key`` (NOTIFY_SECRET_KEY) is for revisions that encrypt existing rows (0010)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    if secret_key:
        cfg.attributes["secret_key"] = secret_key
    return cfg


def upgrade(database_url: str, revision: str = "head", *, secret_key: str | None = None) -> None:
    command.upgrade(alembic_config(database_url, secret_key=secret_key), revision)


def downgrade(database_url: str, revision: str, *, secret_key: str | None = None) -> None:
    command.downgrade(alembic_config(database_url, secret_key=secret_key), revision)


def current_revision(database_url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine, pool

    engine = create_engine(sqlalchemy_url(database_url), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
