"""What the API answers, entity by entity, declared once.

Each `Entity` lists the keys its answers hold, with the JSON Schema of each. The
OpenAPI components are these schemas, closed (no key beyond the declared ones), and
the tests check every answer against them: a key answered but not declared fails.

An order's keys also say how they are stored and which of them the customer sends
(with the rule that checks each): the store's columns and statements and the order
forms are built from ORDER. A new optional order field is one `Key` here, a migration
pair and schema.sql.
"""

from dataclasses import dataclass
from typing import Any

from . import model
from .validate.declare import Rule, Schema, Str, integer, string
from .validate.values import (
    ORDER_EXTRA,
    PHONE,
    PURCHASE_STATUS_SCHEMA,
    STATUS_SCHEMA,
    Id,
    UrlList,
)


@dataclass(frozen=True)
class Key:
    """One key of an entity's answers. `stored`: a column of its table under the same
    name (else computed on the way out); `json`: stored as JSON text. For an order,
    `rule` marks a key the customer sends (on create, and on update when `updatable`),
    `default` its value on create when not sent, `requirement` that changing it revises
    the customer's requirements, `merged` that an update merges it (JSON Merge Patch)."""

    name: str
    schema: Schema
    stored: bool = True
    json: bool = False
    rule: Rule | None = None
    required_on_create: bool = False
    updatable: bool = True
    default: Any = None
    requirement: bool = False
    merged: bool = False


@dataclass(frozen=True)
class Entity:
    name: str  # its OpenAPI component
    keys: tuple[Key, ...]

    def schema(self, *more: Key) -> Schema:
        """The closed JSON Schema of its answers (with `more` keys, for a richer view)."""
        keys = (*self.keys, *more)
        return {
            "type": "object",
            "properties": {key.name: key.schema for key in keys},
            "required": [key.name for key in keys],
            "additionalProperties": False,
        }

    @property
    def columns(self) -> str:
        """Its stored keys, for a SELECT list."""
        return ", ".join(key.name for key in self.keys if key.stored)

    @property
    def json_keys(self) -> tuple[str, ...]:
        return tuple(key.name for key in self.keys if key.json)

    @property
    def sent(self) -> tuple[Key, ...]:
        """The keys a client sends (orders)."""
        return tuple(key for key in self.keys if key.rule is not None)


URLS = {"type": "array", "items": string()}
TIME = integer(description="Unix seconds")

ORDER = Entity(
    "Order",
    (
        Key("id", integer()),
        Key("user_id", integer(description="the customer who owns it")),
        Key("order_id", integer(description="the purchase order made on accept, else 0")),
        Key(
            "archive_id",
            integer(description="the catalogue item it is about"),
            rule=Id(),
            required_on_create=True,
            updatable=False,
        ),
        Key(
            "title",
            string(),
            rule=Str(*model.TITLE_LEN),
            required_on_create=True,
            requirement=True,
        ),
        Key(
            "content",
            string(),
            rule=Str(*model.CONTENT_LEN),
            required_on_create=True,
            requirement=True,
        ),
        Key("phone", string(), rule=PHONE, required_on_create=True),
        Key("images", URLS, json=True, rule=UrlList(), default=[]),
        Key("sketch_images", URLS, json=True),
        Key("finished_images", URLS, json=True),
        Key(
            "thumb",
            string(
                description="the thumbnail URL of the first image when it is an upload of "
                'this server ("" for an uploaded PDF), else the first image, else ""'
            ),
            stored=False,
        ),
        Key("event_date", string(), rule=Str(0, model.EVENT_DATE_MAX), default=""),
        Key("status", STATUS_SCHEMA),
        Key("admin_id", integer(description="the merchant user who last handled it, else 0")),
        Key(
            "assignee_id",
            integer(
                minimum=0, description="the staff member or admin it is assigned to; 0: nobody"
            ),
        ),
        Key("quote_price", string(description='"12000.00", or "" before any quote')),
        Key("quote_content", string()),
        Key(
            "order_extra",
            {"type": "object"},
            json=True,
            rule=ORDER_EXTRA,
            default={},
            requirement=True,
            merged=True,
        ),
        Key("created_time", TIME),
        Key("updated_time", TIME),
        Key("version", integer(minimum=1)),
    ),
)

