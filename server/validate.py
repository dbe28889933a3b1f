"""Parsing and checking of every input: pure functions from raw JSON or query values
to typed values. Each failure raises `Invalid` with a message naming the field.

Every request field is declared once, in the Forms below (see declare.py): the checks
here and the request schemas of openapi.py are both built from them."""

import json
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import orjson

from . import model, texts
from .declare import Choice, Custom, Field, Flag, Form, Ignored, Schema, Str, integer, string
from .errors import Invalid
from .model import (
    Acceptance,
    NewMessage,
    NewOrder,
    OrderChanges,
    Page,
    Status,
    check_extra_size,
)

_DIGITS = re.compile(r"[0-9]+")
# Digits of the largest ID: a longer string is refused before int() ever sees it, so
# neither Python's 4300-digit limit nor a 20-digit ID with leading zeros gets through.
_MAX_ID_DIGITS = len(str(model.MAX_ID))
_NUL = "\x00"
_STATUS_VALUES = frozenset(int(s) for s in Status)


# ---------------------------------------------------------------- IDs


def parse_id(value: Any, name: str) -> int:
    """An ID: a JSON integer or a string of at most 19 ASCII digits, 1 … 2^63-1."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        if len(value) > _MAX_ID_DIGITS:
            raise _too_large(name)
        number = int(value)
    else:
        raise Invalid(texts.POSITIVE_INTEGER, field=name)
    if number > model.MAX_ID:
        raise _too_large(name)
    if number < 1:
        raise Invalid(texts.POSITIVE_INTEGER, field=name)
    return number


def _too_large(name: str) -> Invalid:
    return Invalid(texts.INTEGER_TOO_LARGE, field=name, max=model.MAX_ID)


# The body fields spec 1 calls IDs (and `version`): too long for any number type, they
# still answer naming the field.
ID_FIELDS = ("id", "comm_order_id", "archive_id", "user_id", "version")


def unparsable_number_field(raw: bytes) -> Invalid | None:
    """For a body orjson refused because a number overflows a double: the refusal naming
    the ID field that holds it (spec 1: "whatever its length"), or None when no ID field
    does (the body is then simply not JSON orderdesk reads)."""
    huge = object()
    try:
        body = json.loads(
            raw,
            parse_int=lambda text: huge if len(text.lstrip("-")) > _MAX_ID_DIGITS else 0,
            parse_float=lambda text: huge if math.isinf(float(text)) else 0.0,
        )
    except (ValueError, RecursionError):
        return None
    if not isinstance(body, dict):
        return None
    return next((_too_large(name) for name in ID_FIELDS if body.get(name) is huge), None)


@dataclass(frozen=True)
class Id:
    """An ID in a JSON body (integer or digit string) or in a query (digits)."""

    in_query: bool = False
    description: str = ""

    def parse(self, value: Any, name: str) -> int:
        return parse_id(value, name)

    def schema(self) -> Schema:
        noted = {"description": self.description} if self.description else {}
        if self.in_query:
            return integer(minimum=1, maximum=model.MAX_ID, **noted)
        return {
            "description": self.description
            or "a positive integer, as a JSON integer or a string of ASCII digits",
            "oneOf": [
                integer(minimum=1, maximum=model.MAX_ID),
                string(1, _MAX_ID_DIGITS, pattern="^[0-9]+$"),
            ],
        }


@dataclass(frozen=True)
class QueryNumber:
    """A page number or size in the query: blank means not sent."""

    description: str

    def parse(self, value: str, name: str) -> int | None:
        text = value.strip()
        return parse_id(text, name) if text else None

    def schema(self) -> Schema:
        return integer(minimum=1, maximum=model.MAX_ID, description=self.description)


@dataclass(frozen=True)
class StatusFilter:
    """A status filter from the query string; blank means no filter."""

    def parse(self, value: str, name: str) -> Status | None:
        text = value.strip()
        if not text:
            return None
        digits = text.removeprefix("-")
        if _DIGITS.fullmatch(digits) and len(digits) <= _MAX_ID_DIGITS:
            number = int(text)
            if number in _STATUS_VALUES:
                return Status(number)
        raise Invalid(texts.ONE_OF, field=name, choices=", ".join(map(str, sorted(_STATUS_VALUES))))

    def schema(self) -> Schema:
        return STATUS_SCHEMA


STATUS_SCHEMA = integer(
    enum=[int(s) for s in Status],
    description="0 pending, 1 in communication, 2 quoted, 3 accepted, 4 rejected, -1 cancelled",
)


# ---------------------------------------------------------------- image URLs

# Stored image URLs become links and <img> sources in browsers (issue 11: a stored
# `javascript:` URL ran in the merchant's console), so the rule is an allow-list.
# An upload of this server: one name of URL-safe characters and an extension, right
# under /uploads/ or under /uploads/thumb/ (its thumbnail); no other dot or slash.
_UPLOAD_PATH = re.compile(r"/uploads/(?:thumb/)?[A-Za-z0-9_-]+\.[A-Za-z0-9]{1,10}")
_WEB_SCHEME = re.compile(r"https?://", re.IGNORECASE)
# A host name (letters of any script, digits, dots, hyphens, underscores) or an IPv6
# address, which urlsplit has already checked inside its brackets.
_HOST = re.compile(r"[\w.:-]+")
# Characters that RFC 3986 never allows in a URL; browsers re-encode them.
_NOT_IN_URLS = frozenset('<>"\\^`{|}')


def is_image_url(url: str) -> bool:
    """An absolute http(s) URL with a host, or the path of an upload of this server.
    No whitespace, control or format character anywhere, nor a character that URLs
    never hold: browsers drop or reinterpret those (a tab inside `javascript:`, a
    backslash for a slash), so what is stored must be what the browser will use."""
    if any(
        c.isspace() or c in _NOT_IN_URLS or unicodedata.category(c) in ("Cc", "Cf") for c in url
    ):
        return False
    if _UPLOAD_PATH.fullmatch(url):
        return True
    if not _WEB_SCHEME.match(url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a port that is not a number in range)
    except ValueError:
        return False
    return bool(parts.hostname and _HOST.fullmatch(parts.hostname))


# The pattern is the shape; the description states the whole rule (is_image_url).
IMAGE_URL_SCHEMA = string(
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


@dataclass(frozen=True)
class UrlList:
    """A list of image URLs: at most 20 strings of 1-1000 characters after trimming,
    each one that a browser may safely load or follow (`is_image_url`)."""

    def parse(self, value: Any, name: str) -> list[str]:
        if not isinstance(value, list):
            raise Invalid(texts.NOT_A_STRING_LIST, field=name)
        if len(value) > model.IMAGES_MAX:
            raise Invalid(texts.TOO_MANY_ITEMS, field=name, count=model.IMAGES_MAX)
        urls = []
        for item in value:
            if not isinstance(item, str):
                raise Invalid(texts.NOT_A_STRING_LIST, field=name)
            url = item.strip()
            if not 1 <= len(url) <= model.IMAGE_URL_MAX:
                raise Invalid(texts.ITEM_LENGTH, field=name, high=model.IMAGE_URL_MAX)
            if not is_image_url(url):
                raise Invalid(texts.IMAGE_URL_FORM, field=name)
            urls.append(url)
        return urls

    def schema(self) -> Schema:
        return {"type": "array", "maxItems": model.IMAGES_MAX, "items": IMAGE_URL_SCHEMA}


# ---------------------------------------------------------------- NUL


def reject_nul(source: Mapping[str, Any]) -> None:
    """No string in a request body or query (keys included, at any depth) may hold
    U+0000 (spec 1): PostgreSQL cannot store it and SQLite would keep a different
    value than the one shown. The message names the top-level field it is under."""
    for name, value in source.items():
        stack = [name, value]
        while stack:
            node = stack.pop()
            if isinstance(node, str) and _NUL in node:
                raise Invalid(texts.NUL_CHARACTER, field=name.replace(_NUL, "\\u0000"))
            if isinstance(node, dict):
                stack.extend(node)
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)


# ---------------------------------------------------------------- order_extra


def _check_extra_node(node: Any, level: int) -> None:
    """Keys of 1-64 characters at every level; nesting at most 4 levels deep."""
    if isinstance(node, dict):
        if level > model.EXTRA_MAX_DEPTH:
            raise _too_deep()
        low, high = model.EXTRA_KEY_LEN
        for key, value in node.items():
            if not low <= len(key) <= high:
                raise Invalid(texts.EXTRA_KEY_LENGTH, low=low, high=high)
            _check_extra_node(value, level + 1)
    elif isinstance(node, list):
        if level > model.EXTRA_MAX_DEPTH:
            raise _too_deep()
        for value in node:
            _check_extra_node(value, level + 1)


def _too_deep() -> Invalid:
    return Invalid(texts.EXTRA_TOO_DEEP, depth=model.EXTRA_MAX_DEPTH)


def order_extra(extra: Any, name: str) -> dict[str, Any]:
    """`order_extra`: a JSON object within the limits (checked again on the merge result)."""
    if not isinstance(extra, dict):
        raise Invalid(texts.EXTRA_NOT_OBJECT)
    check_extra_size(len(extra), 0)
    _check_extra_node(extra, 1)
    check_extra_size(len(extra), len(orjson.dumps(extra)))
    return extra


# ---------------------------------------------------------------- prices

_PRICE = re.compile(r"[0-9]+(\.[0-9]{1,2})?")


class NumberText(str):
    """A JSON number as it was written, where its form matters: a quote price may not
    have an exponent or more than 2 decimals, which its parsed value no longer shows."""


def quote_price(value: Any, name: str) -> str:
    """A price > 0 and ≤ 999999999.99 with at most 2 decimals (string or number), as
    "12000.00"."""
    if isinstance(value, NumberText):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        text = repr(value)
    else:
        raise Invalid(texts.QUOTE_PRICE_FORMAT)
    if not _PRICE.fullmatch(text):
        raise Invalid(texts.QUOTE_PRICE_FORMAT)
    price = Decimal(text)
    if not 0 < price <= Decimal(model.QUOTE_PRICE_MAX_CENTS) / 100:
        raise Invalid(texts.QUOTE_PRICE_RANGE)
    return f"{price:.2f}"


PRICE_SCHEMA = {
    "description": "> 0, at most 999999999.99, at most 2 decimals; a string is trimmed first",
    "oneOf": [
        # The same rule as a pattern: up to 9 digits before the point (leading zeros
        # aside), and not zero.
        string(
            1,
            pattern=r"^0*(?:[1-9][0-9]{0,8}(?:\.[0-9]{1,2})?|0\.(?:[1-9][0-9]?|0[1-9]))$",
        ),
        {"type": "number", "minimum": 0.01, "maximum": 999999999.99},
    ],
}


# ---------------------------------------------------------------- user names


def _user_name_characters(value: str, name: str) -> str:
    """NFKC-normalized, refused if it holds a control, format or line separator
    character anywhere (trimming does not excuse one)."""
    value = model.normalize_user_name(value)
    if any(unicodedata.category(char) in model.USER_NAME_FORBIDDEN_CATEGORIES for char in value):
        raise Invalid(texts.USER_NAME_CHARACTERS, field=name)
    return value


USER_NAME = Str(
    *model.USER_NAME_LEN,
    prepare=_user_name_characters,
    description="NFKC-normalized; no control, format or line separator character",
)
PASSWORD = Str(*model.PASSWORD_LEN, trim=False)
# A password being checked, not set: any length up to the maximum.
PASSWORD_SENT = Str(1, model.PASSWORD_LEN[1], trim=False)
PHONE = Str(*model.PHONE_LEN, pattern=r"[0-9 +()-]+", pattern_message=texts.PHONE_CHARACTERS)
EMAIL = Str(
    0,
    model.EMAIL_MAX,
    pattern=r"|[\s\S]*@[\s\S]*",
    pattern_message=texts.EMAIL_AT,
    description="empty (no email) or holding an @",
)
LOGIN_NAME = Str(1, model.EMAIL_MAX)
NOTE = Str(0, model.NOTE_MAX)  # remark and reason


# ---------------------------------------------------------------- field definitions

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# One definition of the merchant's list; the value rules are in field_definitions.
DEFINITION = Form(
    (
        Field("field_name", Str(*model.EXTRA_KEY_LEN), required=True),
        Field("type", Str(1, 16), required=True),
        Field("name", Str(0, model.TITLE_LEN[1], description="default: field_name")),
    )
)


def field_definitions(fields: Any, name: str = "fields") -> list[dict[str, Any]]:
    """The merchant's `{"fields": [...]}`: the whole list of order field definitions."""
    if not isinstance(fields, list):
        raise Invalid(texts.FIELDS_NOT_LIST)
    if len(fields) > model.EXTRA_MAX_KEYS:
        raise Invalid(texts.FIELDS_TOO_MANY, count=model.EXTRA_MAX_KEYS)
    definitions, names = [], set()
    for position, raw in enumerate(fields):
        where = f"fields[{position}]"
        if not isinstance(raw, dict):
            raise Invalid(texts.DEFINITION_NOT_OBJECT, where=where)
        field_name = DEFINITION["field_name"].read(raw)
        if field_name in names:
            raise Invalid(texts.DEFINITION_DUPLICATE, where=where, name=field_name)
        names.add(field_name)
        kind = DEFINITION["type"].read(raw)
        if kind not in model.FIELD_TYPES:
            raise Invalid(
                texts.DEFINITION_TYPE, where=where, choices=", ".join(sorted(model.FIELD_TYPES))
            )
        required = raw.get("required", False)
        if not isinstance(required, bool):
            raise Invalid(texts.DEFINITION_REQUIRED_FLAG, where=where)
        definitions.append(
            {
                "field_name": field_name,
                "name": DEFINITION["name"].read(raw) or field_name,
                "type": kind,
                "required": required,
                "options": _field_options(raw, kind, where),
            }
        )
    return definitions


