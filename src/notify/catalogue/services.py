"""Services, their senders and their team list."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from notify.db.models import TemplateType
from notify.recipients.email import normalise_email
from notify.recipients.phone import normalise_phone
from notify.secrets import SecretBox

MAX_RETENTION_DAYS = 7
# Said instead of a provider's name to send through the configured default again (stored as NULL).
DEFAULT_PROVIDER = "default"


class ServiceNotFound(Exception):
    pass


class InvalidService(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    id: uuid.UUID
    name: str
    active: bool
    restricted: bool
    message_limit: int
    rate_limit: int
    international_sms: bool
    data_retention_days: int
    sms_provider: str | None = None  # None: the configured default
    email_provider: str | None = None


_COLUMNS = (
    "id, name, active, restricted, message_limit, rate_limit, international_sms, data_retention_days, "
    "sms_provider, email_provider"
)


async def create_service(
    conn: AsyncConnection,
    *,
    name: str,
    restricted: bool = True,
    message_limit: int = 1000,
    rate_limit: int = 3000,
    international_sms: bool = False,
    data_retention_days: int = MAX_RETENTION_DAYS,
) -> ServiceRecord:
    if not name.strip():
        raise InvalidService("a service needs a name")
    if not 1 <= data_retention_days <= MAX_RETENTION_DAYS:
        raise InvalidService(f"data retention must be 1 to {MAX_RETENTION_DAYS} days")
    if message_limit < 0 or rate_limit < 1:
        raise InvalidService("limits must be positive")
    try:
        async with conn.begin_nested():
            row = (
                await conn.execute(
                    text(
                        "INSERT INTO services (id, name, active, restricted, message_limit, rate_limit, "
                        "international_sms, data_retention_days) VALUES (:id, :name, true, :restricted, :limit, "
                        f":rate, :intl, :retention) RETURNING {_COLUMNS}"
                    ),
                    {"id": uuid.uuid4(), "name": name.strip(), "restricted": restricted, "limit": message_limit,
                     "rate": rate_limit, "intl": international_sms, "retention": data_retention_days},
                )
            ).one()
    except IntegrityError as exc:
        raise InvalidService(f"a service called {name!r} already exists") from exc
    return ServiceRecord(*row)


async def update_service(
    conn: AsyncConnection,
    service_id: uuid.UUID,
    *,
    active: bool | None = None,
    restricted: bool | None = None,
    message_limit: int | None = None,
    rate_limit: int | None = None,
    international_sms: bool | None = None,
    data_retention_days: int | None = None,
) -> ServiceRecord:
    """Change only what is given; the API sees changes within the catalogue cache time."""
    current = await get_service(conn, service_id)
    values = {
        "active": current.active if active is None else active,
        "restricted": current.restricted if restricted is None else restricted,
        "message_limit": current.message_limit if message_limit is None else message_limit,
        "rate_limit": current.rate_limit if rate_limit is None else rate_limit,
        "international_sms": current.international_sms if international_sms is None else international_sms,
        "data_retention_days": current.data_retention_days if data_retention_days is None else data_retention_days,
    }
    if not 1 <= values["data_retention_days"] <= MAX_RETENTION_DAYS:
        raise InvalidService(f"data retention must be 1 to {MAX_RETENTION_DAYS} days")
    if values["message_limit"] < 0 or values["rate_limit"] < 1:
        raise InvalidService("limits must be positive")
    row = (
        await conn.execute(
            text(
                "UPDATE services SET active = :active, restricted = :restricted, message_limit = :message_limit, "
                "rate_limit = :rate_limit, international_sms = :international_sms, "
                f"data_retention_days = :data_retention_days WHERE id = :id RETURNING {_COLUMNS}"
            ),
            {**values, "id": service_id},
        )
    ).one()
    return ServiceRecord(*row)


async def choose_providers(
    conn: AsyncConnection,
    service_id: uuid.UUID,
    *,
    sms: str | None = None,
    email: str | None = None,
    available_sms: Collection[str],
    available_email: Collection[str],
) -> ServiceRecord:
    """Send this service through a named provider (or DEFAULT_PROVIDER); None leaves a kind as it is.

    Only providers this deployment has configured may be chosen, so a typo cannot silently route
    a service's messages through the default.
    """
    current = await get_service(conn, service_id)
    values = {"sms_provider": current.sms_provider, "email_provider": current.email_provider}
    for column, chosen, available in (("sms_provider", sms, available_sms), ("email_provider", email, available_email)):
        if chosen is None:
            continue
        if chosen == DEFAULT_PROVIDER:
            values[column] = None
        elif chosen in available:
            values[column] = chosen
        else:
            kind = column.removesuffix("_provider")
            choices = ", ".join([*available, DEFAULT_PROVIDER])
            raise InvalidService(f"{chosen!r} is not a configured {kind} provider; choose one of: {choices}")
    row = (
        await conn.execute(
            text(
                "UPDATE services SET sms_provider = :sms_provider, email_provider = :email_provider "
                f"WHERE id = :id RETURNING {_COLUMNS}"
            ),
            {**values, "id": service_id},
        )
    ).one()
    return ServiceRecord(*row)


async def get_service(conn: AsyncConnection, service_id: uuid.UUID) -> ServiceRecord:
    row = (await conn.execute(text(f"SELECT {_COLUMNS} FROM services WHERE id = :id"), {"id": service_id})).one_or_none()
    if row is None:
        raise ServiceNotFound(service_id)
    return ServiceRecord(*row)


async def find_service_by_name(conn: AsyncConnection, name: str) -> ServiceRecord | None:
    row = (await conn.execute(text(f"SELECT {_COLUMNS} FROM services WHERE name = :n"), {"n": name})).one_or_none()
    return ServiceRecord(*row) if row else None


async def add_sms_sender(
    conn: AsyncConnection, service_id: uuid.UUID, sender: str, *, is_default: bool = False
) -> uuid.UUID:
    if not sender.strip() or len(sender) > 32:
        raise InvalidService("an SMS sender is a phone number or up to 11 letters")
    if is_default:
        await conn.execute(
            text("UPDATE service_sms_senders SET is_default = false WHERE service_id = :s"), {"s": service_id}
        )
    sender_id = uuid.uuid4()
    await conn.execute(
        text("INSERT INTO service_sms_senders (id, service_id, sms_sender, is_default) VALUES (:id, :s, :v, :d)"),
        {"id": sender_id, "s": service_id, "v": sender.strip(), "d": is_default},
    )
    return sender_id


async def add_reply_to(conn: AsyncConnection, service_id: uuid.UUID, address: str, *, is_default: bool = False) -> uuid.UUID:
    address = normalise_email(address)
    if is_default:
        await conn.execute(
            text("UPDATE service_email_reply_to SET is_default = false WHERE service_id = :s"), {"s": service_id}
        )
    reply_id = uuid.uuid4()
    await conn.execute(
        text(
            "INSERT INTO service_email_reply_to (id, service_id, email_address, is_default) VALUES (:id, :s, :v, :d)"
        ),
        {"id": reply_id, "s": service_id, "v": address, "d": is_default},
    )
    return reply_id


def normalise_team_recipient(recipient_type: TemplateType, value: str, *, region: str = "US") -> str:
    if recipient_type is TemplateType.sms:
        return normalise_phone(value, default_region=region, allow_international=True)
    return normalise_email(value).lower()


# Team contacts are the service's staff, not the public, but the database still holds no phone
# number or email address in clear: each is stored encrypted (like API key secrets) with a keyed
# lookup digest of its normalised form, so trial mode and team keys can check a recipient by
# equality without decrypting the list. See notify.secrets.
_TEAM_LOOKUP = "team-member"


def team_lookup(box: SecretBox, recipient_type: TemplateType, normalised: str) -> bytes:
    """The digest stored beside a team contact; ``normalised`` as normalise_team_recipient gives it."""
    return box.lookup_digest(_TEAM_LOOKUP, f"{recipient_type.value}:{normalised}")


async def add_team_member(
    conn: AsyncConnection,
    box: SecretBox,
    service_id: uuid.UUID,
    recipient_type: TemplateType,
    value: str,
    *,
    region: str = "US",
) -> None:
    normalised = normalise_team_recipient(recipient_type, value, region=region)
    await conn.execute(
        text(
            "INSERT INTO service_team_members (id, service_id, recipient_type, recipient_encrypted, recipient_lookup) "
            "VALUES (:id, :s, :t, :encrypted, :lookup) ON CONFLICT DO NOTHING"
        ),
        {"id": uuid.uuid4(), "s": service_id, "t": recipient_type.value, "encrypted": box.encrypt(normalised),
         "lookup": team_lookup(box, recipient_type, normalised)},
    )


async def is_team_member(
    conn: AsyncConnection, box: SecretBox, service_id: uuid.UUID, recipient_type: TemplateType, normalised: str
) -> bool:
    value = normalised.lower() if recipient_type is TemplateType.email else normalised
    row = (
        await conn.execute(
            text(
                "SELECT 1 FROM service_team_members "
                "WHERE service_id = :s AND recipient_type = :t AND recipient_lookup = :lookup"
            ),
            {"s": service_id, "t": recipient_type.value, "lookup": team_lookup(box, recipient_type, value)},
        )
    ).first()
    return row is not None


async def team_members(conn: AsyncConnection, box: SecretBox, service_id: uuid.UUID) -> list[tuple[TemplateType, str]]:
    """The service's team contacts in clear, for showing them to the service's own users."""
    rows = await conn.execute(
        text("SELECT recipient_type, recipient_encrypted FROM service_team_members WHERE service_id = :s"),
        {"s": service_id},
    )
    return sorted((TemplateType(kind), box.decrypt(token)) for kind, token in rows.all())
