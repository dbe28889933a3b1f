"""The rules of orderdesk's own values, shared by the subjects' forms: IDs, pages,
statuses, image URLs, NUL characters, order_extra, prices, phones and notes."""

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit

import orjson

from .. import jsonbody, model, texts
from ..errors import Invalid
from ..model import Page, check_extra_size
from ..workflow import PURCHASE_STATUSES, STATUSES, StatusInfo
from .declare import Custom, Field, Form, Schema, Str, integer, string

T = TypeVar("T")
_DIGITS = re.compile(r"[0-9]+")
# Digits of the largest ID: a longer string is refused before int() ever sees it, so
# neither Python's 4300-digit limit nor a 20-digit ID with leading zeros gets through.
_MAX_ID_DIGITS = len(str(model.MAX_ID))
_NUL = "\x00"


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


# The body fields that are IDs (and `version`): too long for any number type, they
# still answer naming the field.
ID_FIELDS = ("id", "comm_order_id", "archive_id", "user_id", "version", "assignee_id")


def unparsable_number_field(raw: bytes) -> Invalid | None:
    """For a body orjson refused because a number overflows a double: the refusal naming
    the ID field that holds such a number at the top level (an ID answers naming its
    field whatever its length), or None when no ID field does (the body is then simply
    not JSON orderdesk reads). Read from the numbers' text, without parsing the body."""
    written = jsonbody.top_level_numbers(raw, ID_FIELDS)
    return next(
        (_too_large(name) for name in ID_FIELDS if name in written and _huge(written[name])),
        None,
    )


def _huge(number: str) -> bool:
    """An integer of more digits than any ID, or a number beyond a double's range."""
    if number.lstrip("-").isdigit():
        return len(number.lstrip("-")) > _MAX_ID_DIGITS
    return math.isinf(float(number))


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
class IdOrZero:
    """An ID in a JSON body, or 0 for "none" (an integer or a string of ASCII digits)."""

    description: str = ""

    def parse(self, value: Any, name: str) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and value == 0:
            return 0
        digits = isinstance(value, str) and _DIGITS.fullmatch(value)
        if digits and len(value) <= _MAX_ID_DIGITS and not value.strip("0"):
            return 0
        try:
            return parse_id(value, name)
        except Invalid as error:
            if error.text is texts.POSITIVE_INTEGER:
                raise Invalid(texts.ZERO_OR_POSITIVE_INTEGER, field=name) from None
            raise

    def schema(self) -> Schema:
        return {
            "description": self.description
            or "0 or a positive integer, as a JSON integer or a string of ASCII digits",
            "oneOf": [
                integer(minimum=0, maximum=model.MAX_ID),
                string(1, _MAX_ID_DIGITS, pattern="^[0-9]+$"),
            ],
        }


@dataclass(frozen=True)
class QueryNumber:
    """A page number or size in the query: ASCII digits, 1 or more, as an ID is read.
    Sent blank it is no number (-1): blank means "not sent" for filters only."""

    description: str

    def parse(self, value: str, name: str) -> int:
        return parse_id(value, name)

    def schema(self) -> Schema:
        return integer(minimum=1, maximum=model.MAX_ID, description=self.description)


@dataclass(frozen=True)
class QueryFlag:
    """A filter switched on by `1` in the query (`0`, or blank, leaves it off)."""

    description: str

    def parse(self, value: str, name: str) -> bool:
        text = value.strip()
        if text not in ("0", "1"):
            raise Invalid(texts.ONE_OF, field=name, choices="0, 1")
        return text == "1"

    def schema(self) -> Schema:
        return integer(enum=[0, 1], description=self.description)


@dataclass(frozen=True)
class QueryIdOrZero:
    """A user id in the query, or 0 for "nobody"."""

    description: str

    def parse(self, value: str, name: str) -> int:
        text = value.strip()
        if _DIGITS.fullmatch(text) and len(text) <= _MAX_ID_DIGITS and not text.strip("0"):
            return 0
        try:
            return parse_id(text, name)
        except Invalid as error:
            if error.text is texts.POSITIVE_INTEGER:
                raise Invalid(texts.ZERO_OR_POSITIVE_INTEGER, field=name) from None
            raise

    def schema(self) -> Schema:
        return integer(minimum=0, maximum=model.MAX_ID, description=self.description)


def _status_schema(statuses: Mapping[Any, StatusInfo]) -> Schema:
    return integer(
        enum=[int(s) for s in statuses],
        description=", ".join(f"{int(s)} {info.name}" for s, info in statuses.items()),
    )


STATUS_SCHEMA = _status_schema(STATUSES)
PURCHASE_STATUS_SCHEMA = _status_schema(PURCHASE_STATUSES)