def _field_options(raw: Mapping[str, Any], kind: str, where: str) -> list[str]:
    options = raw.get("options")
    if kind not in model.FIELD_TYPES_WITH_OPTIONS:
        return []
    if not isinstance(options, list) or not options:
        raise Invalid(texts.DEFINITION_OPTIONS, where=where, kind=kind)
    if not all(isinstance(o, str) and o.strip() for o in options):
        raise Invalid(texts.DEFINITION_OPTION_EMPTY, where=where)
    cleaned = [o.strip() for o in options]
    if len(set(cleaned)) != len(cleaned):
        raise Invalid(texts.DEFINITION_OPTIONS_DISTINCT, where=where)
    return cleaned


def _is_empty(value: Any) -> bool:
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


def _check_field_value(definition: Mapping[str, Any], value: Any) -> None:
    name, kind, options = definition["field_name"], definition["type"], definition["options"]
    if kind in ("text", "textarea", "date", "select", "radio") and not isinstance(value, str):
        raise Invalid(texts.FIELD_VALUE_STRING, name=name)
    if kind == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise Invalid(texts.FIELD_VALUE_NUMBER, name=name)
    if kind in ("select", "radio") and value not in options:
        raise Invalid(texts.FIELD_VALUE_OPTION, name=name)
    if kind == "checkbox":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise Invalid(texts.FIELD_VALUE_OPTION_LIST, name=name)
        if len(set(value)) != len(value) or not set(value) <= set(options):
            raise Invalid(texts.FIELD_VALUE_DISTINCT_OPTIONS, name=name)
    if kind == "date" and not _is_date(value):
        raise Invalid(texts.FIELD_VALUE_DATE, name=name)


