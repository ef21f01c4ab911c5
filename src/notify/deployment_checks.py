"""Start-up checks that depend on where the service runs, not on one setting alone.

Two questions, each answered with every problem at once (one line each, naming the variable):

- Is this a development instance pointed at real infrastructure?  Development accepts SNS
  messages from any topic (and confirms their subscriptions), allows plain-http callbacks to any
  address, and is what runs when ``NOTIFY_ENVIRONMENT`` is unset.  So an unset environment with
  an external database or a remote S3 endpoint refuses to start: the operator must say
  ``production`` or, meaning it, ``development``.  Local set-ups (embedded PostgreSQL, a database
  on localhost or a Unix socket, ``file://`` or ``memory://`` storage, S3 on localhost) start as
  before with nothing set.
- In production, does any endpoint setting downgrade transport security?  Every ``*_ENDPOINT``
  and ``*_ENDPOINT_URL`` setting (found by name, so a new one is covered without editing this
  list) must be https://, plain-http storage must be off, and the test-only SNS CA bundle unset.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from notify.config import Settings


def is_local_host(host: str | None) -> bool:
    """Loopback names and addresses, and Unix sockets (libpq's default when no host is given)."""
    if not host or host.startswith(("/", "@")):
        return True
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _database_hosts(url: str) -> list[str | None]:
    try:
        parsed = make_url(url)
    except Exception:  # malformed: the database layer says so when it connects
        return []
    query_host = parsed.query.get("host")
    hosts: list[str | None] = [parsed.host]
    if query_host:
        # libpq: ?host= overrides the authority, and may list several hosts.
        values = [query_host] if isinstance(query_host, str) else list(query_host)
        hosts = [h for value in values for h in value.split(",")]
    return hosts


def remote_targets(settings: Settings) -> list[str]:
    """The database and object storage settings that point away from this machine."""
    remote: list[str] = []
    if settings.database_url and not all(is_local_host(h) for h in _database_hosts(settings.database_url)):
        remote.append("NOTIFY_DATABASE_URL")
    scheme = urlsplit(settings.storage_url or "").scheme.lower()
    if settings.storage_url and scheme not in ("file", "memory"):
        endpoint = settings.storage_endpoint
        if not endpoint or not is_local_host(urlsplit(endpoint).hostname):
            remote.append("NOTIFY_STORAGE_URL" + (" / NOTIFY_STORAGE_ENDPOINT" if endpoint else ""))
    return remote


def unset_environment_problems(settings: Settings) -> list[str]:
    if "environment" in settings.model_fields_set:
        return []
    remote = remote_targets(settings)
    if not remote:
        return []
    return [
        f"NOTIFY_ENVIRONMENT is unset, so this would run as development against a non-local "
        f"{' and '.join(remote)}; development accepts SNS receipts from any topic and plain-http callbacks "
        "to any address. Set NOTIFY_ENVIRONMENT=production, or NOTIFY_ENVIRONMENT=development if you mean it"
    ]


def production_endpoint_problems(settings: Settings) -> list[str]:
    problems: list[str] = []
    names = [name for name in type(settings).model_fields if name.endswith(("_endpoint", "_endpoint_url"))]
    plain = [
        f"NOTIFY_{name.upper()}"
        for name in names
        if (url := getattr(settings, name)) and not str(url).lower().startswith("https://")
    ]
    if plain:
        problems.append(f"{', '.join(plain)} must be https:// in production")
    if settings.storage_allow_http:
        problems.append("NOTIFY_STORAGE_ALLOW_HTTP=true sends objects (recipients) unencrypted; production needs TLS")
    if settings.sns_ca_bundle is not None:
        problems.append(
            "NOTIFY_SNS_CA_BUNDLE is for tests: with it, whoever holds that CA can sign SNS receipts; "
            "unset it in production"
        )
    return problems
