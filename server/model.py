"""Domain constants: message types, event types and every limit, named once. (An
order's statuses and moves are in workflow.py, what answers hold in entities.py.)"""

import re
import string
import unicodedata
from dataclasses import dataclass

from . import texts
from .errors import Invalid

MESSAGE_TYPES = frozenset(
    [
        "text",
        "image",
        "quote",
        "video",
        "file",
        "audio",
        "location",
        "contact",
        "sticker",
        "unknown",
    ]
)
# An internal note: a merchant-side message that no customer ever sees. Written only by
# the note endpoint; the message endpoints refuse it.
NOTE = "note"
STORED_MESSAGE_TYPES = MESSAGE_TYPES | {NOTE}
# A note's events are recorded for this owner: every merchant stream sees them, no
# customer's.
MERCHANT_ONLY = 0
# last_message's content is cut to this many characters.
LAST_MESSAGE_PREVIEW = 200
SYSTEM_SENDER_NAME = "system"

MAX_ID = 2**63 - 1
MAX_BODY_BYTES = 1024 * 1024
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
DETAIL_MESSAGES = 100

USER_NAME_LEN = (2, 64)
PASSWORD_LEN = (8, 128)
EMAIL_MAX = 254
PHONE_LEN = (5, 32)
TITLE_LEN = (1, 250)
CONTENT_LEN = (1, 20000)
EVENT_DATE_MAX = 64
IMAGES_MAX = 20
IMAGE_URL_MAX = 1000
NOTE_MAX = 1000  # remark and reason
MESSAGE_LEN = (1, 10000)
QUOTE_CONTENT_LEN = (1, 10000)
QUOTE_PRICE_MAX_CENTS = 99999999999  # 999999999.99

EXTRA_MAX_KEYS = 100
EXTRA_KEY_LEN = (1, 64)
EXTRA_MAX_DEPTH = 4
EXTRA_MAX_BYTES = 16 * 1024

FIELD_TYPES = ("text", "textarea", "number", "select", "radio", "checkbox", "date")
FIELD_TYPES_WITH_OPTIONS = frozenset({"select", "radio", "checkbox"})

# ---------------------------------------------------------------- accounts

# Roles: a customer, staff (who answer customers: the merchant's view of every order,
# but not the merchant's settings), an admin (everything).
ROLES = ("user", "staff", "admin")
MERCHANT_ROLES = frozenset({"staff", "admin"})

# A user name holding a character of these Unicode categories is refused: control (Cc),
# format (Cf: zero-width, bidi overrides, ...), line and paragraph separators (Zl, Zp).
USER_NAME_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
SESSIONS_PER_USER = 50
# A session's or an API key's last use is written at most this often (a request within
# it writes nothing).
LAST_USE_SECONDS = 60
# An API key's name's length.
API_KEY_NAME_LEN = (1, 100)
API_KEY_ROLES = ("staff", "admin")
LOGIN_FAILURE_WINDOW = 15 * 60
LOGIN_FAILURES_PER_PAIR = 5  # per (account, client address) in the window
REGISTRATION_WINDOW = 60 * 60
# Password reset links: a token lives an hour and works once; forgotten-password
# requests are limited per client address, and their mails per account.
RESET_TOKEN_TTL = 60 * 60
RESET_REQUESTS_PER_ADDRESS = 5
RESET_REQUEST_WINDOW = 15 * 60
RESET_MAILS_PER_ACCOUNT = 3
RESET_MAIL_WINDOW = 60 * 60
# An erased account: its name, and a password hash no password matches.
DELETED_USER_NAME = "deleted-{id}"
DELETED_PASSWORD_HASH = "!"


def normalize_user_name(name: str) -> str:
    return unicodedata.normalize("NFKC", name)


# Names no account may have or log in with: system messages are signed "system", and
# erased accounts are named deleted-<id>.
RESERVED_USER_NAMES = frozenset({SYSTEM_SENDER_NAME})
_ERASED_NAME = re.compile(r"deleted-[0-9]+")