def _is_date(text: str) -> bool:
    if not _DATE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def check_extra_fields(
    extra: Mapping[str, Any], definitions: list[dict[str, Any]], *, creating: bool
) -> None:
    """Values of defined keys match their field's type; required fields are present
    and non-empty on create and are never removed or emptied by an update (the
    update's value is what the merge will store, so checking the patch suffices)."""
    for definition in definitions:
        name = definition["field_name"]
        present = name in extra
        value = extra.get(name)
        if definition["required"] and (creating or present) and _is_empty(value):
            raise Invalid(texts.FIELD_VALUE_REQUIRED, name=name)
        if value is not None:
            _check_field_value(definition, value)


# ---------------------------------------------------------------- the forms
# Every operation's body and query, declared once: openapi.py documents these Forms and
# the functions below read requests with them. Fields are listed in the order they are
# checked, so the first error named stays the same.

BODY_ID = Field("id", Id(), required=True)
VERSION = Field(
    "version",
    Id(
        description="if sent and not the order's version: -1, data "
        '{"version": <current>}, nothing changes'
    ),
)
REMARK, REASON = Field("remark", NOTE), Field("reason", NOTE)
EXTRA_DESCRIPTION = (
    "merged as an RFC 7396 JSON Merge Patch: null removes a key; at most "
    f"{model.EXTRA_MAX_KEYS} keys, keys of 1-64 characters, nesting at most "
    f"{model.EXTRA_MAX_DEPTH} levels, {model.EXTRA_MAX_BYTES} bytes as compact JSON"
)
ORDER_FIELDS = (
    Field("title", Str(*model.TITLE_LEN)),
    Field("content", Str(*model.CONTENT_LEN)),
    Field("phone", PHONE),
    Field("images", UrlList()),
    Field("event_date", Str(0, model.EVENT_DATE_MAX)),
    Field(
        "order_extra",
        Custom(
            order_extra,
            {
                "type": "object",
                "maxProperties": model.EXTRA_MAX_KEYS,
                "description": EXTRA_DESCRIPTION,
            },
        ),
    ),
)
_REQUIRED_ON_CREATE = ("title", "content", "phone")

