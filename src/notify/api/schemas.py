"""Request bodies of the v2 API. Unknown fields are refused, as Notify's JSON schemas do."""

from __future__ import annotations

import uuid
from typing import Any

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it here rather than fail deep in a batch.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class PostSmsRequest(_Strict):
    phone_number: str = Field(max_length=100)
    template_id: uuid.UUID
    personalisation: dict[str, Any] | None = None
    reference: Text | None = Field(default=None, max_length=1000)
    sms_sender_id: uuid.UUID | None = None
    scheduled_for: str | None = None


class PostEmailRequest(_Strict):
    email_address: str = Field(max_length=320)
    template_id: uuid.UUID
    personalisation: dict[str, Any] | None = None
    reference: Text | None = Field(default=None, max_length=1000)
    email_reply_to_id: uuid.UUID | None = None
    one_click_unsubscribe_url: str | None = Field(default=None, max_length=2000)
    scheduled_for: str | None = None


class PreviewRequest(_Strict):
    personalisation: dict[str, Any] | None = None
