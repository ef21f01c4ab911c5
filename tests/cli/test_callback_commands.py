"""`notify service callback set|show|remove`, as a deployment script would run them (--json)."""

from __future__ import annotations

import json

from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from notify.cli import app
from notify.db.urls import sqlalchemy_url

TOKEN = "s3cret-callback-token"


def _run(env: dict[str, str], *args: str) -> dict:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    assert TOKEN not in result.output  # no command ever prints the token back
    return json.loads(result.stdout.strip().splitlines()[-1])


def _fails(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 1, result.output
    assert TOKEN not in result.output
    return result.output


def test_set_show_replace_and_remove(env: dict[str, str], database_url: str) -> None:
    service = _run(env, "service", "create", "--name", "Callbacks", "--json")["id"]
    assert _run(env, "service", "callback", "show", "--service", service, "--json") == {
        "service_id": service, "url": None}

    created = _run(env, "service", "callback", "set", "--service", service, "--url", "https://hooks.agency.gov/notify",
                   "--bearer-token", TOKEN, "--json")
    assert (created["url"], created["bearer_token_set"], created["updated_at"]) == (
        "https://hooks.agency.gov/notify", True, None)
    shown = _run(env, "service", "callback", "show", "--service", service, "--json")
    assert shown == created

    engine = create_engine(sqlalchemy_url(database_url))
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT bearer_token_encrypted FROM service_callbacks")).scalar_one()
    assert TOKEN.encode() not in stored

    replaced = _run(env, "service", "callback", "set", "--service", service, "--url", "https://hooks.agency.gov/v2",
                    "--bearer-token", TOKEN + "-new", "--json")
    assert replaced["url"] == "https://hooks.agency.gov/v2" and replaced["updated_at"] is not None
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM service_callbacks")).scalar_one() == 1

    assert _run(env, "service", "callback", "remove", "--service", service, "--json") == {
        "service_id": service, "removed": True}
    assert _run(env, "service", "callback", "remove", "--service", service, "--json")["removed"] is False
    assert _run(env, "service", "callback", "show", "--service", service, "--json")["url"] is None
    engine.dispose()


def test_human_output_never_shows_the_token(env: dict[str, str]) -> None:
    service = _run(env, "service", "create", "--name", "Plain", "--json")["id"]
    result = CliRunner().invoke(app, ["service", "callback", "set", "--service", service,
                                      "--url", "https://hooks.agency.gov/x", "--bearer-token", TOKEN], env=env)
    assert result.exit_code == 0 and TOKEN not in result.output
    shown = CliRunner().invoke(app, ["service", "callback", "show", "--service", service], env=env)
    assert "https://hooks.agency.gov/x" in shown.output and TOKEN not in shown.output
    # Without --bearer-token the command asks for it, without echo.
    prompted = CliRunner().invoke(app, ["service", "callback", "set", "--service", service,
                                        "--url", "https://hooks.agency.gov/y", "--json"], env=env,
                                  input=TOKEN + "\n")
    assert prompted.exit_code == 0, prompted.output
    assert TOKEN not in prompted.output


def test_bad_urls_and_tokens_are_refused_clearly(env: dict[str, str]) -> None:
    service = _run(env, "service", "create", "--name", "Strict", "--json")["id"]
    base = ["service", "callback", "set", "--service", service]
    assert "at least 10 characters" in _fails(env, *base, "--url", "https://a.gov/cb", "--bearer-token", "short")
    assert "must start with http:// or https://" in _fails(
        env, *base, "--url", "ftp://a.gov/cb", "--bearer-token", TOKEN)
    assert "no host name" in _fails(env, *base, "--url", "https:///cb", "--bearer-token", TOKEN)
    assert "not in the callback URL" in _fails(
        env, *base, "--url", "https://user:pw@a.gov/cb", "--bearer-token", TOKEN)
    assert "no such service" in _fails(env, "service", "callback", "set", "--service",
                                       "00000000-0000-0000-0000-000000000001", "--url", "https://a.gov/cb",
                                       "--bearer-token", TOKEN)
    # Development and test accept plain http (a local receiver); production only https.
    _run(env, *base, "--url", "http://127.0.0.1:9000/cb", "--bearer-token", TOKEN, "--json")
    production = {**env, "NOTIFY_ENVIRONMENT": "production", "NOTIFY_SMS_PROVIDER": "aws-sns",
                  "NOTIFY_EMAIL_PROVIDER": "ses", "NOTIFY_AWS_REGION": "us-east-1",
                  "NOTIFY_EMAIL_FROM_DOMAIN": "notify.agency.gov"}
    assert "must start with https://" in _fails(
        production, *base, "--url", "http://127.0.0.1:9000/cb", "--bearer-token", TOKEN)
    _run(production, *base, "--url", "https://hooks.agency.gov/cb", "--bearer-token", TOKEN, "--json")
    # ... and only to public addresses: no loopback, private, link-local or metadata service.
    for internal, reason in (("https://127.0.0.1:9000/cb", "loopback"), ("https://10.1.2.3/cb", "private"),
                             ("https://[fe80::1]/cb", "link-local"), ("https://169.254.169.254/", "cloud metadata")):
        assert f"points at a {reason} address" in _fails(production, *base, "--url", internal, "--bearer-token", TOKEN)
