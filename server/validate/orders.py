"""Orders and their threads: the customer's create, update, accept, reject and
cancel; the merchant's quote, status and images; messages; the lists' queries.

Fields are listed in the order they are checked, so the first error named stays the
same. The order's own fields come from entities.ORDER."""

from dataclasses import dataclass
from typing import Any, NamedTuple

from .. import model, texts
from ..entities import ORDER, Key
from ..errors import Invalid
from ..model import Page
from ..workflow import STATUS_ENDPOINT_MOVES, Status
from .declare import Choice, Custom, Field, Form, Ignored, Str, integer
from .values import (
    BODY_ID,
    NOTE,
    PRICE_SCHEMA,
    VERSION,
    Id,
    IdOrZero,
    PagedForm,
    QueryFlag,
    QueryIdOrZero,
    StatusFilter,
    UrlList,
    quote_price,
)


def _sent(key: Key, **options: Any) -> Field:
    """The request field of an order's key the customer sends."""
    assert key.rule is not None
    return Field(key.name, key.rule, **options)


CREATE_ORDER: Form[dict[str, Any]] = Form(
    tuple(_sent(key, required=key.required_on_create, default=key.default) for key in ORDER.sent),
    dict,
)


class OrderUpdate(NamedTuple):
    """The customer's update: the order, the expected version, and the fields sent
    (None: not sent). (A named tuple: cheaper to make than a frozen dataclass.)"""

    id: int
    version: int | None
    changes: dict[str, Any]


def _order_update(id: int, version: int | None, **changes: Any) -> OrderUpdate:
    return OrderUpdate(id, version, changes)


UPDATE_ORDER = Form(
    (
        BODY_ID,
        *(_sent(key) for key in ORDER.sent if key.updatable),
        VERSION,
    ),
    _order_update,
)


@dataclass(frozen=True)
class Acceptance:
    """A customer's accept: the guards say which quote they saw."""

    id: int
    remark: str
    version: int | None
    quote_price: str | None


ACCEPT = Form(
    (
        BODY_ID,
        Field("remark", NOTE, default=""),
        VERSION,
        # The customer accepts exactly the quote they saw.
        Field(
            "quote_price",
            Custom(
                quote_price,
                PRICE_SCHEMA
                | {
                    "description": "the price seen, as in the quote; if sent and not the "
                    'stored price: -1, data {"quote_price": "<current>"}, nothing changes'
                },
            ),
        ),
    ),
    Acceptance,
)


@dataclass(frozen=True)
class OrderNote:
    """A reject or cancel: the order and the optional reason ("" when absent)."""

    id: int
    reason: str


REJECT = CANCEL = Form((BODY_ID, Field("reason", NOTE, default="")), OrderNote)


@dataclass(frozen=True)
class NewMessage:
    comm_order_id: int
    message_type: str
    content: str


def _new_message(comm_order_id: int, message_type: str, content: str, **_: Any) -> NewMessage:
    # sender_id and sender_name are accepted for compatibility and ignored.
    return NewMessage(comm_order_id, message_type, content)


SEND_MESSAGE = Form(
    (
        Field("comm_order_id", Id(), required=True),
        Field("message_type", Choice(model.MESSAGE_TYPES, Str(1, 32)), required=True),
        Field("content", Str(*model.MESSAGE_LEN), required=True),
        Field("sender_id", Ignored("accepted and ignored: the sender is the session's user")),
        Field("sender_name", Ignored("accepted and ignored")),
    ),
    _new_message,
)


@dataclass(frozen=True)
class Quote:
    id: int
    quote_price: str  # "12000.00"
    quote_content: str


QUOTE = Form(
    (
        BODY_ID,
        Field("quote_price", Custom(quote_price, PRICE_SCHEMA), required=True),
        Field("quote_content", Str(*model.QUOTE_CONTENT_LEN), required=True),
    ),
    Quote,
)


def _settable_status(value: Any, name: str) -> Status:
    if type(value) is not int or value not in STATUS_ENDPOINT_MOVES:
        raise Invalid(texts.STATUS_ONE_OR_CANCELLED)
    return Status(value)


