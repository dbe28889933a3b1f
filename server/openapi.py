"""The OpenAPI description of every /api/ route, kept beside the route table.

`OPERATIONS` has one entry per (method, path) of `routes.ROUTES`; a test fails when
either side has one the other lacks. Schemas use only what OpenAPI 3.0 and 3.1
share, so the same document serves as 3.1 (/api/openapi.json) and, for the bundled
Swagger UI 4 that reads 3.0 only, as 3.0.3 (/docs/openapi.json).
"""

from dataclasses import dataclass, field
from typing import Any

from . import __version__, model
from .model import Status

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def string(low: int = 0, high: int | None = None, **extra: Any) -> Schema:
    schema: Schema = {"type": "string", **extra}
    if low:
        schema["minLength"] = low
    if high is not None:
        schema["maxLength"] = high
    return schema


def integer(**extra: Any) -> Schema:
    return {"type": "integer", **extra}


def obj(properties: dict[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


ID = {
    "description": "a positive integer, as a JSON integer or a string of ASCII digits",
    "oneOf": [
        integer(minimum=1, maximum=model.MAX_ID),
        string(1, 19, pattern="^[0-9]+$"),
    ],
}
# The pattern is the shape; the description states the whole rule (validate.is_image_url).
IMAGE_URL = string(
    1,
    model.IMAGE_URL_MAX,
    pattern=r'^(?:[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#<>"\\^`{|}]+(?:[/?#][^\s<>"\\^`{|}]*)?'
    r"|/uploads/(?:thumb/)?[A-Za-z0-9_-]+\.[A-Za-z0-9]{1,10})$",
    description="an absolute http:// or https:// URL with a host (any letter case in the "
    "scheme; a port, if any, 0-65535), or the path of an upload of this server: /uploads/ "
    "or /uploads/thumb/, then a name of letters, digits, '_' and '-', a dot and an "
    "extension of 1-10 letters or digits. Trimmed first; no whitespace, control or format "
    'character and none of < > " \\ ^ ` { | } anywhere. Anything else (javascript:, '
    "data:, //host/x, relative paths, other schemes) is refused, naming the field.",
)
URLS = {
    "type": "array",
    "maxItems": model.IMAGES_MAX,
    "items": IMAGE_URL,
}
STATUS = integer(
    enum=[int(s) for s in Status],
    description="0 pending, 1 in communication, 2 quoted, 3 accepted, 4 rejected, -1 cancelled",
)
NOTE = string(0, model.NOTE_MAX)
EXTRA = {
    "type": "object",
    "maxProperties": model.EXTRA_MAX_KEYS,
    "description": "merged as an RFC 7396 JSON Merge Patch: null removes a key; at most "
    f"{model.EXTRA_MAX_KEYS} keys, keys of 1-64 characters, nesting at most "
    f"{model.EXTRA_MAX_DEPTH} levels, {model.EXTRA_MAX_BYTES} bytes as compact JSON",
}

COMPONENTS: dict[str, Schema] = {
    "User": obj(
        {
            "id": integer(),
            "user_name": string(),
            "email": string(),
            "phone": string(),
            "role": string(enum=["user", "admin"]),
            "created_time": integer(),
        },
        ("id", "user_name", "email", "phone", "role", "created_time"),
    ),
    "Session": {
        "allOf": [
            ref("User"),
            obj({"token": string(), "expire": integer()}, ("token", "expire")),
        ]
    },
    "Order": obj(
        {
            "id": integer(),
            "user_id": integer(),
            "order_id": integer(),
            "archive_id": integer(),
            "title": string(),
            "content": string(),
            "phone": string(),
            "images": {"type": "array", "items": string()},
            "sketch_images": {"type": "array", "items": string()},
            "finished_images": {"type": "array", "items": string()},
            "event_date": string(),
            "status": STATUS,
            "admin_id": integer(),
            "quote_price": string(description='"12000.00", or "" before any quote'),
            "quote_content": string(),
            "order_extra": {"type": "object"},
            "created_time": integer(),
            "updated_time": integer(),
            "version": integer(minimum=1),
        },
        (
            "id",
            "user_id",
            "order_id",
            "archive_id",
            "title",
            "content",
            "phone",
            "images",
            "sketch_images",
            "finished_images",
            "event_date",
            "status",
            "admin_id",
            "quote_price",
            "quote_content",
            "order_extra",
            "created_time",
            "updated_time",
            "version",
        ),
    ),  # fmt: skip
    "Message": obj(
        {
            "id": integer(),
            "comm_order_id": integer(),
            "sender_id": integer(),
            "sender_type": string(enum=["user", "admin", "system"]),
            "sender_name": string(),
            "message_type": string(enum=sorted(model.MESSAGE_TYPES)),
            "content": string(),
            "created_time": integer(),
        },
        (
            "id",
            "comm_order_id",
            "sender_id",
            "sender_type",
            "sender_name",
            "message_type",
            "content",
            "created_time",
        ),
    ),  # fmt: skip
    "FieldDefinition": obj(
        {
            "field_name": string(1, 64),
            "name": string(),
            "type": string(enum=sorted(model.FIELD_TYPES)),
            "required": {"type": "boolean"},
            "options": {"type": "array", "items": string()},
        },
        ("field_name", "type"),
    ),
}
COMPONENTS["OrderDetail"] = {
    "allOf": [
        ref("Order"),
        obj(
            {
                "order_fields": {
                    "type": "array",
                    "items": {
                        "allOf": [
                            ref("FieldDefinition"),
                            obj({"value": {"description": "the order's value; null if unset"}}),
                        ]
                    },
                },
                "user": obj({"id": integer(), "user_name": string()}, ("id", "user_name")),
                "messages": {"type": "array", "items": ref("Message")},
                "messages_total": integer(),
            },
            ("order_fields", "user", "messages", "messages_total"),
        ),
    ]
}

FAILURE = obj(
    {
        "code": integer(
            enum=[-1, 1001, 1002],
            description="-1 error (reason in msg), 1001 not logged in, 1002 not allowed",
        ),
        "msg": string(),
        "data": {
            "description": 'on a version conflict: {"version": <current>}; on an accept '
            'whose quote_price is not the current one: {"quote_price": "<current>"}'
        },
    },
    ("code", "msg"),
)


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    body: Schema | None = None
    query: dict[str, tuple[Schema, bool]] = field(default_factory=dict)
    data: Schema | None = None  # what `data` holds on success; None: no data
    paginated: bool = False
    public: bool = False

    def describe(self) -> dict[str, Any]:
        success = obj(
            {"code": integer(enum=[0]), "msg": string()}
            | ({"data": self.data} if self.data else {})
            | ({"total": integer(minimum=0)} if self.paginated else {}),
            ("code", "msg")
            + (("data",) if self.data else ())
            + (("total",) if self.paginated else ()),
        )
        described: dict[str, Any] = {
            "summary": self.summary,
            "tags": [self.tag],
            "responses": {
                "200": {
                    "description": "Always HTTP 200: the envelope's `code` says how it went.",
                    "content": {"application/json": {"schema": {"oneOf": [success, FAILURE]}}},
                }
            },
            "security": [] if self.public else [{"TokenHeader": []}, {"TokenCookie": []}],
        }
        if self.body is not None:
            described["requestBody"] = {
                "required": False,
                "content": {"application/json": {"schema": self.body}},
            }
        if self.query:
            described["parameters"] = [
                {"name": name, "in": "query", "required": required, "schema": schema}
                for name, (schema, required) in self.query.items()
            ]
        return described


PAGE = {
    "current": (integer(minimum=1, description="page, default 1"), False),
    "page_size": (integer(minimum=1, description="default 10, capped at 100"), False),
}
STATUS_FILTER = {"status": (STATUS, False)}
ORDER_ID = {"id": (integer(minimum=1, maximum=model.MAX_ID), True)}
THREAD = {"comm_order_id": (integer(minimum=1, maximum=model.MAX_ID), True)} | PAGE
ORDER_DATA = ref("Order")
ORDERS = {"type": "array", "items": ref("Order")}
MESSAGE_BODY = obj(
    {
        "comm_order_id": ID,
        "message_type": string(enum=sorted(model.MESSAGE_TYPES)),
        "content": string(*model.MESSAGE_LEN),
        "sender_id": {"description": "accepted and ignored: the sender is the session's user"},
        "sender_name": {"description": "accepted and ignored"},
    },
    ("comm_order_id", "message_type", "content"),
)
REASON_BODY = obj({"id": ID, "reason": NOTE}, ("id",))
PRICE = {
    "description": "> 0, at most 999999999.99, at most 2 decimals",
    "oneOf": [
        string(1, 13, pattern="^[0-9]+(\\.[0-9]{1,2})?$"),
        {"type": "number", "minimum": 0.01, "maximum": 999999999.99},
    ],
}
# Spec 4.5: the customer accepts exactly the quote they saw.
ACCEPT_BODY = obj(
    {
        "id": ID,
        "remark": NOTE,
        "version": ID
        | {
            "description": "if sent and not the order's version: -1, data "
            '{"version": <current>}, nothing changes'
        },
        "quote_price": PRICE
        | {
            "description": "the price seen, as in the quote; if sent and not the stored "
            'price: -1, data {"quote_price": "<current>"}, nothing changes'
        },
    },
    ("id",),
)
ORDER_FIELDS = {
    "title": string(*model.TITLE_LEN),
    "content": string(*model.CONTENT_LEN),
    "phone": string(*model.PHONE_LEN, pattern="^[0-9 +()-]+$"),
    "images": URLS,
    "event_date": string(0, model.EVENT_DATE_MAX),
    "order_extra": EXTRA,
}
CUSTOMER, MERCHANT, ACCOUNT = "customer", "merchant", "account"

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("POST", "/api/register"): Operation(
        "Create an account and log in",
        ACCOUNT,
        body=obj(
            {
                "user_name": string(*model.USER_NAME_LEN),
                "password": string(*model.PASSWORD_LEN),
                "email": string(0, model.EMAIL_MAX),
                "phone": string(0, model.PHONE_LEN[1]),
            },
            ("user_name", "password"),
        ),
        data=ref("Session"),
        public=True,
    ),
    ("POST", "/api/login"): Operation(
        "Log in with a user name, email or phone",
        ACCOUNT,
        body=obj(
            {
                "user_name": string(
                    1, model.EMAIL_MAX, description="the user name, email or phone"
                ),
                "email": string(1, model.EMAIL_MAX, description="used when user_name is not sent"),
                "phone": string(
                    1, model.EMAIL_MAX, description="used when neither user_name nor email is sent"
                ),
                "password": string(1, model.PASSWORD_LEN[1]),
                "remember": {
                    "type": "boolean",
                    "description": "a session of --remember-ttl seconds instead of --session-ttl",
                },
            },
            ("password",),
        ),
        data=ref("Session"),
        public=True,
    ),
    ("POST", "/api/logout"): Operation(
        "Revoke the session, or with all every session of the user",
        ACCOUNT,
        body=obj({"all": {"type": "boolean", "description": "every session of the user"}}),
        public=True,
    ),
    ("GET", "/api/user/detail"): Operation("The current user", ACCOUNT, data=ref("User")),
    ("POST", "/api/user/password"): Operation(
        "Change the password; every other session of the user is revoked",
        ACCOUNT,
        body=obj(
            {
                "old_password": string(1, model.PASSWORD_LEN[1]),
                "password": string(*model.PASSWORD_LEN),
            },
            ("old_password", "password"),
        ),
    ),
    ("POST", "/api/communication/order/create"): Operation(
        "Ask for custom work",
        CUSTOMER,
        body=obj({"archive_id": ID, **ORDER_FIELDS}, ("archive_id", "title", "content", "phone")),
        data=ORDER_DATA,
    ),
    ("GET", "/api/communication/orders"): Operation(
        "The caller's orders, newest first",
        CUSTOMER,
        query=PAGE | STATUS_FILTER,
        data=ORDERS,
        paginated=True,
    ),
    ("GET", "/api/communication/order/detail"): Operation(
        "One of the caller's orders, with its last 100 messages and its fields",
        CUSTOMER,
        query=ORDER_ID,
        data=ref("OrderDetail"),
    ),
    ("POST", "/api/communication/order/update"): Operation(
        "Change an order (the seed endpoint): only the fields sent; order_extra merged",
        CUSTOMER,
        body=obj({"id": ID, **ORDER_FIELDS, "version": ID}, ("id",)),
        data=ORDER_DATA,
    ),
    ("POST", "/api/communication/order/accept"): Operation(
        "Accept the quote (status 2 to 3); creates the purchase order",
        CUSTOMER,
        body=ACCEPT_BODY,
        data=ORDER_DATA,
    ),
    ("POST", "/api/communication/order/reject"): Operation(
        "Reject the quote (status 2 to 4)", CUSTOMER, body=REASON_BODY, data=ORDER_DATA
    ),
    ("POST", "/api/communication/order/cancel"): Operation(
        "Cancel the order (from 0, 1, 2 or 4)", CUSTOMER, body=REASON_BODY, data=ORDER_DATA
    ),
    ("GET", "/api/communication/messages"): Operation(
        "An order's thread, oldest first",
        CUSTOMER,
        query=THREAD,
        data={"type": "array", "items": ref("Message")},
        paginated=True,
    ),
    ("POST", "/api/communication/message/send"): Operation(
        "Write in an order's thread", CUSTOMER, body=MESSAGE_BODY, data=ref("Message")
    ),
    ("GET", "/api/communication/fields"): Operation(
        "The order field definitions (for forms)",
        CUSTOMER,
        data={"type": "array", "items": ref("FieldDefinition")},
        public=True,
    ),
    ("GET", "/api/admin/communication/orders"): Operation(
        "Every order, newest first",
        MERCHANT,
        query=PAGE
        | STATUS_FILTER
        | {
            "user_id": (integer(minimum=1, maximum=model.MAX_ID), False),
            "q": (string(description="searched in title and content"), False),
        },
        data=ORDERS,
        paginated=True,
    ),
    ("GET", "/api/admin/communication/order/detail"): Operation(
        "Any order, as the customer's detail", MERCHANT, query=ORDER_ID, data=ref("OrderDetail")
    ),
    ("GET", "/api/admin/communication/messages"): Operation(
        "Any order's thread",
        MERCHANT,
        query=THREAD,
        data={"type": "array", "items": ref("Message")},
        paginated=True,
    ),
    ("POST", "/api/admin/communication/order/quote"): Operation(
        "Quote (from 0, 1, 2 or 4 to 2)",
        MERCHANT,
        body=obj(
            {
                "id": ID,
                "quote_price": PRICE,
                "quote_content": string(*model.QUOTE_CONTENT_LEN),
            },
            ("id", "quote_price", "quote_content"),
        ),
        data=ORDER_DATA,
    ),
    ("POST", "/api/admin/communication/order/status"): Operation(
        "Set the status to 1 (in communication) or -1 (cancelled)",
        MERCHANT,
        body=obj({"id": ID, "status": integer(enum=[1, -1])}, ("id", "status")),
        data=ORDER_DATA,
    ),
    ("POST", "/api/admin/communication/order/images"): Operation(
        "Set the sketch and finished images",
        MERCHANT,
        body=obj({"id": ID, "sketch_images": URLS, "finished_images": URLS}, ("id",)),
        data=ORDER_DATA,
    ),
    ("POST", "/api/admin/communication/message/send"): Operation(
        "Reply in any order's thread; a pending order moves to 1",
        MERCHANT,
        body=MESSAGE_BODY,
        data=ref("Message"),
    ),
    ("GET", "/api/admin/communication/fields"): Operation(
        "The order field definitions",
        MERCHANT,
        data={"type": "array", "items": ref("FieldDefinition")},
    ),
    ("POST", "/api/admin/communication/fields"): Operation(
        "Replace the order field definitions",
        MERCHANT,
        body=obj({"fields": {"type": "array", "items": ref("FieldDefinition")}}, ("fields",)),
        data={"type": "array", "items": ref("FieldDefinition")},
    ),
    ("GET", "/api/openapi.json"): Operation(
        "This description (the document itself, not an envelope)", ACCOUNT, public=True
    ),
}

# ---------------------------------------------------------------- live events (spec 8)

EVENTS_PATH = "/api/events"
OPERATIONS[("GET", EVENTS_PATH)] = Operation(
    "Live events of the caller's orders (every order for an admin), as text/event-stream",
    CUSTOMER,
    query={
        "comm_order_id": (
            integer(minimum=1, maximum=model.MAX_ID, description="only this order's events"),
            False,
        )
    },
)
EVENT_STREAM = {
    "schema": {"type": "string"},
    "example": 'retry: 2000\n\nid: 42\nevent: message.created\ndata: {"id": 7, '
    '"comm_order_id": 3, "sender_type": "admin", "content": "Hello", ...}\n\n: ping\n\n',
}
EVENTS_DESCRIPTION = (
    "An open stream (`curl -N`, or a browser's EventSource). Each event is `id: <event "
    "id>` (increasing), `event: <type>`, `data: <JSON>`: `order.created` and "
    "`order.updated` carry the order as the order endpoints answer it, `message.created` "
    "the stored message. Send `Last-Event-ID: N` to first receive the caller's kept events "
    "after N (kept at least 24 hours), then live ones, none missing or repeated. A `: ping` "
    "comment comes at least every 15 s. At most 10 open streams per user: another closes "
    "the oldest. Without a session, or for an order the caller may not see, the answer is "
    'the JSON envelope (1001, or -1 "order not found").'
)
EVENTS_HEADER = {
    "name": "Last-Event-ID",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
    "description": "resume after this event id",
}


def document(version: str = "3.1.0") -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), operation in OPERATIONS.items():
        described = operation.describe()
        if path == "/api/openapi.json":
            described["responses"] = {
                "200": {
                    "description": "The OpenAPI description",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            }
        if path == EVENTS_PATH:
            described["description"] = EVENTS_DESCRIPTION
            described["parameters"].append(EVENTS_HEADER)
            described["responses"]["200"]["content"]["text/event-stream"] = EVENT_STREAM
        paths.setdefault(path, {})[method.lower()] = described
    return {
        "openapi": version,
        "info": {
            "title": "orderdesk",
            "version": __version__,
            "description": "Communication custom orders, AnqiCMS-compatible. Every /api/ "
            "answer is HTTP 200 with {code, msg, data?, total?}; `msg` follows "
            "Accept-Language (English, or Simplified Chinese for zh).",
        },
        "paths": paths,
        "components": {
            "schemas": COMPONENTS,
            "securitySchemes": {
                "TokenHeader": {"type": "apiKey", "in": "header", "name": "Token"},
                "TokenCookie": {"type": "apiKey", "in": "cookie", "name": "token"},
            },
        },
    }
