"""Webhooks (the merchant's) and a user's mail setting."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .. import model, texts
from ..errors import Invalid
from ..model import Page
from .declare import Custom, Field, Flag, Form, Str, string
from .values import BODY_ID, WEB_SCHEME, Id, PagedForm, is_image_url

WEBHOOK_EVENT_TYPES = model.EVENT_TYPES
WEBHOOK_URL_MAX = 2000
WEBHOOK_DESCRIPTION_MAX = 500


def _webhook_url(value: str, name: str) -> str:
    """An absolute http(s) URL with a host (is_image_url's rules) and no credentials: the
    shape only; where it points is checked against the network rules by notify.py."""
    if not value:
        return value  # the length rule names the empty field
    if not (WEB_SCHEME.match(value) and is_image_url(value)) or urlsplit(value).username:
        raise Invalid(texts.WEBHOOK_URL_SCHEME, field=name)
    return value


def _webhook_events(value: Any, name: str) -> list[str]:
    """A non-empty list of distinct known event types, or ["*"]."""
    if value == ["*"]:
        return value
    known = (
        isinstance(value, list)
        and value
        and all(isinstance(kind, str) and kind in WEBHOOK_EVENT_TYPES for kind in value)
    )
    if not known or len(set(value)) != len(value):
        raise Invalid(texts.WEBHOOK_EVENTS, field=name, choices=", ".join(WEBHOOK_EVENT_TYPES))
    return value


WEBHOOK_URL = Field(
    "url",
    Str(
        1,
        WEBHOOK_URL_MAX,
        prepare=lambda value, name: _webhook_url(value.strip(), name),
        pattern=r'[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#<>"\\^`{|}@]+(?:[/?#][^\s<>"\\^`{|}]*)?',
        pattern_message=texts.WEBHOOK_URL_SCHEME,
        description="an http:// or https:// URL; loopback, private, link-local and other "
        "non-public targets (also by name) are refused unless the server runs with "
        "--webhook-allow-private",
    ),
)
WEBHOOK_EVENTS = Field(
    "events",
    Custom(
        _webhook_events,
        {
            "description": 'the event types to send, or ["*"] for every one (default)',
            "oneOf": [
                {
                    "type": "array",
                    "minItems": 1,
                    "uniqueItems": True,
                    "items": string(enum=list(WEBHOOK_EVENT_TYPES)),
                },
                {"type": "array", "minItems": 1, "maxItems": 1, "items": string(enum=["*"])},
            ],
        },
    ),
)
WEBHOOK_DESCRIPTION = Field("description", Str(0, WEBHOOK_DESCRIPTION_MAX))


@dataclass(frozen=True)
class NewWebhook:
    url: str
    events: list[str]
    description: str


CREATE_WEBHOOK = Form(
    (
        Field(WEBHOOK_URL.name, WEBHOOK_URL.rule, required=True),
        Field(WEBHOOK_EVENTS.name, WEBHOOK_EVENTS.rule, default=["*"]),
        Field(WEBHOOK_DESCRIPTION.name, WEBHOOK_DESCRIPTION.rule, default=""),
    ),
    NewWebhook,
)


@dataclass(frozen=True)
class WebhookChanges:
    """What an update sends; None: kept."""

    id: int
    url: str | None
    events: list[str] | None
    description: str | None
    enabled: bool | None


UPDATE_WEBHOOK = Form(
    (BODY_ID, WEBHOOK_URL, WEBHOOK_EVENTS, WEBHOOK_DESCRIPTION, Field("enabled", Flag())),
    WebhookChanges,
)
WEBHOOK_ID = Form((BODY_ID,), lambda id: id)


@dataclass(frozen=True)
class DeliveriesQuery:
    webhook_id: int
    page: Page


DELIVERIES_QUERY = PagedForm(
    (Field("webhook_id", Id(in_query=True), required=True),), DeliveriesQuery
)
REDELIVER = Form((Field("delivery_id", Id(), required=True),), lambda delivery_id: delivery_id)
NOTIFICATIONS = Form(
    (Field("email", Flag("mail about my orders"), required=True),), lambda email: email
)
