"""Parsing and checking of every input: pure functions from raw JSON or query values
to typed values. Each failure raises `Invalid` with a message naming the field."""

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import orjson

from . import messages as M
from . import model
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
_PHONE = re.compile(r"[0-9 +\-()]+")
_STATUS_VALUES = frozenset(int(s) for s in Status)


# ---------------------------------------------------------------- scalars


def parse_id(value: Any, name: str) -> int:
    """An ID: a JSON integer or a string of at most 19 ASCII digits, 1 … 2^63-1."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        if len(value) > _MAX_ID_DIGITS:
            raise _too_large(name)
        number = int(value)
    else:
        raise Invalid(M.POSITIVE_INTEGER, field=name)
    if number > model.MAX_ID:
        raise _too_large(name)
    if number < 1:
        raise Invalid(M.POSITIVE_INTEGER, field=name)
    return number


def _too_large(name: str) -> Invalid:
    return Invalid(M.INTEGER_TOO_LARGE, field=name, max=model.MAX_ID)


def required_id(source: Mapping[str, Any], name: str) -> int:
    value = source.get(name)
    if value is None:
        raise Invalid(M.REQUIRED, field=name)
    return parse_id(value, name)


def optional_id(source: Mapping[str, Any], name: str) -> int | None:
    value = source.get(name)
    return None if value is None else parse_id(value, name)


def _length_rule(name: str, low: int, high: int) -> Invalid:
    if low == 0:
        return Invalid(M.LENGTH_MAX, field=name, high=high)
    return Invalid(M.LENGTH_RANGE, field=name, low=low, high=high)


def optional_str(
    source: Mapping[str, Any], name: str, low: int, high: int, *, trim: bool = True
) -> str | None:
    """A string field that may be absent (or null). Trimmed unless `trim` is off."""
    value = source.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(M.NOT_A_STRING, field=name)
    if trim:
        value = value.strip()
    if not low <= len(value) <= high:
        if low and not value:
            raise Invalid(M.EMPTY, field=name)
        raise _length_rule(name, low, high)
    return value


def required_str(
    source: Mapping[str, Any], name: str, low: int, high: int, *, trim: bool = True
) -> str:
    value = optional_str(source, name, low, high, trim=trim)
    if value is None:
        raise Invalid(M.REQUIRED, field=name)
    return value


def optional_phone(source: Mapping[str, Any], name: str = "phone") -> str | None:
    phone = optional_str(source, name, *model.PHONE_LEN)
    if phone is not None and not _PHONE.fullmatch(phone):
        raise Invalid(M.PHONE_CHARACTERS, field=name)
    return phone


def optional_url_list(source: Mapping[str, Any], name: str) -> list[str] | None:
    """A list of image URLs: at most 20 strings of 1-1000 characters after trimming,
    each one that a browser may safely load or follow (`is_image_url`)."""
    value = source.get(name)
    if value is None:
        return None
    if not isinstance(value, list):
        raise Invalid(M.NOT_A_STRING_LIST, field=name)
    if len(value) > model.IMAGES_MAX:
        raise Invalid(M.TOO_MANY_ITEMS, field=name, count=model.IMAGES_MAX)
    urls = []
    for item in value:
        if not isinstance(item, str):
            raise Invalid(M.NOT_A_STRING_LIST, field=name)
        url = item.strip()
        if not 1 <= len(url) <= model.IMAGE_URL_MAX:
            raise Invalid(M.ITEM_LENGTH, field=name, high=model.IMAGE_URL_MAX)
        if not is_image_url(url):
            raise Invalid(M.IMAGE_URL_FORM, field=name)
        urls.append(url)
    return urls


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


def optional_note(source: Mapping[str, Any], name: str) -> str:
    """`remark` / `reason`: optional, at most 1000 characters, '' when absent."""
    return optional_str(source, name, 0, model.NOTE_MAX) or ""


def optional_status(query: Mapping[str, str], name: str = "status") -> Status | None:
    """A status filter from the query string; empty means no filter."""
    text = query.get(name, "").strip()
    if not text:
        return None
    digits = text.removeprefix("-")
    if _DIGITS.fullmatch(digits) and len(digits) <= _MAX_ID_DIGITS:
        number = int(text)
        if number in _STATUS_VALUES:
            return Status(number)
    raise Invalid(M.ONE_OF, field=name, choices=", ".join(map(str, sorted(_STATUS_VALUES))))


def reject_nul(source: Mapping[str, Any]) -> None:
    """No string in a request body or query (keys included, at any depth) may hold
    U+0000 (spec 1): PostgreSQL cannot store it and SQLite would keep a different
    value than the one shown. The message names the top-level field it is under."""
    for name, value in source.items():
        stack = [name, value]
        while stack:
            node = stack.pop()
            if isinstance(node, str) and _NUL in node:
                raise Invalid(M.NUL_CHARACTER, field=name.replace(_NUL, "\\u0000"))
            if isinstance(node, dict):
                stack.extend(node)
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)


# ---------------------------------------------------------------- pagination


def _page_number(query: Mapping[str, str], name: str, default: int) -> int:
    text = query.get(name, "").strip()
    return parse_id(text, name) if text else default


def page(query: Mapping[str, str]) -> Page:
    """`current` (default 1) and `page_size` / `pageSize` (default 10, capped at 100)."""
    number = _page_number(query, "current", 1)
    size_name = "page_size" if query.get("page_size", "").strip() else "pageSize"
    size = _page_number(query, size_name, model.DEFAULT_PAGE_SIZE)
    # An offset past what SQLite's 64-bit integers hold can only mean an empty page.
    number = min(number, model.MAX_ID // model.MAX_PAGE_SIZE)
    return Page(number, min(size, model.MAX_PAGE_SIZE))


# ---------------------------------------------------------------- order_extra


def _check_extra_node(node: Any, level: int) -> None:
    """Keys of 1-64 characters at every level; nesting at most 4 levels deep."""
    if isinstance(node, dict):
        if level > model.EXTRA_MAX_DEPTH:
            raise _too_deep()
        low, high = model.EXTRA_KEY_LEN
        for key, value in node.items():
            if not low <= len(key) <= high:
                raise Invalid(M.EXTRA_KEY_LENGTH, low=low, high=high)
            _check_extra_node(value, level + 1)
    elif isinstance(node, list):
        if level > model.EXTRA_MAX_DEPTH:
            raise _too_deep()
        for value in node:
            _check_extra_node(value, level + 1)


def _too_deep() -> Invalid:
    return Invalid(M.EXTRA_TOO_DEEP, depth=model.EXTRA_MAX_DEPTH)


def optional_extra(source: Mapping[str, Any]) -> dict[str, Any] | None:
    """`order_extra`: a JSON object within the limits (checked again on the merge result)."""
    extra = source.get("order_extra")
    if extra is None:
        return None
    if not isinstance(extra, dict):
        raise Invalid(M.EXTRA_NOT_OBJECT)
    check_extra_size(len(extra), 0)
    _check_extra_node(extra, 1)
    check_extra_size(len(extra), len(orjson.dumps(extra)))
    return extra


# ---------------------------------------------------------------- requests


def new_order(body: Mapping[str, Any]) -> NewOrder:
    archive_id = required_id(body, "archive_id")
    title = required_str(body, "title", *model.TITLE_LEN)
    content = required_str(body, "content", *model.CONTENT_LEN)
    phone = optional_phone(body)
    if phone is None:
        raise Invalid(M.REQUIRED, field="phone")
    return NewOrder(
        archive_id=archive_id,
        title=title,
        content=content,
        phone=phone,
        images=optional_url_list(body, "images") or [],
        event_date=optional_str(body, "event_date", 0, model.EVENT_DATE_MAX) or "",
        order_extra=optional_extra(body) or {},
    )


def order_changes(body: Mapping[str, Any]) -> tuple[int, OrderChanges, int | None]:
    """The order id, the changes and the expected version of an update request."""
    order_id = required_id(body, "id")
    changes = OrderChanges(
        title=optional_str(body, "title", *model.TITLE_LEN),
        content=optional_str(body, "content", *model.CONTENT_LEN),
        phone=optional_phone(body),
        images=optional_url_list(body, "images"),
        event_date=optional_str(body, "event_date", 0, model.EVENT_DATE_MAX),
        order_extra=optional_extra(body),
    )
    return order_id, changes, optional_id(body, "version")


def new_message(body: Mapping[str, Any]) -> NewMessage:
    comm_order_id = required_id(body, "comm_order_id")
    message_type = required_str(body, "message_type", 1, 32)
    if message_type not in model.MESSAGE_TYPES:
        raise Invalid(
            M.ONE_OF, field="message_type", choices=", ".join(sorted(model.MESSAGE_TYPES))
        )
    content = required_str(body, "content", *model.MESSAGE_LEN)
    return NewMessage(comm_order_id, message_type, content)


@dataclass(frozen=True)
class Registration:
    user_name: str
    password: str
    email: str | None
    phone: str | None


def user_name(source: Mapping[str, Any], name: str = "user_name") -> str:
    """A new user name: NFKC-normalized, refused if it holds a control, format or line
    separator character anywhere (trimming does not excuse one), then trimmed, 2-64."""
    value = source.get(name)
    if isinstance(value, str):
        value = model.normalize_user_name(value)
        if any(
            unicodedata.category(char) in model.USER_NAME_FORBIDDEN_CATEGORIES for char in value
        ):
            raise Invalid(M.USER_NAME_CHARACTERS, field=name)
    return required_str({name: value}, name, *model.USER_NAME_LEN)


def optional_email(source: Mapping[str, Any]) -> str | None:
    email = optional_str(source, "email", 0, model.EMAIL_MAX) or None
    if email is not None and "@" not in email:
        raise Invalid(M.EMAIL_AT)
    return email


def optional_bool(source: Mapping[str, Any], name: str) -> bool:
    """A flag that may be absent (or null): False then."""
    value = source.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise Invalid(M.NOT_A_BOOLEAN, field=name)
    return value


def registration(body: Mapping[str, Any]) -> Registration:
    name = user_name(body)
    password = required_str(body, "password", *model.PASSWORD_LEN, trim=False)
    email = optional_email(body)
    phone = optional_phone(body) if body.get("phone") != "" else None
    return Registration(name, password, email, phone)


@dataclass(frozen=True)
class Credentials:
    login: str
    password: str
    remember: bool


# AnqiCMS clients log in with `email` or `phone`; the first of these present is used.
LOGIN_FIELDS = ("user_name", "email", "phone")


def credentials(body: Mapping[str, Any]) -> Credentials:
    field = next((name for name in LOGIN_FIELDS if body.get(name) is not None), "user_name")
    login = required_str(body, field, 1, model.EMAIL_MAX)
    password = required_str(body, "password", 1, model.PASSWORD_LEN[1], trim=False)
    return Credentials(login, password, optional_bool(body, "remember"))


@dataclass(frozen=True)
class PasswordChange:
    old_password: str
    password: str


def password_change(body: Mapping[str, Any]) -> PasswordChange:
    old_password = required_str(body, "old_password", 1, model.PASSWORD_LEN[1], trim=False)
    password = required_str(body, "password", *model.PASSWORD_LEN, trim=False)
    return PasswordChange(old_password, password)


def logout_everywhere(body: Mapping[str, Any]) -> bool:
    return optional_bool(body, "all")


# ---------------------------------------------------------------- field definitions

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def field_definitions(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The merchant's `{"fields": [...]}`: the whole list of order field definitions."""
    fields = body.get("fields")
    if not isinstance(fields, list):
        raise Invalid(M.FIELDS_NOT_LIST)
    if len(fields) > model.EXTRA_MAX_KEYS:
        raise Invalid(M.FIELDS_TOO_MANY, count=model.EXTRA_MAX_KEYS)
    definitions, names = [], set()
    for position, raw in enumerate(fields):
        where = f"fields[{position}]"
        if not isinstance(raw, dict):
            raise Invalid(M.DEFINITION_NOT_OBJECT, where=where)
        field_name = required_str(raw, "field_name", *model.EXTRA_KEY_LEN)
        if field_name in names:
            raise Invalid(M.DEFINITION_DUPLICATE, where=where, name=field_name)
        names.add(field_name)
        kind = required_str(raw, "type", 1, 16)
        if kind not in model.FIELD_TYPES:
            raise Invalid(
                M.DEFINITION_TYPE, where=where, choices=", ".join(sorted(model.FIELD_TYPES))
            )
        required = raw.get("required", False)
        if not isinstance(required, bool):
            raise Invalid(M.DEFINITION_REQUIRED_FLAG, where=where)
        definitions.append(
            {
                "field_name": field_name,
                "name": optional_str(raw, "name", 0, model.TITLE_LEN[1]) or field_name,
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
        raise Invalid(M.DEFINITION_OPTIONS, where=where, kind=kind)
    if not all(isinstance(o, str) and o.strip() for o in options):
        raise Invalid(M.DEFINITION_OPTION_EMPTY, where=where)
    cleaned = [o.strip() for o in options]
    if len(set(cleaned)) != len(cleaned):
        raise Invalid(M.DEFINITION_OPTIONS_DISTINCT, where=where)
    return cleaned


def _is_empty(value: Any) -> bool:
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


def _check_field_value(definition: Mapping[str, Any], value: Any) -> None:
    name, kind, options = definition["field_name"], definition["type"], definition["options"]
    if kind in ("text", "textarea", "date", "select", "radio") and not isinstance(value, str):
        raise Invalid(M.FIELD_VALUE_STRING, name=name)
    if kind == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise Invalid(M.FIELD_VALUE_NUMBER, name=name)
    if kind in ("select", "radio") and value not in options:
        raise Invalid(M.FIELD_VALUE_OPTION, name=name)
    if kind == "checkbox":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise Invalid(M.FIELD_VALUE_OPTION_LIST, name=name)
        if len(set(value)) != len(value) or not set(value) <= set(options):
            raise Invalid(M.FIELD_VALUE_DISTINCT_OPTIONS, name=name)
    if kind == "date" and not _is_date(value):
        raise Invalid(M.FIELD_VALUE_DATE, name=name)


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
            raise Invalid(M.FIELD_VALUE_REQUIRED, name=name)
        if value is not None:
            _check_field_value(definition, value)


# ---------------------------------------------------------------- quotes


def acceptance(body: Mapping[str, Any]) -> Acceptance:
    return Acceptance(
        order_id=required_id(body, "id"),
        remark=optional_note(body, "remark"),
        version=optional_id(body, "version"),
        quote_price=optional_quote_price(body),
    )


_PRICE = re.compile(r"[0-9]+(\.[0-9]{1,2})?")


def quote_price(body: Mapping[str, Any]) -> str:
    """A price > 0 and ≤ 999999999.99 with at most 2 decimals, as "12000.00"."""
    price = optional_quote_price(body)
    if price is None:
        raise Invalid(M.REQUIRED, field="quote_price")
    return price


def optional_quote_price(body: Mapping[str, Any]) -> str | None:
    """`quote_price` as the merchant's quote takes it (string or number), or None."""
    value = body.get("quote_price")
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        text = repr(value)
    else:
        raise Invalid(M.QUOTE_PRICE_FORMAT)
    if not _PRICE.fullmatch(text):
        raise Invalid(M.QUOTE_PRICE_FORMAT)
    price = Decimal(text)
    if not 0 < price <= Decimal(model.QUOTE_PRICE_MAX_CENTS) / 100:
        raise Invalid(M.QUOTE_PRICE_RANGE)
    return f"{price:.2f}"