REGISTER = Form(
    (
        Field("user_name", USER_NAME, required=True),
        Field("password", PASSWORD, required=True),
        Field("email", EMAIL),
        Field("phone", PHONE, empty_is_absent=True),
    )
)
# AnqiCMS clients log in with `email` or `phone`; the first of these present is used.
LOGIN_FIELDS = ("user_name", "email", "phone")
LOGIN = Form(
    (
        Field("user_name", Str(1, model.EMAIL_MAX, description="the user name, email or phone")),
        Field("email", Str(1, model.EMAIL_MAX, description="used when user_name is not sent")),
        Field(
            "phone",
            Str(1, model.EMAIL_MAX, description="used when neither user_name nor email is sent"),
        ),
        Field("password", PASSWORD_SENT, required=True),
        Field(
            "remember",
            Flag("a session of --remember-ttl seconds instead of --session-ttl"),
        ),
    ),
    one_of_required=LOGIN_FIELDS,
)
LOGOUT = Form((Field("all", Flag("every session of the user")),))
PASSWORD_CHANGE = Form(
    (
        Field("old_password", PASSWORD_SENT, required=True),
        Field("password", PASSWORD, required=True),
    )
)
CREATE_ORDER = Form(
    (
        Field("archive_id", Id(), required=True),
        *(
            Field(f.name, f.rule, required=True) if f.name in _REQUIRED_ON_CREATE else f
            for f in ORDER_FIELDS
        ),
    )
)
UPDATE_ORDER = Form((BODY_ID, *ORDER_FIELDS, VERSION))
ACCEPT = Form(
    (
        BODY_ID,
        REMARK,
        VERSION,
        # Spec 4.5: the customer accepts exactly the quote they saw.
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
    )
)
REJECT = CANCEL = Form((BODY_ID, REASON))
SEND_MESSAGE = Form(
    (
        Field("comm_order_id", Id(), required=True),
        Field("message_type", Choice(model.MESSAGE_TYPES, Str(1, 32)), required=True),
        Field("content", Str(*model.MESSAGE_LEN), required=True),
        Field("sender_id", Ignored("accepted and ignored: the sender is the session's user")),
        Field("sender_name", Ignored("accepted and ignored")),
    )
)
QUOTE = Form(
    (
        BODY_ID,
        Field("quote_price", Custom(quote_price, PRICE_SCHEMA), required=True),
        Field("quote_content", Str(*model.QUOTE_CONTENT_LEN), required=True),
    )
)
_SETTABLE_STATUSES = (Status.IN_COMMUNICATION, Status.CANCELLED)