@dataclass(frozen=True)
class StatusChange:
    id: int
    status: Status


SET_STATUS = Form(
    (
        BODY_ID,
        Field(
            "status",
            Custom(_settable_status, integer(enum=sorted(int(s) for s in STATUS_ENDPOINT_MOVES))),
            required=True,
            missing=texts.STATUS_ONE_OR_CANCELLED,
        ),
    ),
    StatusChange,
)


@dataclass(frozen=True)
class ImagesChange:
    id: int
    sketch_images: list[str] | None
    finished_images: list[str] | None


SET_IMAGES = Form(
    (BODY_ID, Field("sketch_images", UrlList()), Field("finished_images", UrlList())),
    ImagesChange,
)


@dataclass(frozen=True)
class Assignment:
    id: int
    assignee_id: int


ASSIGN = Form(
    (
        BODY_ID,
        Field(
            "assignee_id",
            IdOrZero("the id of a staff member or an admin, or 0 for nobody"),
            required=True,
        ),
    ),
    Assignment,
)

# ---------------------------------------------------------------- queries

QUERY_ORDER_ID = Form((Field("id", Id(in_query=True), required=True),), lambda id: id)
STATUS_FILTER = Field("status", StatusFilter())


@dataclass(frozen=True)
class OrderListQuery:
    status: Status | None
    page: Page
    sort: str = "created"
    unread: bool | None = None  # None: not sent
    user_id: int | None = None
    q: str | None = None
    awaiting_reply: bool | None = None
    assignee_id: int | None = None


SORTS = frozenset({"created", "activity"})
_INBOX_FIELDS = (
    Field(
        "sort",
        Choice(
            SORTS,
            Str(
                1,
                16,
                description="created: newest order first; activity: latest activity "
                "first (ties by higher id)",
            ),
        ),
        empty_is_absent=True,
        default="created",
    ),
    Field(
        "unread",
        QueryFlag("1: only orders with unread messages for the caller"),
        empty_is_absent=True,
    ),
)
ORDER_LIST_QUERY = PagedForm((STATUS_FILTER, *_INBOX_FIELDS), OrderListQuery)
ADMIN_ORDER_LIST_QUERY = PagedForm(
    (
        STATUS_FILTER,
        *_INBOX_FIELDS,
        Field("user_id", Id(in_query=True), empty_is_absent=True),
        Field(
            "q",
            Str(
                0,
                None,
                description="searched in title and content, and in the customer's user_name, "
                "email and phone (ignoring ASCII case)",
            ),
        ),
        Field(
            "awaiting_reply",
            QueryFlag(
                "1: only orders not cancelled whose latest message, neither system nor a "
                "note, is the customer's"
            ),
            empty_is_absent=True,
        ),
        Field(
            "assignee_id",
            QueryIdOrZero("only the orders assigned to this user; 0: unassigned ones"),
            empty_is_absent=True,
        ),
    ),
    OrderListQuery,
)


@dataclass(frozen=True)
class ReadMark:
    id: int
    message_id: int | None


MARK_READ = Form(
    (
        BODY_ID,
        Field(
            "message_id",
            Id(description="the message read up to; by default the latest the caller sees"),
        ),
    ),
    ReadMark,
)


@dataclass(frozen=True)
class NewNote:
    id: int
    content: str


ADD_NOTE = Form(
    (BODY_ID, Field("content", Str(*model.MESSAGE_LEN), required=True)),
    NewNote,
)


@dataclass(frozen=True)
class ThreadQuery:
    comm_order_id: int
    page: Page


THREAD_QUERY = PagedForm((Field("comm_order_id", Id(in_query=True), required=True),), ThreadQuery)
EVENTS_QUERY = Form(
    (
        Field(
            "comm_order_id",
            Id(in_query=True, description="only this order's events"),
            empty_is_absent=True,
        ),
    ),
    lambda comm_order_id: comm_order_id,
)
