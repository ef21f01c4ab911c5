"""The `notify` command: run the service, or any one part of it, and administer services.

Every admin command takes ``--json`` so deployment scripts can read its output.
"""

from __future__ import annotations

import typer

from notify.cli.admin import key_app, service_app, template_app
from notify.cli.callbacks import callback_app
from notify.cli.jobs import job_app
from notify.cli.receipts import receipts_app
from notify.cli.reports import report
from notify.cli.retention import retention_app, storage_app
from notify.cli.serve_commands import api, db_app, run, worker

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Notify: SMS and email for public services.")
app.command()(run)
app.command()(api)
app.command()(worker)
app.command()(report)
app.add_typer(db_app, name="db")
service_app.add_typer(callback_app, name="callback")
app.add_typer(service_app, name="service")
app.add_typer(template_app, name="template")
app.add_typer(key_app, name="key")
app.add_typer(job_app, name="job")
app.add_typer(retention_app, name="retention")
app.add_typer(receipts_app, name="receipts")
app.add_typer(storage_app, name="storage")


def main() -> None:
    app()