def _settable_status(value: Any, name: str) -> Status:
    if type(value) is not int or value not in _SETTABLE_STATUSES:
        raise Invalid(texts.STATUS_ONE_OR_CANCELLED)
    return Status(value)


SET_STATUS = Form(
    (
        BODY_ID,
        Field(
            "status",
            Custom(_settable_status, integer(enum=[int(s) for s in _SETTABLE_STATUSES])),
            required=True,
            missing=texts.STATUS_ONE_OR_CANCELLED,
        ),
    )
)
SET_IMAGES = Form((BODY_ID, Field("sketch_images", UrlList()), Field("finished_images", UrlList())))
DEFINITION_SCHEMA = DEFINITION.schema()
DEFINITION_SCHEMA["properties"] |= {
    "type": string(enum=sorted(model.FIELD_TYPES)),
    "required": {"type": "boolean"},
    "options": {
        "type": "array",
        "items": string(),
        "description": "for select, radio and checkbox: distinct, non-empty",
    },
}
REPLACE_FIELDS = Form(
    (
        Field(
            "fields",
            Custom(
                field_definitions,
                {
                    "type": "array",
                    "maxItems": model.EXTRA_MAX_KEYS,
                    "items": {"$ref": "#/components/schemas/FieldDefinition"},
                },
            ),
            required=True,
            missing=texts.FIELDS_NOT_LIST,
        ),
    )
)