def reserved_user_name(name: str) -> str | None:
    """The reserved name that `name` is, in any letter case after NFKC and trimming."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    folded = folded.strip()
    reserved = folded in RESERVED_USER_NAMES or _ERASED_NAME.fullmatch(folded)
    return folded if reserved else None


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def login_key(value: str) -> str:
    """A user name, email or phone as the login namespace compares it: NFKC, ignoring
    ASCII case only (names are unique ignoring ASCII case: `Straße` and `STRASSE`, or
    `Ä` and `ä`, stay different names)."""
    return unicodedata.normalize("NFKC", value).translate(_ASCII_LOWER)


# ---------------------------------------------------------------- values the store takes


@dataclass(frozen=True)
class Page:
    number: int
    size: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


def check_extra_size(key_count: int, json_bytes: int) -> None:
    """The limits a merge can break even when the patch keeps them."""
    if key_count > EXTRA_MAX_KEYS:
        raise Invalid(texts.EXTRA_TOO_MANY_KEYS, count=EXTRA_MAX_KEYS)
    if json_bytes > EXTRA_MAX_BYTES:
        raise Invalid(texts.EXTRA_TOO_BIG, size=EXTRA_MAX_BYTES)


# ---------------------------------------------------------------- attachments

UPLOADS_PREFIX = "/uploads/"
THUMBS_PREFIX = "/uploads/thumb/"
FILE_NAME_MAX = 255
UPLOAD_NAME_BYTES = 18  # 144 random bits, 24 URL-safe characters
# An upload's name: the random part and one of the extensions media.py gives.
UPLOAD_NAME = re.compile(r"[A-Za-z0-9_-]{22,64}\.(jpg|png|gif|webp|pdf)")


@dataclass(frozen=True)
class NewAttachment:
    name: str  # "<random>.<ext>": the URL's last part, also of its thumbnail
    file_name: str
    content_type: str
    data: bytes
    md5: str
    width: int
    height: int
    thumb: bytes | None  # None for a PDF


def order_thumb(images: list[str]) -> str:
    """An order's `thumb`: the thumbnail of the first image when it is an upload of this
    server ("" for an uploaded PDF, which has none), else the first image, else ""."""
    if not images:
        return ""
    first = images[0]
    if first.startswith(UPLOADS_PREFIX):
        found = UPLOAD_NAME.fullmatch(first[len(UPLOADS_PREFIX) :])
        if found:
            return "" if found[1] == "pdf" else THUMBS_PREFIX + found[0]
    return first


# ---------------------------------------------------------------- mail

# What a mail is about. The merchant's side is mailed about the first five, the
# order's customer about the others.
NEW_ORDER = "new_order"
CUSTOMER_MESSAGE = "customer_message"
ACCEPTED = "accepted"
REJECTED = "rejected"
CANCELLED = "cancelled"
MERCHANT_MESSAGE = "merchant_message"
QUOTED = "quoted"
STATUS_CHANGED = "status_changed"
# A purchase order's moves the customer is told of.
PAID = "paid"
DELIVERED = "delivered"
REFUNDED = "refunded"
TO_MERCHANT = frozenset({NEW_ORDER, CUSTOMER_MESSAGE, ACCEPTED, REJECTED, CANCELLED})
# To a staff member or admin: an order was assigned to them by someone else.
ASSIGNED = "assigned"
# The mails that link to the merchant's view of the order.
MERCHANT_SIDE = TO_MERCHANT | {ASSIGNED}
# The mail with a password reset link (no order; its delivery's event_type is
# RESET_MAIL_TYPE, its event_id 0). Its link is erased from the outbox once sent.
PASSWORD_RESET = "password_reset"
RESET_MAIL_TYPE = "password.reset"

# ---------------------------------------------------------------- purchase orders

PAYMENT_REFERENCE_MAX = 128
EXPRESS_COMPANY_MAX = 100
TRACKING_NUMBER_MAX = 100
PAY_WAY_MAX = 32
# The one way of paying built in: the merchant confirms the payment by hand.
OFFLINE = "offline"

# ---------------------------------------------------------------- the merchant's desk

SAVED_REPLIES_MAX = 500
REPLY_TITLE_LEN = (1, 100)
REPLY_CONTENT_LEN = (1, 10000)

# ---------------------------------------------------------------- live events

# What an event says happened; webhooks choose among these.
EVENT_TYPES = ("order.created", "order.updated", "message.created", "purchase_order.updated")

# Events are kept at least a day for resuming streams; open streams per user.
EVENT_KEEP_SECONDS = 86400
# Finished webhook and mail deliveries stay listed this long (the deliveries list).
DELIVERY_KEEP_SECONDS = 30 * 86400
STREAMS_PER_USER = 10