@dataclass(frozen=True)
class StatusFilter:
    """A status filter from the query string, one of `statuses` (a communication
    order's by default) or of the `words` that name them; blank means no filter."""

    statuses: Mapping[Any, StatusInfo] = field(default_factory=lambda: STATUSES)
    words: Mapping[str, int] = field(default_factory=dict)

    def parse(self, value: str, name: str) -> int | None:
        text = value.strip()
        if not text:
            return None
        digits = text.removeprefix("-")
        if _DIGITS.fullmatch(digits) and len(digits) <= _MAX_ID_DIGITS:
            number = int(text)
            if number in self.statuses:
                return number
        if text in self.words:
            return self.words[text]
        choices = ", ".join([*map(str, sorted(int(s) for s in self.statuses)), *self.words])
        raise Invalid(texts.ONE_OF, field=name, choices=choices)

    def schema(self) -> Schema:
        numbers = _status_schema(self.statuses)
        if not self.words:
            return numbers
        return {
            "description": f"{numbers['description']}; or by name: "
            + ", ".join(f"{word} ({number})" for word, number in self.words.items()),
            "oneOf": [integer(enum=numbers["enum"]), string(enum=list(self.words))],
        }


# ---------------------------------------------------------------- image URLs

# Stored image URLs become links and <img> sources in browsers (a stored `javascript:`
# URL would run in the merchant's console), so the rule is an allow-list.
# An upload of this server: one name of URL-safe characters and an extension, right
# under /uploads/ or under /uploads/thumb/ (its thumbnail); no other dot or slash.
_UPLOAD_PATH = re.compile(r"/uploads/(?:thumb/)?[A-Za-z0-9_-]+\.[A-Za-z0-9]{1,10}")
WEB_SCHEME = re.compile(r"https?://", re.IGNORECASE)
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
    if not WEB_SCHEME.match(url):
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
    U+0000: PostgreSQL cannot store it and SQLite would keep a different
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


EXTRA_DESCRIPTION = (
    "merged as an RFC 7396 JSON Merge Patch: null removes a key; at most "
    f"{model.EXTRA_MAX_KEYS} keys, keys of 1-64 characters, nesting at most "
    f"{model.EXTRA_MAX_DEPTH} levels, {model.EXTRA_MAX_BYTES} bytes as compact JSON"
)
ORDER_EXTRA = Custom(
    order_extra,
    {"type": "object", "maxProperties": model.EXTRA_MAX_KEYS, "description": EXTRA_DESCRIPTION},
)


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


# ---------------------------------------------------------------- phones and notes

PHONE = Str(*model.PHONE_LEN, pattern=r"[0-9 +()-]+", pattern_message=texts.PHONE_CHARACTERS)
NOTE = Str(0, model.NOTE_MAX)  # remark and reason


# ---------------------------------------------------------------- common fields

BODY_ID = Field("id", Id(), required=True)
VERSION = Field(
    "version",
    Id(
        description="if sent and not the order's version: -1, data "
        '{"version": <current>}, nothing changes'
    ),
)


# ---------------------------------------------------------------- pages

CURRENT = Field("current", QueryNumber("page, default 1"))
PAGE_SIZE = Field("page_size", QueryNumber("default 10, capped at 100"))
PAGE_SIZE_ALIAS = Field("pageSize", QueryNumber("AnqiCMS's name of page_size, used without it"))
PAGE_FIELDS = (CURRENT, PAGE_SIZE, PAGE_SIZE_ALIAS)
_PAGE_NAMES = frozenset(one.name for one in PAGE_FIELDS)


def page(query: Mapping[str, str]) -> Page:
    """`current` (default 1) and `page_size` / `pageSize` (default 10, capped at 100)."""
    number = CURRENT.read(query) or 1
    size_field = PAGE_SIZE if "page_size" in query else PAGE_SIZE_ALIAS
    size = size_field.read(query) or model.DEFAULT_PAGE_SIZE
    # An offset past what SQLite's 64-bit integers hold can only mean an empty page.
    number = min(number, model.MAX_ID // model.MAX_PAGE_SIZE)
    return Page(number, min(size, model.MAX_PAGE_SIZE))


@dataclass(frozen=True)
class PagedForm(Form[T]):
    """A list's query: its own fields, then `current` and `page_size` (or `pageSize`),
    given to `into` as one `page`."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", (*self.fields, *PAGE_FIELDS))
        super().__post_init__()

    def parse(self, source: Mapping[str, Any]) -> T:
        values = {one.name: one.read(source) for one in self.fields if one.name not in _PAGE_NAMES}
        return self.into(**values, page=page(source))