# Queries.
QUERY_ORDER_ID = Form((Field("id", Id(in_query=True), required=True),))
CURRENT = Field("current", QueryNumber("page, default 1"))
PAGE_SIZE = Field("page_size", QueryNumber("default 10, capped at 100"))
PAGE_SIZE_ALIAS = Field("pageSize", QueryNumber("AnqiCMS's name of page_size, used without it"))
PAGE_FIELDS = (CURRENT, PAGE_SIZE, PAGE_SIZE_ALIAS)
STATUS_FILTER = Field("status", StatusFilter())
ORDER_LIST_QUERY = Form((STATUS_FILTER, *PAGE_FIELDS))
ADMIN_ORDER_LIST_QUERY = Form(
    (
        STATUS_FILTER,
        Field("user_id", Id(in_query=True), empty_is_absent=True),
        Field("q", Str(0, None, description="searched in title and content")),
        *PAGE_FIELDS,
    )
)
THREAD_QUERY = Form((Field("comm_order_id", Id(in_query=True), required=True), *PAGE_FIELDS))
EVENTS_QUERY = Form(
    (
        Field(
            "comm_order_id",
            Id(in_query=True, description="only this order's events"),
            empty_is_absent=True,
        ),
    )
)


# ---------------------------------------------------------------- requests


