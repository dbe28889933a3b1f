"""The OpenAPI description of every /api/ route, kept beside the route table.

`OPERATIONS` has one entry per (method, path) of `routes.ROUTES`; a test fails when
either side has one the other lacks. Requests are described from the forms that check
them (validate/), answers from the entities (entities.py), closed: an answer holding a
key its schema does not declare is refused by the tests, which check every answer
they get against this document. Each operation carries one valid example request;
the tests' per-path tables read it. Schemas use only what OpenAPI 3.0 and 3.1 share,
so the same document serves as 3.1 (/api/openapi.json) and, for the bundled Swagger
UI 4 that reads 3.0 only, as 3.0.3 (/docs/openapi.json).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import __version__, model
from .entities import (
    API_KEY,
    API_KEY_SECRET,
    ATTACHMENT,
    DELIVERY,
    ENTITIES,
    FIELD_DEFINITION,
    INBOX_ORDER,
    MESSAGE,
    ORDER,
    ORDER_VIEW,
    PURCHASE_ORDER,
    SAVED_REPLY,
    SESSION_KEYS,
    SESSION_RECORD,
    USER,
    USER_ACCOUNT,
    WEBHOOK,
    WEBHOOK_SECRET,
    Key,
)
from .validate import accounts, api_keys, desk, fields, orders, purchases, webhooks
from .validate import attachments as attachment_forms
from .validate.declare import Form, Schema, integer, string
from .workflow import MOVES, PURCHASE_MOVES, STATUS_ENDPOINT_MOVES, Move, PurchaseMove, described


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def closed(properties: dict[str, Schema], required: tuple[str, ...]) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


COMPONENTS: dict[str, Schema] = {entity.name: entity.schema() for entity in ENTITIES}
COMPONENTS["FieldDefinitionInput"] = fields.DEFINITION_SCHEMA
COMPONENTS["Session"] = USER.schema(*SESSION_KEYS)
COMPONENTS["WebhookWithSecret"] = WEBHOOK.schema(WEBHOOK_SECRET)
COMPONENTS["ApiKeyWithKey"] = API_KEY.schema(API_KEY_SECRET)
COMPONENTS["OrderWithThread"] = ORDER.schema(Key("messages", array(ref(MESSAGE.name))))
COMPONENTS["PersonalData"] = closed(
    {
        "user": ref(USER.name),
        "sessions": array(ref(SESSION_RECORD.name)),
        "orders": array(ref("OrderWithThread")),
        "purchase_orders": array(ref(PURCHASE_ORDER.name)),
        "attachments": array(ref(ATTACHMENT.name)),
    },
    ("user", "sessions", "orders", "purchase_orders", "attachments"),
)
COMPONENTS["OrderDetail"] = ORDER_VIEW.schema(
    Key(
        "order_fields",
        array(
            FIELD_DEFINITION.schema(
                Key("value", {"description": "the order's value; null if unset"})
            )
        ),
    ),
    Key("user", closed({"id": integer(), "user_name": string()}, ("id", "user_name"))),
    Key("messages", array(ref(MESSAGE.name))),
    Key("messages_total", integer(minimum=0)),
)

FAILURE = closed(
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
    body: Form[Any] | None = None  # the form its handler reads
    query: Form[Any] | None = None
    data: Schema | None = None  # what `data` holds on success; None: no data
    paginated: bool = False
    public: bool = False
    # A multipart/form-data body, which its handler streams and checks itself (uploads).
    multipart: Schema | None = None
    # One valid request: the body or the query. IDs in it are 1 (tests put real ones).
    example: dict[str, Any] | None = None

    def success(self) -> Schema:
        properties: dict[str, Schema] = {"code": integer(enum=[0]), "msg": string()}
        if self.data:
            properties["data"] = self.data
        if self.paginated:
            properties["total"] = integer(minimum=0)
        return closed(properties, tuple(properties))

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "summary": self.summary,
            "tags": [self.tag],
            "responses": {
                "200": {
                    "description": "Always HTTP 200: the envelope's `code` says how it went.",
                    "content": {
                        "application/json": {"schema": {"oneOf": [self.success(), FAILURE]}}
                    },
                }
            },
            "security": []
            if self.public
            else [{"TokenHeader": []}, {"Bearer": []}, {"TokenCookie": []}],
        }
        content = None
        if self.body is not None:
            content = {"application/json": {"schema": self.body.schema()}}
        elif self.multipart is not None:
            content = {"multipart/form-data": {"schema": self.multipart}}
        if content is not None:
            if self.example is not None:
                next(iter(content.values()))["example"] = self.example
            described["requestBody"] = {"required": False, "content": content}
        if self.query:
            parameters = self.query.parameters()
            for parameter in parameters:
                if self.example and parameter["name"] in self.example:
                    parameter["example"] = self.example[parameter["name"]]
            described["parameters"] = parameters
        return described


ORDER_DATA = ref(ORDER.name)
ORDERS = array(ORDER_DATA)
MESSAGES = array(ref(MESSAGE.name))
FIELD_DEFINITIONS = array(ref(FIELD_DEFINITION.name))
READ_DATA = closed(
    {"unread": integer(minimum=0, description="the caller's unread count after the move")},
    ("unread",),
)
CUSTOMER, MERCHANT, ACCOUNT, WEBHOOKS = "customer", "merchant", "account", "webhooks"
API_KEYS = "keys for other systems"
DESK = "desk"
PASSWORD = "correct horse battery"
ORDER_EXAMPLE = {
    "archive_id": 12,
    "title": "A responsive theme",
    "content": "Multi-language storefront with online payment",
    "phone": "+86 138-0000-0000",
}
PUBLIC_HOOK = "http://93.184.216.34/hook"
MESSAGE_EXAMPLE = {"comm_order_id": 1, "message_type": "text", "content": "Hello"}


def _moved(action: str, moves: Mapping[str, Move | PurchaseMove] = MOVES) -> str:
    move = moves[action]
    return f"from {described(move.sources)}" + (
        f" to {int(move.target)}" if move.target is not None else ""
    )


OPERATIONS: dict[tuple[str, str], Operation] = {
    ("POST", "/api/register"): Operation(
        "Create an account and log in",
        ACCOUNT,
        body=accounts.REGISTER,
        data=ref("Session"),
        public=True,
        example={"user_name": "alice", "password": PASSWORD},
    ),
    ("POST", "/api/login"): Operation(
        "Log in with a user name, email or phone",
        ACCOUNT,
        body=accounts.LOGIN,
        data=ref("Session"),
        public=True,
        example={"user_name": "alice", "password": PASSWORD},
    ),
    ("POST", "/api/logout"): Operation(
        "Revoke the session, or with all every session of the user",
        ACCOUNT,
        body=accounts.LOGOUT,
        public=True,
        example={"all": False},
    ),
    ("GET", "/api/user/detail"): Operation(
        "The current user", ACCOUNT, data=ref(USER.name), example={}
    ),
    ("POST", "/api/user/password"): Operation(
        "Change the password; every other session of the user is revoked",
        ACCOUNT,
        body=accounts.PASSWORD_CHANGE,
        example={"old_password": PASSWORD, "password": PASSWORD},
    ),
    ("POST", "/api/user/password/forgot"): Operation(
        "Mail a password reset link to the account a user name, email or phone names; "
        "the same answer whether or not one exists",
        ACCOUNT,
        body=accounts.FORGOT,
        public=True,
        example={"email": "alice@example.com"},
    ),
    ("POST", "/api/user/password/reset"): Operation(
        "Set a new password with the token of a reset link; every session of the user is "
        "revoked (no login)",
        ACCOUNT,
        body=accounts.PASSWORD_RESET,
        public=True,
        example={"token": "token-of-the-reset-link", "password": PASSWORD},
    ),
    ("GET", "/api/user/export"): Operation(
        "Everything stored about me: account, sessions (never tokens), my orders with their "
        "threads, purchase orders, uploads",
        ACCOUNT,
        data=ref("PersonalData"),
        example={},
    ),
    ("POST", "/api/user/delete"): Operation(
        "Erase my account: sessions revoked, name, email, phone and password removed, open "
        "orders cancelled, uploads no longer served; orders and messages stay",
        ACCOUNT,
        body=accounts.ACCOUNT_DELETE,
        example={"password": PASSWORD},
    ),
    ("POST", "/api/communication/order/create"): Operation(
        "Ask for custom work",
        CUSTOMER,
        body=orders.CREATE_ORDER,
        data=ORDER_DATA,
        example=ORDER_EXAMPLE,
    ),
    ("GET", "/api/communication/orders"): Operation(
        "The caller's orders, newest first or by latest activity, with what each holds for "
        "the caller (unread, last_message, last_activity_time)",
        CUSTOMER,
        query=orders.ORDER_LIST_QUERY,
        data=array(ref(ORDER_VIEW.name)),
        paginated=True,
        example={},
    ),
    ("GET", "/api/communication/order/detail"): Operation(
        "One of the caller's orders, with its last 100 messages and its fields",
        CUSTOMER,
        query=orders.QUERY_ORDER_ID,
        data=ref("OrderDetail"),
        example={"id": 1},
    ),
    ("POST", "/api/communication/order/update"): Operation(
        "Change an order (the seed endpoint): only the fields sent; order_extra merged; "
        f"allowed {_moved('update')}; editing the requirements of a quoted order moves it "
        f"{_moved('revise')}",
        CUSTOMER,
        body=orders.UPDATE_ORDER,
        data=ORDER_DATA,
        example={"id": 1, "title": "A responsive theme, two languages"},
    ),
    ("POST", "/api/communication/order/accept"): Operation(
        f"Accept the quote ({_moved('accept')}); creates the purchase order",
        CUSTOMER,
        body=orders.ACCEPT,
        data=ORDER_DATA,
        example={"id": 1},
    ),
    ("POST", "/api/communication/order/reject"): Operation(
        f"Reject the quote ({_moved('reject')})",
        CUSTOMER,
        body=orders.REJECT,
        data=ORDER_DATA,
        example={"id": 1},
    ),
    ("POST", "/api/communication/order/cancel"): Operation(
        f"Cancel the order ({_moved('cancel')})",
        CUSTOMER,
        body=orders.CANCEL,
        data=ORDER_DATA,
        example={"id": 1},
    ),
    ("GET", "/api/communication/messages"): Operation(
        "An order's thread, oldest first",
        CUSTOMER,
        query=orders.THREAD_QUERY,
        data=MESSAGES,
        paginated=True,
        example={"comm_order_id": 1},
    ),
    ("POST", "/api/communication/message/send"): Operation(
        f"Write in an order's thread (in status {described(MOVES['message'].sources)})",
        CUSTOMER,
        body=orders.SEND_MESSAGE,
        data=ref(MESSAGE.name),
        example=MESSAGE_EXAMPLE,
    ),
    ("POST", "/api/communication/order/read"): Operation(
        "Move my read marker on one of my orders to message_id (by default the latest "
        "message); it never moves back. No version bump, no event",
        CUSTOMER,
        body=orders.MARK_READ,
        data=READ_DATA,
        example={"id": 1},
    ),
    ("GET", "/api/communication/fields"): Operation(
        "The order field definitions (for forms)",
        CUSTOMER,
        data=FIELD_DEFINITIONS,
        public=True,
        example={},
    ),
    ("GET", "/api/admin/communication/orders"): Operation(
        "Every order, newest first or by latest activity, with its customer and what it "
        "holds for the caller (unread, last_message, last_activity_time)",
        MERCHANT,
        query=orders.ADMIN_ORDER_LIST_QUERY,
        data=array(ref(INBOX_ORDER.name)),
        paginated=True,
        example={},
    ),
    ("GET", "/api/admin/communication/order/detail"): Operation(
        "Any order, as the customer's detail",
        MERCHANT,
        query=orders.QUERY_ORDER_ID,
        data=ref("OrderDetail"),
        example={"id": 1},
    ),
    ("GET", "/api/admin/communication/messages"): Operation(
        "Any order's thread",
        MERCHANT,
        query=orders.THREAD_QUERY,
        data=MESSAGES,
        paginated=True,
        example={"comm_order_id": 1},
    ),
    ("POST", "/api/admin/communication/order/quote"): Operation(
        f"Quote ({_moved('quote')})",
        MERCHANT,
        body=orders.QUOTE,
        data=ORDER_DATA,
        example={"id": 1, "quote_price": "12000.00", "quote_content": "Two weeks"},
    ),
    ("POST", "/api/admin/communication/order/status"): Operation(
        "Set the status: "
        + "; ".join(f"{int(s)} ({_moved(m.action)})" for s, m in STATUS_ENDPOINT_MOVES.items()),
        MERCHANT,
        body=orders.SET_STATUS,
        data=ORDER_DATA,
        example={"id": 1, "status": 1},
    ),
    ("POST", "/api/admin/communication/order/images"): Operation(
        f"Set the sketch and finished images (in status {described(MOVES['images'].sources)})",
        MERCHANT,
        body=orders.SET_IMAGES,
        data=ORDER_DATA,
        example={"id": 1, "sketch_images": ["https://shop.example/sketch.png"]},
    ),
    ("POST", "/api/admin/communication/message/send"): Operation(
        f"Reply in any order's thread; the first reply moves it {_moved('first reply')}",
        MERCHANT,
        body=orders.SEND_MESSAGE,
        data=ref(MESSAGE.name),
        example=MESSAGE_EXAMPLE,
    ),
    ("POST", "/api/admin/communication/order/read"): Operation(
        "Move my read marker on any order to message_id (by default the latest message, "
        "notes included); it never moves back. No version bump, no event",
        MERCHANT,
        body=orders.MARK_READ,
        data=READ_DATA,
        example={"id": 1},
    ),
    ("POST", "/api/admin/communication/order/note"): Operation(
        "Write an internal note (in any status): a message of type note that only the "
        "merchant's side sees (detail, thread, events, webhooks); no version bump, no "
        "status change, no mail",
        MERCHANT,
        body=orders.ADD_NOTE,
        data=ref(MESSAGE.name),
        example={"id": 1, "content": "Called the customer: wants blue"},
    ),
    ("POST", "/api/admin/communication/order/assign"): Operation(
        "Assign an order (in any status) to a staff member or an admin, or to nobody with "
        "0: version + 1 and order.updated, no message in the thread; the new assignee is "
        "mailed when someone else assigned it",
        MERCHANT,
        body=orders.ASSIGN,
        data=ORDER_DATA,
        example={"id": 1, "assignee_id": 1},
    ),
    ("GET", "/api/admin/communication/fields"): Operation(
        "The order field definitions", MERCHANT, data=FIELD_DEFINITIONS, example={}
    ),
    ("POST", "/api/admin/communication/fields"): Operation(
        "Replace the order field definitions",
        MERCHANT,
        body=fields.REPLACE_FIELDS,
        data=FIELD_DEFINITIONS,
        example={
            "fields": [
                {"field_name": "budget", "name": "Budget", "type": "number", "required": True}
            ]
        },
    ),
    ("GET", "/api/openapi.json"): Operation(
        "This description (the document itself, not an envelope)", ACCOUNT, public=True
    ),
}

# ---------------------------------------------------------------- the merchant's desk

OPERATIONS |= {
    ("GET", "/api/admin/users"): Operation(
        "Every user, newest first, with whether they are disabled, their orders and their "
        "last login (staff and admins)",
        DESK,
        query=desk.USERS_QUERY,
        data=array(ref(USER_ACCOUNT.name)),
        paginated=True,
        example={"q": "alice", "role": "user"},
    ),
    ("POST", "/api/admin/users/update"): Operation(
        "Change a user's role or disable them (admins): a role change or disabling revokes "
        "every session of the user at once; an admin cannot change their own role or "
        "disable themselves, and the last enabled admin is never demoted or disabled",
        DESK,
        body=desk.UPDATE_USER,
        data=ref(USER_ACCOUNT.name),
        example={"id": 1, "role": "staff"},
    ),
    ("GET", "/api/admin/replies"): Operation(
        "Every saved reply, oldest first (staff and admins share them)",
        DESK,
        data=array(ref(SAVED_REPLY.name)),
        example={},
    ),
    ("POST", "/api/admin/replies"): Operation(
        f"Save a reply (at most {model.SAVED_REPLIES_MAX})",
        DESK,
        body=desk.CREATE_REPLY,
        data=ref(SAVED_REPLY.name),
        example={"title": "Thanks", "content": "Thank you, we will get back to you today."},
    ),
    ("POST", "/api/admin/replies/update"): Operation(
        "Change a saved reply's title or content",
        DESK,
        body=desk.UPDATE_REPLY,
        data=ref(SAVED_REPLY.name),
        example={"id": 1, "title": "Thank you"},
    ),
    ("POST", "/api/admin/replies/delete"): Operation(
        "Delete a saved reply", DESK, body=desk.REPLY_ID, example={"id": 1}
    ),
}

# ---------------------------------------------------------------- purchase orders

PURCHASE = "purchase orders"
PURCHASE_DATA = ref(PURCHASE_ORDER.name)
PURCHASE_ORDER_EXAMPLE = {"order_id": "202612021230450001"}


OPERATIONS |= {
    ("GET", "/api/orders"): Operation(
        "The caller's purchase orders (one per accepted quote), newest first",
        PURCHASE,
        query=purchases.LIST_QUERY,
        data=array(PURCHASE_DATA),
        paginated=True,
        example={"status": 0},
    ),
    ("GET", "/api/order/detail"): Operation(
        "One of the caller's purchase orders", PURCHASE, query=purchases.PURCHASE_ORDER_ID,
        data=PURCHASE_DATA, example=PURCHASE_ORDER_EXAMPLE,
    ),
    ("POST", "/api/order/payment"): Operation(
        f"Choose how to pay ({_moved('payment', PURCHASE_MOVES)}): "
        f'"{model.OFFLINE}" answers the merchant\'s payment instructions; the merchant then '
        "confirms the payment",
        PURCHASE,
        body=purchases.PAYMENT,
        data=closed(
            {
                "order_id": string(),
                "pay_way": string(enum=[model.OFFLINE]),
                "instructions": string(description="--payment-instructions"),
            },
            ("order_id", "pay_way", "instructions"),
        ),
        example={**PURCHASE_ORDER_EXAMPLE, "pay_way": model.OFFLINE},
    ),
    ("POST", "/api/order/cancel"): Operation(
        f"Cancel an unpaid purchase order ({_moved('cancel', PURCHASE_MOVES)})",
        PURCHASE, body=purchases.PURCHASE_ORDER_ID, data=PURCHASE_DATA,
        example=PURCHASE_ORDER_EXAMPLE,
    ),
    ("POST", "/api/order/finish"): Operation(
        f"Confirm receipt ({_moved('finish', PURCHASE_MOVES)})",
        PURCHASE, body=purchases.PURCHASE_ORDER_ID, data=PURCHASE_DATA,
        example=PURCHASE_ORDER_EXAMPLE,
    ),
    ("POST", "/api/order/refund"): Operation(
        f"Ask for a refund ({_moved('refund', PURCHASE_MOVES)})",
        PURCHASE, body=purchases.REFUND, data=PURCHASE_DATA,
        example={**PURCHASE_ORDER_EXAMPLE, "reason": "It arrived broken"},
    ),
    ("GET", "/api/admin/orders"): Operation(
        "Every purchase order, newest first (staff and admins)",
        PURCHASE,
        query=purchases.ADMIN_LIST_QUERY,
        data=array(PURCHASE_DATA),
        paginated=True,
        example={"status": 0},
    ),
    ("GET", "/api/admin/order/detail"): Operation(
        "Any purchase order", PURCHASE, query=purchases.PURCHASE_ORDER_ID, data=PURCHASE_DATA,
        example=PURCHASE_ORDER_EXAMPLE,
    ),
    ("POST", "/api/admin/order/paid"): Operation(
        f"Mark paid ({_moved('paid', PURCHASE_MOVES)}); the same call again with the same "
        "payment_reference changes nothing and answers 0, with another one -1",
        PURCHASE,
        body=purchases.MARK_PAID,
        data=PURCHASE_DATA,
        example={**PURCHASE_ORDER_EXAMPLE, "payment_reference": "PSP-7F3A21"},
    ),
    ("POST", "/api/admin/order/deliver"): Operation(
        f"Mark delivered ({_moved('deliver', PURCHASE_MOVES)})",
        PURCHASE,
        body=purchases.DELIVER,
        data=PURCHASE_DATA,
        example={**PURCHASE_ORDER_EXAMPLE, "express_company": "SF", "tracking_number": "SF1"},
    ),
    ("POST", "/api/admin/order/refund"): Operation(
        f"Decide a refund request ({_moved('approve refund', PURCHASE_MOVES)} when approved, else "
        "back to the status before the request)",
        PURCHASE,
        body=purchases.DECIDE_REFUND,
        data=PURCHASE_DATA,
        example={**PURCHASE_ORDER_EXAMPLE, "approve": True},
    ),
    ("POST", "/api/admin/order/close"): Operation(
        f"Close an unpaid purchase order ({_moved('close', PURCHASE_MOVES)})",
        PURCHASE, body=purchases.CLOSE, data=PURCHASE_DATA,
        example={**PURCHASE_ORDER_EXAMPLE, "reason": "No payment within 30 days"},
    ),
}  # fmt: skip

# ---------------------------------------------------------------- live events

EVENTS_PATH = "/api/events"
OPERATIONS[("GET", EVENTS_PATH)] = Operation(
    "Live events of the caller's orders (every order for staff and admins), as text/event-stream",
    CUSTOMER,
    query=orders.EVENTS_QUERY,
    example={},
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


# ---------------------------------------------------------------- attachments

OPERATIONS[("POST", "/api/attachment/upload")] = Operation(
    "Upload an image (JPEG, PNG, GIF, WebP) or a PDF",
    ACCOUNT,
    multipart=closed(
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
    data=ref(ATTACHMENT.name),
    example={"file": "%PDF-1.4 a small document"},
)
OPERATIONS[("POST", "/api/attachment/delete")] = Operation(
    "Delete one of my uploads: its file and thumbnail answer 404 from then on and leave "
    "my quota; orders and messages naming it keep their text (another user's upload or "
    'an unknown id: "attachment not found")',
    ACCOUNT,
    body=attachment_forms.ATTACHMENT_ID,
    example={"id": 1},
)


# ---------------------------------------------------------------- webhooks and mail

OPERATIONS |= {
    ("POST", "/api/admin/users/password-reset"): Operation(
        "Make a password reset link for a user (mailed to them when they have an email)",
        MERCHANT,
        body=accounts.USER_ID,
        data=closed(
            {"reset_url": string(description="<public-url>/#/reset?token=<token>")},
            ("reset_url",),
        ),
        example={"id": 1},
    ),
    ("GET", "/api/admin/webhooks"): Operation(
        "Every webhook (never its secret)", WEBHOOKS, data=array(ref(WEBHOOK.name)), example={}
    ),
    ("POST", "/api/admin/webhooks"): Operation(
        "Add a webhook: each matching event is POSTed to it, signed as Standard Webhooks 1.0",
        WEBHOOKS,
        body=webhooks.CREATE_WEBHOOK,
        data=ref("WebhookWithSecret"),
        example={"url": PUBLIC_HOOK},
    ),
    ("POST", "/api/admin/webhooks/update"): Operation(
        "Change a webhook's url, events, description or enabled",
        WEBHOOKS,
        body=webhooks.UPDATE_WEBHOOK,
        data=ref(WEBHOOK.name),
        example={"id": 1, "enabled": False},
    ),
    ("POST", "/api/admin/webhooks/delete"): Operation(
        "Delete a webhook and its deliveries",
        WEBHOOKS,
        body=webhooks.WEBHOOK_ID,
        example={"id": 1},
    ),
    ("POST", "/api/admin/webhooks/rotate"): Operation(
        "Give a webhook a new secret (the old one stops at once)",
        WEBHOOKS,
        body=webhooks.WEBHOOK_ID,
        data=ref("WebhookWithSecret"),
        example={"id": 1},
    ),
    ("GET", "/api/admin/webhooks/deliveries"): Operation(
        "A webhook's deliveries, newest first",
        WEBHOOKS,
        query=webhooks.DELIVERIES_QUERY,
        data=array(ref(DELIVERY.name)),
        paginated=True,
        example={"webhook_id": 1},
    ),
    ("POST", "/api/admin/webhooks/redeliver"): Operation(
        "Send a delivery again (same webhook-id), due now",
        WEBHOOKS,
        body=webhooks.REDELIVER,
        data=ref(DELIVERY.name),
        example={"delivery_id": 1},
    ),
    ("POST", "/api/user/notifications"): Operation(
        "Turn mail about my orders on or off",
        ACCOUNT,
        body=webhooks.NOTIFICATIONS,
        data=ref(USER.name),
        example={"email": False},
    ),
}


# ---------------------------------------------------------------- API keys

OPERATIONS |= {
    ("GET", "/api/admin/api-keys"): Operation(
        "Every API key, newest first (never the key itself)",
        API_KEYS,
        data=array(ref(API_KEY.name)),
        example={},
    ),
    ("POST", "/api/admin/api-keys"): Operation(
        "Make an API key for another system: it acts as the calling admin, with its role, "
        "until revoked or until that admin is disabled or no longer an admin",
        API_KEYS,
        body=api_keys.CREATE_API_KEY,
        data=ref("ApiKeyWithKey"),
        example={"name": "payment callback", "role": "staff"},
    ),
    ("POST", "/api/admin/api-keys/delete"): Operation(
        "Revoke an API key (at once, its open event streams too)",
        API_KEYS,
        body=api_keys.API_KEY_ID,
        example={"id": 1},
    ),
}


def document(version: str = "3.1.0") -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), operation in OPERATIONS.items():
        described_operation = operation.describe()
        if path == "/api/openapi.json":
            described_operation["responses"] = {
                "200": {
                    "description": "The OpenAPI description",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            }
        if path == EVENTS_PATH:
            described_operation["description"] = EVENTS_DESCRIPTION
            described_operation["parameters"].append(EVENTS_HEADER)
            described_operation["responses"]["200"]["content"]["text/event-stream"] = EVENT_STREAM
        paths.setdefault(path, {})[method.lower()] = described_operation
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
                "TokenHeader": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Token",
                    "description": "A session token (from login) or an API key (odk_…, "
                    "made by an admin: POST /api/admin/api-keys).",
                },
                "Bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Authorization: Bearer <session token or API key>. An "
                    "API key acts as the admin who made it, with the key's role (staff or "
                    "admin); it never expires, sets no cookie, and is refused by the "
                    "routes about a login session itself (logout, password change, "
                    "personal data export, account deletion).",
                },
                "TokenCookie": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "token",
                    "description": "A POST authenticated by this cookie alone (no Token "
                    "header) whose Origin header is neither this server's origin (the "
                    "request's scheme and Host, or --public-url's) nor a --cors-origin "
                    "answers 1002 and changes nothing.",
                },
            },
        },
    }