MESSAGE = Entity(
    "Message",
    (
        Key("id", integer()),
        Key("comm_order_id", integer()),
        Key("sender_id", integer(description="0 for system")),
        Key("sender_type", string(enum=["user", "admin", "system"])),
        Key("sender_name", string()),
        Key("message_type", string(enum=sorted(model.STORED_MESSAGE_TYPES))),
        Key("content", string()),
        Key("created_time", TIME),
    ),
)

# What an order answer holds for its caller beyond the order itself; event and webhook
# payloads (the `Order` schema) never hold them.
LAST_MESSAGE = Entity(
    "LastMessage",
    (
        Key("id", integer()),
        Key("sender_type", string(enum=["user", "admin", "system"])),
        Key("sender_name", string()),
        Key("message_type", string(enum=sorted(model.STORED_MESSAGE_TYPES))),
        Key(
            "content",
            string(0, model.LAST_MESSAGE_PREVIEW, description="its first 200 characters"),
        ),
        Key("created_time", TIME),
    ),
)
READER_KEYS = (
    Key(
        "unread",
        integer(
            minimum=0,
            description="messages above the caller's read marker that the caller may see "
            "and did not send, system messages not counted",
        ),
        stored=False,
    ),
    Key(
        "last_message",
        {
            "description": "the latest message the caller may see (system included), its "
            "content cut to 200 characters; null for an empty thread",
            "anyOf": [{"$ref": "#/components/schemas/LastMessage"}, {"enum": [None]}],
        },
        stored=False,
    ),
    Key(
        "last_activity_time",
        integer(description="the later of updated_time and last_message's created_time"),
        stored=False,
    ),
)
# An order as lists and details answer it to a caller.
ORDER_VIEW = Entity("OrderView", (*ORDER.keys, *READER_KEYS))
CUSTOMER_CARD = Key(
    "user",
    {
        "type": "object",
        "properties": {
            "id": integer(),
            "user_name": string(),
            "email": string(description='"" when none'),
            "phone": string(description='"" when none'),
        },
        "required": ["id", "user_name", "email", "phone"],
        "additionalProperties": False,
        "description": "the customer",
    },
    stored=False,
)
# An order in the merchant's inbox: with its customer.
INBOX_ORDER = Entity("InboxOrder", (*ORDER_VIEW.keys, CUSTOMER_CARD))

USER = Entity(
    "User",
    (
        Key("id", integer()),
        Key("user_name", string()),
        Key("email", string(description='"" when none')),
        Key("phone", string(description='"" when none')),
        Key("role", string(enum=list(model.ROLES))),
        Key("created_time", TIME),
        Key("notify_email", {"type": "boolean", "description": "mail about my orders"}),
    ),
)
# A user as the merchant's users page lists them.
USER_ACCOUNT = Entity(
    "UserAccount",
    (
        *USER.keys,
        Key("disabled", {"type": "boolean", "description": "may not log in"}),
        Key(
            "orders_total",
            integer(minimum=0, description="their communication orders"),
            stored=False,
        ),
        Key(
            "last_login_time",
            integer(minimum=0, description="the last login or registration; 0: never"),
        ),
    ),
)
SESSION_KEYS = (
    Key("token", string(description="send it as the Token header")),
    Key("expire", integer(description="the session's expiry, Unix seconds")),
)

FIELD_DEFINITION = Entity(
    "FieldDefinition",
    (
        Key("field_name", string(1, model.EXTRA_KEY_LEN[1], description="the order_extra key")),
        Key("name", string(description="the label")),
        Key("type", string(enum=sorted(model.FIELD_TYPES))),
        Key("required", {"type": "boolean"}),
        Key(
            "options",
            {
                "type": "array",
                "items": string(),
                "description": "for select, radio and checkbox: distinct, non-empty",
            },
        ),
    ),
)

ATTACHMENT = Entity(
    "Attachment",
    (
        Key("id", integer()),
        Key("file_name", string(0, model.FILE_NAME_MAX, description="the client's, no directory")),
        Key("file_location", string(description="uploads/<name>")),
        Key("file_size", integer(minimum=1, description="bytes stored")),
        Key("file_md5", string(32, 32, description="hex md5 of the bytes stored")),
        Key("width", integer(minimum=0, description="0 for a PDF")),
        Key("height", integer(minimum=0, description="0 for a PDF")),
        Key("is_image", integer(enum=[0, 1])),
        Key("logo", string(description="the file's URL path, /uploads/<name>")),
        Key(
            "thumb",
            string(
                description='/uploads/thumb/<name>, at most 320 px on its long side; "" for a PDF'
            ),
        ),
        Key("created_time", TIME),
        Key("updated_time", TIME),
    ),
)

