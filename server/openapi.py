"""The OpenAPI description of every /api/ route, kept beside the route table.

`OPERATIONS` has one entry per (method, path) of `routes.ROUTES`; a test fails when
either side has one the other lacks. Schemas use only what OpenAPI 3.0 and 3.1
share, so the same document serves as 3.1 (/api/openapi.json) and, for the bundled
Swagger UI 4 that reads 3.0 only, as 3.0.3 (/docs/openapi.json).
"""

from dataclasses import dataclass
from typing import Any

from . import __version__, model
from . import validate as V
from .declare import Form, Schema, integer, obj, string


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


COMPONENTS: dict[str, Schema] = {
    "User": obj(
        {
            "id": integer(),
            "user_name": string(),
            "email": string(),
            "phone": string(),
            "role": string(enum=["user", "admin"]),
            "created_time": integer(),
            "notify_email": {"type": "boolean", "description": "mail about my orders (spec 9)"},
        },
        ("id", "user_name", "email", "phone", "role", "created_time", "notify_email"),
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
            "thumb": string(
                description="the thumbnail URL of the first image when it is an upload of "
                'this server ("" for an uploaded PDF), else the first image, else ""'
            ),
            "event_date": string(),
            "status": V.STATUS_SCHEMA,
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
            "thumb",
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
    "FieldDefinition": V.DEFINITION_SCHEMA,
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
    body: Form | None = None  # declared in validate.py, as the handler reads it
    query: Form | None = None
    data: Schema | None = None  # what `data` holds on success; None: no data
    paginated: bool = False
    public: bool = False
    # A multipart/form-data body, which its handler streams and checks itself (uploads).
    multipart: Schema | None = None

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
        content = None
        if self.body is not None:
            content = {"application/json": {"schema": self.body.schema()}}
        elif self.multipart is not None:
            content = {"multipart/form-data": {"schema": self.multipart}}
        if content is not None:
            described["requestBody"] = {"required": False, "content": content}
        if self.query:
            described["parameters"] = self.query.parameters()
        return described


ORDER_DATA = ref("Order")
ORDERS = {"type": "array", "items": ref("Order")}
CUSTOMER, MERCHANT, ACCOUNT = "customer", "merchant", "account"

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("POST", "/api/register"): Operation(
        "Create an account and log in",
        ACCOUNT,
        body=V.REGISTER,
        data=ref("Session"),
        public=True,
    ),
    ("POST", "/api/login"): Operation(
        "Log in with a user name, email or phone",
        ACCOUNT,
        body=V.LOGIN,
        data=ref("Session"),
        public=True,
    ),
    ("POST", "/api/logout"): Operation(
        "Revoke the session, or with all every session of the user",
        ACCOUNT,
        body=V.LOGOUT,
        public=True,
    ),
    ("GET", "/api/user/detail"): Operation("The current user", ACCOUNT, data=ref("User")),
    ("POST", "/api/user/password"): Operation(
        "Change the password; every other session of the user is revoked",
        ACCOUNT,
        body=V.PASSWORD_CHANGE,
    ),
    ("POST", "/api/communication/order/create"): Operation(
        "Ask for custom work",
        CUSTOMER,
        body=V.CREATE_ORDER,
        data=ORDER_DATA,
    ),
    ("GET", "/api/communication/orders"): Operation(
        "The caller's orders, newest first",
        CUSTOMER,
        query=V.ORDER_LIST_QUERY,
        data=ORDERS,
        paginated=True,
    ),
    ("GET", "/api/communication/order/detail"): Operation(
        "One of the caller's orders, with its last 100 messages and its fields",
        CUSTOMER,
        query=V.QUERY_ORDER_ID,
        data=ref("OrderDetail"),
    ),
    ("POST", "/api/communication/order/update"): Operation(
        "Change an order (the seed endpoint): only the fields sent; order_extra merged",
        CUSTOMER,
        body=V.UPDATE_ORDER,
        data=ORDER_DATA,
    ),
    ("POST", "/api/communication/order/accept"): Operation(
        "Accept the quote (status 2 to 3); creates the purchase order",
        CUSTOMER,
        body=V.ACCEPT,
        data=ORDER_DATA,
    ),
    ("POST", "/api/communication/order/reject"): Operation(
        "Reject the quote (status 2 to 4)", CUSTOMER, body=V.REJECT, data=ORDER_DATA
    ),
    ("POST", "/api/communication/order/cancel"): Operation(
        "Cancel the order (from 0, 1, 2 or 4)", CUSTOMER, body=V.CANCEL, data=ORDER_DATA
    ),
    ("GET", "/api/communication/messages"): Operation(
        "An order's thread, oldest first",
        CUSTOMER,
        query=V.THREAD_QUERY,
        data={"type": "array", "items": ref("Message")},
        paginated=True,
    ),
    ("POST", "/api/communication/message/send"): Operation(
        "Write in an order's thread", CUSTOMER, body=V.SEND_MESSAGE, data=ref("Message")
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
        query=V.ADMIN_ORDER_LIST_QUERY,
        data=ORDERS,
        paginated=True,
    ),
    ("GET", "/api/admin/communication/order/detail"): Operation(
        "Any order, as the customer's detail",
        MERCHANT,
        query=V.QUERY_ORDER_ID,
        data=ref("OrderDetail"),
    ),
    ("GET", "/api/admin/communication/messages"): Operation(
        "Any order's thread",
        MERCHANT,
        query=V.THREAD_QUERY,
        data={"type": "array", "items": ref("Message")},
        paginated=True,
    ),
    ("POST", "/api/admin/communication/order/quote"): Operation(
        "Quote (from 0, 1, 2 or 4 to 2)",
        MERCHANT,
        body=V.QUOTE,
        data=ORDER_DATA,
    ),
    ("POST", "/api/admin/communication/order/status"): Operation(
        "Set the status to 1 (in communication) or -1 (cancelled)",
        MERCHANT,
        body=V.SET_STATUS,
        data=ORDER_DATA,
    ),
    ("POST", "/api/admin/communication/order/images"): Operation(
        "Set the sketch and finished images",
        MERCHANT,
        body=V.SET_IMAGES,
        data=ORDER_DATA,
    ),
    ("POST", "/api/admin/communication/message/send"): Operation(
        "Reply in any order's thread; a pending order moves to 1",
        MERCHANT,
        body=V.SEND_MESSAGE,
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
        body=V.REPLACE_FIELDS,
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
    query=V.EVENTS_QUERY,
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


# ---------------------------------------------------------------- attachments (spec 7)

COMPONENTS["Attachment"] = obj(
    {
        "id": integer(),
        "file_name": string(0, model.FILE_NAME_MAX, description="the client's, no directory"),
        "file_location": string(description="uploads/<name>"),
        "file_size": integer(minimum=1, description="bytes stored"),
        "file_md5": string(32, 32, description="hex md5 of the bytes stored"),
        "width": integer(minimum=0, description="0 for a PDF"),
        "height": integer(minimum=0, description="0 for a PDF"),
        "is_image": integer(enum=[0, 1]),
        "logo": string(description="the file's URL path, /uploads/<name>"),
        "thumb": string(
            description='/uploads/thumb/<name>, at most 320 px on its long side; "" for a PDF'
        ),
        "created_time": integer(),
        "updated_time": integer(),
    },
    ("id", "file_name", "file_location", "file_size", "file_md5", "width", "height",
     "is_image", "logo", "thumb", "created_time", "updated_time"),
)  # fmt: skip
OPERATIONS[("POST", "/api/attachment/upload")] = Operation(
    "Upload an image (JPEG, PNG, GIF, WebP) or a PDF",
    ACCOUNT,
    multipart=obj(
        {
            "file": string(
                format="binary",
                description="the file, at most --max-upload-mb MiB (default 10), in a body of "
                "at most 8 parts that ends with its closing boundary. Images are recognized "
                "by decoding them (at most 40 megapixels, 1 s of CPU time and 256 MiB of "
                "memory; a JPEG of at most 100 scans) and stored without their metadata "
                "(EXIF, GPS, XMP, comments, text), turned as their EXIF orientation said; a "
                "PDF (starting %PDF-) is stored as sent. Anything else, an empty file or no "
                "file part is refused, as is an upload that would take the user's files "
                "and thumbnails past --upload-quota-mb (default 200).",
            )
        },
        ("file",),
    ),
    data=ref("Attachment"),
)
OPERATIONS[("POST", "/api/attachment/delete")] = Operation(
    "Delete one of my uploads: its file and thumbnail answer 404 from then on and leave "
    "my quota; orders and messages naming it keep their text (another user's upload or "
    'an unknown id: "attachment not found")',
    ACCOUNT,
    body=V.ATTACHMENT_ID,
)


# ---------------------------------------------------------------- webhooks and mail (spec 9)

COMPONENTS["Webhook"] = obj(
    {
        "id": integer(),
        "url": string(),
        "events": {"type": "array", "items": string(enum=[*V.WEBHOOK_EVENT_TYPES, "*"])},
        "description": string(),
        "enabled": {"type": "boolean"},
        "created_time": integer(),
    },
    ("id", "url", "events", "description", "enabled", "created_time"),
)
WEBHOOK_WITH_SECRET = {
    "allOf": [
        ref("Webhook"),
        obj(
            {
                "secret": string(
                    description="whsec_ + base64 of 24 random bytes: the Standard Webhooks "
                    "signing key, shown only in this answer"
                )
            },
            ("secret",),
        ),
    ]
}
COMPONENTS["Delivery"] = obj(
    {
        "id": integer(),
        "event_id": integer(),
        "event_type": string(enum=list(V.WEBHOOK_EVENT_TYPES)),
        "attempts": integer(minimum=0),
        "status": string(enum=["pending", "delivered", "failed"]),
        "http_status": integer(description="of the last attempt; 0: no HTTP answer (yet)"),
        "error": string(description='why the last attempt failed; "" if it did not'),
        "created_time": integer(),
        "next_attempt_time": integer(description="when a pending delivery is tried next"),
    },
    ("id", "event_id", "event_type", "attempts", "status", "http_status", "error",
     "created_time", "next_attempt_time"),
)  # fmt: skip
WEBHOOKS = "webhooks"
OPERATIONS |= {
    ("GET", "/api/admin/webhooks"): Operation(
        "Every webhook (never its secret)",
        WEBHOOKS,
        data={"type": "array", "items": ref("Webhook")},
    ),
    ("POST", "/api/admin/webhooks"): Operation(
        "Add a webhook: each matching event is POSTed to it, signed as Standard Webhooks 1.0",
        WEBHOOKS,
        body=V.CREATE_WEBHOOK,
        data=WEBHOOK_WITH_SECRET,
    ),
    ("POST", "/api/admin/webhooks/update"): Operation(
        "Change a webhook's url, events, description or enabled", WEBHOOKS,
        body=V.UPDATE_WEBHOOK, data=ref("Webhook"),
    ),
    ("POST", "/api/admin/webhooks/delete"): Operation(
        "Delete a webhook and its deliveries", WEBHOOKS, body=V.WEBHOOK_ID
    ),
    ("POST", "/api/admin/webhooks/rotate"): Operation(
        "Give a webhook a new secret (the old one stops at once)", WEBHOOKS,
        body=V.WEBHOOK_ID, data=WEBHOOK_WITH_SECRET,
    ),
    ("GET", "/api/admin/webhooks/deliveries"): Operation(
        "A webhook's deliveries, newest first", WEBHOOKS,
        query=V.DELIVERIES_QUERY, data={"type": "array", "items": ref("Delivery")},
        paginated=True,
    ),
    ("POST", "/api/admin/webhooks/redeliver"): Operation(
        "Send a delivery again (same webhook-id), due now", WEBHOOKS,
        body=V.REDELIVER, data=ref("Delivery"),
    ),
    ("POST", "/api/user/notifications"): Operation(
        "Turn mail about my orders on or off", ACCOUNT, body=V.NOTIFICATIONS, data=ref("User")
    ),
}  # fmt: skip


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
