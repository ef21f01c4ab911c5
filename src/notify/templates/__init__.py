"""Templates: placeholders, SMS length and fragments, and rendering.

Pure functions only: no database, no storage, no logging.  Everything the
rest of Notify needs is importable from here; the submodules are an
implementation detail of where each job lives.
"""

from notify.templates.gsm_alphabet import GSM_BASIC, GSM_CHARACTERS, GSM_EXTENSION, is_gsm
from notify.templates.placeholders import (
    ListStyle,
    MissingPersonalisation,
    format_list,
    is_yes,
    normalise_key,
    placeholders,
    substitute,
)
from notify.templates.render import (
    EmptyMessage,
    RenderedEmail,
    RenderedSms,
    render_email,
    render_sms,
    template_placeholders,
)
from notify.templates.sms_length import (
    SMS_CHAR_COUNT_LIMIT,
    SmsEncoding,
    SmsLength,
    SmsTooLong,
    check_sms_length,
    fragment_count,
    sms_length,
)
from notify.templates.sms_sanitise import sanitise_sms

__all__ = [
    "GSM_BASIC",
    "GSM_CHARACTERS",
    "GSM_EXTENSION",
    "SMS_CHAR_COUNT_LIMIT",
    "EmptyMessage",
    "ListStyle",
    "MissingPersonalisation",
    "RenderedEmail",
    "RenderedSms",
    "SmsEncoding",
    "SmsLength",
    "SmsTooLong",
    "check_sms_length",
    "format_list",
    "fragment_count",
    "is_gsm",
    "is_yes",
    "normalise_key",
    "placeholders",
    "render_email",
    "render_sms",
    "sanitise_sms",
    "sms_length",
    "substitute",
    "template_placeholders",
]
