"""One place that turns a PostgreSQL URL into the dialect each library wants."""

from __future__ import annotations

from sqlalchemy.engine import make_url


class DatabaseUrlError(ValueError):
    pass


def sqlalchemy_url(url: str) -> str:
    """SQLAlchemy needs the psycopg 3 driver named explicitly (it defaults to psycopg2)."""
    parsed = _parse(url)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """psycopg and Procrastinate take a plain libpq URI."""
    parsed = _parse(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def _parse(url: str):  # type: ignore[no-untyped-def]
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with the URL in it
        raise DatabaseUrlError("NOTIFY_DATABASE_URL is not a valid URL; expected postgresql://user:pass@host/db") from exc
    if not parsed.drivername.startswith(("postgresql", "postgres")):
        raise DatabaseUrlError(
            f"NOTIFY_DATABASE_URL uses '{parsed.drivername}'; Notify needs PostgreSQL (postgresql://…)"
        )
    return parsed
