"""`notify service callback set|show|remove`: where a service's delivery statuses are POSTed.

The bearer token is taken once and stored encrypted; no command prints it back. Leave out
``--bearer-token`` to be asked for it without echo, which keeps it out of shell history.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated, Any

import typer

from notify.cli.common import JsonOption, emit, run_admin
from notify.config import Settings

if TYPE_CHECKING:
    from notify.catalogue.callbacks import CallbackRecord

callback_app = typer.Typer(no_args_is_help=True, help="Delivery-status callbacks.")

ServiceOption = Annotated[uuid.UUID, typer.Option("--service", help="Service id.")]


def _shown(service_id: uuid.UUID, record: CallbackRecord | None) -> dict[str, Any]:
    if record is None:
        return {"service_id": str(service_id), "url": None}
    return {"service_id": str(record.service_id), "url": record.url, "bearer_token_set": True,
            "created_at": record.created_at.isoformat(),
            "updated_at": record.updated_at.isoformat() if record.updated_at else None}


@callback_app.command("set")
def callback_set(
    service: ServiceOption,
    url: Annotated[str, typer.Option(help="https:// URL to POST each final status to.")],
    bearer_token: Annotated[
        str, typer.Option(prompt=True, hide_input=True, help="Sent as 'Authorization: Bearer …'; 10+ characters.")
    ],
    as_json: JsonOption = False,
) -> None:
    """Set or replace the service's delivery-status callback."""
    from notify.callbacks.destinations import CallbackDestinations
    from notify.catalogue.callbacks import set_delivery_callback
    from notify.secrets import SecretBox

    async def work(conn: Any, settings: Settings) -> dict[str, Any]:
        record = await set_delivery_callback(
            conn, SecretBox(settings.ensure_secret_key()), service, url=url, bearer_token=bearer_token,
            destinations=CallbackDestinations.for_settings(settings),
        )
        return _shown(service, record)

    result = run_admin(work)
    emit(as_json, result, f"delivery statuses for {result['service_id']} go to {result['url']}")


@callback_app.command("show")
def callback_show(service: ServiceOption, as_json: JsonOption = False) -> None:
    """Show the callback URL (never the token)."""
    from notify.catalogue.callbacks import get_delivery_callback

    async def work(conn: Any, settings: Settings) -> dict[str, Any]:
        return _shown(service, await get_delivery_callback(conn, service))

    result = run_admin(work)
    human = (f"delivery statuses go to {result['url']} (bearer token set)" if result["url"]
             else "no delivery-status callback")
    emit(as_json, result, human)


@callback_app.command("remove")
def callback_remove(service: ServiceOption, as_json: JsonOption = False) -> None:
    """Stop POSTing delivery statuses, including callbacks still queued."""
    from notify.catalogue.callbacks import remove_delivery_callback

    async def work(conn: Any, settings: Settings) -> dict[str, Any]:
        return {"service_id": str(service), "removed": await remove_delivery_callback(conn, service)}

    result = run_admin(work)
    emit(as_json, result, "callback removed" if result["removed"] else "the service had no callback")