def page(query: Mapping[str, str]) -> Page:
    """`current` (default 1) and `page_size` / `pageSize` (default 10, capped at 100)."""
    number = CURRENT.read(query) or 1
    size_field = PAGE_SIZE if query.get("page_size", "").strip() else PAGE_SIZE_ALIAS
    size = size_field.read(query) or model.DEFAULT_PAGE_SIZE
    # An offset past what SQLite's 64-bit integers hold can only mean an empty page.
    number = min(number, model.MAX_ID // model.MAX_PAGE_SIZE)
    return Page(number, min(size, model.MAX_PAGE_SIZE))


@dataclass(frozen=True)
class OrderListQuery:
    status: Status | None
    user_id: int | None
    search: str | None
    page: Page


def order_list_query(query: Mapping[str, str], *, admin: bool) -> OrderListQuery:
    status = STATUS_FILTER.read(query)
    if admin:
        user_id = ADMIN_ORDER_LIST_QUERY["user_id"].read(query)
        search = ADMIN_ORDER_LIST_QUERY["q"].read(query) or None
    else:
        user_id = search = None
    return OrderListQuery(status, user_id, search, page(query))


def order_id_query(query: Mapping[str, str]) -> int:
    return QUERY_ORDER_ID["id"].read(query)


def events_order_id(query: Mapping[str, str]) -> int | None:
    """The order a live stream is narrowed to, if any (spec 8)."""
    return EVENTS_QUERY["comm_order_id"].read(query)


def thread_query(query: Mapping[str, str]) -> tuple[int, Page]:
    return THREAD_QUERY["comm_order_id"].read(query), page(query)


def new_order(body: Mapping[str, Any]) -> NewOrder:
    values = CREATE_ORDER.read(body)
    return NewOrder(
        archive_id=values["archive_id"],
        title=values["title"],
        content=values["content"],
        phone=values["phone"],
        images=values["images"] or [],
        event_date=values["event_date"] or "",
        order_extra=values["order_extra"] or {},
    )


def order_changes(body: Mapping[str, Any]) -> tuple[int, OrderChanges, int | None]:
    """The order id, the changes and the expected version of an update request."""
    values = UPDATE_ORDER.read(body)
    changes = OrderChanges(
        title=values["title"],
        content=values["content"],
        phone=values["phone"],
        images=values["images"],
        event_date=values["event_date"],
        order_extra=values["order_extra"],
    )
    return values["id"], changes, values["version"]


def new_message(body: Mapping[str, Any]) -> NewMessage:
    values = SEND_MESSAGE.read(body)
    return NewMessage(values["comm_order_id"], values["message_type"], values["content"])


@dataclass(frozen=True)
class Registration:
    user_name: str
    password: str
    email: str | None
    phone: str | None


def registration(body: Mapping[str, Any]) -> Registration:
    values = REGISTER.read(body)
    return Registration(
        values["user_name"], values["password"], values["email"] or None, values["phone"]
    )


@dataclass(frozen=True)
class Credentials:
    login: str
    password: str
    remember: bool


def credentials(body: Mapping[str, Any]) -> Credentials:
    name = next((name for name in LOGIN_FIELDS if body.get(name) is not None), "user_name")
    login = Field(name, LOGIN[name].rule, required=True).read(body)
    password = LOGIN["password"].read(body)
    return Credentials(login, password, bool(LOGIN["remember"].read(body)))


@dataclass(frozen=True)
class PasswordChange:
    old_password: str
    password: str


def password_change(body: Mapping[str, Any]) -> PasswordChange:
    values = PASSWORD_CHANGE.read(body)
    return PasswordChange(values["old_password"], values["password"])


def logout_everywhere(body: Mapping[str, Any]) -> bool:
    return bool(LOGOUT.read(body)["all"])


def acceptance(body: Mapping[str, Any]) -> Acceptance:
    values = ACCEPT.read(body)
    return Acceptance(
        order_id=values["id"],
        remark=values["remark"] or "",
        version=values["version"],
        quote_price=values["quote_price"],
    )


def order_note(body: Mapping[str, Any]) -> tuple[int, str]:
    """The order id and the optional reason of a reject or cancel ('' when absent)."""
    values = REJECT.read(body)
    return values["id"], values["reason"] or ""


@dataclass(frozen=True)
class QuoteRequest:
    order_id: int
    price: str
    content: str


def quote_request(body: Mapping[str, Any]) -> QuoteRequest:
    values = QUOTE.read(body)
    return QuoteRequest(values["id"], values["quote_price"], values["quote_content"])


def status_change(body: Mapping[str, Any]) -> tuple[int, Status]:
    values = SET_STATUS.read(body)
    return values["id"], values["status"]


def images_change(body: Mapping[str, Any]) -> tuple[int, list[str] | None, list[str] | None]:
    values = SET_IMAGES.read(body)
    return values["id"], values["sketch_images"], values["finished_images"]


def replacement_fields(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    return REPLACE_FIELDS.read(body)["fields"]


# ---------------------------------------------------------------- webhooks and mail (spec 9)

WEBHOOK_EVENT_TYPES = ("order.created", "order.updated", "message.created")
WEBHOOK_URL_MAX = 2000
WEBHOOK_DESCRIPTION_MAX = 500


def _webhook_url(value: str, name: str) -> str:
    """An absolute http(s) URL with a host (is_image_url's rules) and no credentials: the
    shape only; where it points is checked against the network rules by notify.py."""
    if not value:
        return value  # the length rule names the empty field
    if not (_WEB_SCHEME.match(value) and is_image_url(value)) or urlsplit(value).username:
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
CREATE_WEBHOOK = Form(
    (Field(WEBHOOK_URL.name, WEBHOOK_URL.rule, required=True), WEBHOOK_EVENTS, WEBHOOK_DESCRIPTION)
)
UPDATE_WEBHOOK = Form(
    (BODY_ID, WEBHOOK_URL, WEBHOOK_EVENTS, WEBHOOK_DESCRIPTION, Field("enabled", Flag()))
)
WEBHOOK_ID = Form((BODY_ID,))
DELIVERIES_QUERY = Form((Field("webhook_id", Id(in_query=True), required=True), *PAGE_FIELDS))
REDELIVER = Form((Field("delivery_id", Id(), required=True),))
NOTIFICATIONS = Form((Field("email", Flag("mail about my orders"), required=True),))


@dataclass(frozen=True)
class WebhookSettings:
    url: str | None
    events: list[str] | None
    description: str | None
    enabled: bool | None = None


def new_webhook(body: Mapping[str, Any]) -> WebhookSettings:
    values = CREATE_WEBHOOK.read(body)
    return WebhookSettings(values["url"], values["events"] or ["*"], values["description"] or "")


def webhook_changes(body: Mapping[str, Any]) -> tuple[int, WebhookSettings]:
    values = UPDATE_WEBHOOK.read(body)
    settings = WebhookSettings(
        values["url"], values["events"], values["description"], values["enabled"]
    )
    return values["id"], settings


def webhook_id(body: Mapping[str, Any]) -> int:
    return WEBHOOK_ID.read(body)["id"]


ATTACHMENT_ID = Form((BODY_ID,))


def attachment_id(body: Mapping[str, Any]) -> int:
    return ATTACHMENT_ID.read(body)["id"]


def deliveries_query(query: Mapping[str, str]) -> tuple[int, Page]:
    return DELIVERIES_QUERY["webhook_id"].read(query), page(query)


def redelivery(body: Mapping[str, Any]) -> int:
    return REDELIVER.read(body)["delivery_id"]


def notify_email(body: Mapping[str, Any]) -> bool:
    return NOTIFICATIONS.read(body)["email"]