WEBHOOK = Entity(
    "Webhook",
    (
        Key("id", integer()),
        Key("url", string()),
        Key("events", {"type": "array", "items": string(enum=[*model.EVENT_TYPES, "*"])}),
        Key("description", string()),
        Key("enabled", {"type": "boolean"}),
        Key("created_time", TIME),
    ),
)
WEBHOOK_SECRET = Key(
    "secret",
    string(
        description="whsec_ + base64 of 24 random bytes: the Standard Webhooks signing key, "
        "shown only in this answer"
    ),
)

DELIVERY = Entity(
    "Delivery",
    (
        Key("id", integer()),
        Key("event_id", integer()),
        Key("event_type", string(enum=list(model.EVENT_TYPES))),
        Key("attempts", integer(minimum=0)),
        Key("status", string(enum=["pending", "delivered", "failed"])),
        Key("http_status", integer(description="of the last attempt; 0: no HTTP answer (yet)")),
        Key("error", string(description='why the last attempt failed; "" if it did not')),
        Key("created_time", TIME),
        Key(
            "next_attempt_time",
            integer(description="when a pending delivery is tried next"),
            stored=False,
        ),
    ),
)

SAVED_REPLY = Entity(
    "SavedReply",
    (
        Key("id", integer()),
        Key("title", string(*model.REPLY_TITLE_LEN)),
        Key("content", string(*model.REPLY_CONTENT_LEN)),
        Key("created_time", TIME),
        Key("updated_time", TIME),
    ),
)

# A purchase order: the shop's order to be paid, made when a quote is accepted.
PURCHASE_ORDER = Entity(
    "PurchaseOrder",
    (
        Key("id", integer()),
        Key(
            "order_id",
            string(
                18,
                18,
                description="the creation time as YYYYMMDDhhmmss (UTC), then the last 4 digits "
                "of id",
            ),
        ),
        Key("comm_order_id", integer(description="the communication order it was made from")),
        Key("user_id", integer(description="the customer")),
        Key("amount", integer(minimum=1, description="the accepted quote price, in cents")),
        Key("status", PURCHASE_STATUS_SCHEMA),
        Key("pay_way", string(description='how it was paid; "" until paid')),
        Key("payment_reference", string(0, model.PAYMENT_REFERENCE_MAX)),
        Key("remark", string(description="the customer's remark on accept")),
        Key("refund_reason", string(0, model.NOTE_MAX)),
        Key("express_company", string(0, model.EXPRESS_COMPANY_MAX)),
        Key("tracking_number", string(0, model.TRACKING_NUMBER_MAX)),
        Key("created_time", TIME),
        Key("updated_time", TIME),
        Key("paid_time", integer(minimum=0, description="0 until paid")),
        Key("deliver_time", integer(minimum=0, description="0 until delivered")),
        Key("finished_time", integer(minimum=0, description="0 until completed")),
    ),
)
SESSION_RECORD = Entity(
    "SessionRecord",
    (
        Key("created_time", TIME),
        Key("last_used_time", integer(description="its last use, Unix seconds, to the minute")),
        Key("expire", integer(description="Unix seconds")),
    ),
)

# An API key for other systems, as listed (never the key itself).
API_KEY = Entity(
    "ApiKey",
    (
        Key("id", integer()),
        Key("name", string(*model.API_KEY_NAME_LEN)),
        Key("role", string(enum=list(model.API_KEY_ROLES), description="what the key may do")),
        Key("user_id", integer(description="the admin who made it: it acts as them")),
        Key("created_time", TIME),
        Key("last_used_time", integer(minimum=0, description="to the minute; 0: never")),
    ),
)
API_KEY_SECRET = Key(
    "key",
    string(
        description="odk_ + 256 random bits, URL-safe: send it as the Token header or as "
        "Authorization: Bearer; shown only in this answer"
    ),
)

ENTITIES = (
    ORDER,
    LAST_MESSAGE,
    ORDER_VIEW,
    INBOX_ORDER,
    MESSAGE,
    USER,
    USER_ACCOUNT,
    FIELD_DEFINITION,
    ATTACHMENT,
    WEBHOOK,
    DELIVERY,
    PURCHASE_ORDER,
    SESSION_RECORD,
    SAVED_REPLY,
    API_KEY,
)
