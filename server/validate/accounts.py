"""Accounts: registration, login, logout, password change, and the rules of names,
passwords and emails."""

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from .. import model, texts, unicode_scripts
from ..errors import Invalid
from .declare import Field, Flag, Form, Str
from .values import PHONE, Id


def _user_name_characters(value: str, name: str) -> str:
    """NFKC-normalized, refused if it holds a control, format or line separator
    character anywhere (trimming does not excuse one), if it is a reserved name, or
    if it mixes writing systems (unicode_scripts.py) so that it can pass for another
    name."""
    value = model.normalize_user_name(value)
    if any(unicodedata.category(char) in model.USER_NAME_FORBIDDEN_CATEGORIES for char in value):
        raise Invalid(texts.USER_NAME_CHARACTERS, field=name)
    _refuse_reserved(value, name)
    if not unicode_scripts.is_highly_restrictive(value):
        raise Invalid(texts.USER_NAME_SCRIPTS, field=name)
    return value


def _refuse_reserved(value: str, name: str) -> None:
    reserved = model.reserved_user_name(value)
    if reserved is not None:
        raise Invalid(texts.USER_NAME_RESERVED, field=name, name=reserved)


USER_NAME = Str(
    *model.USER_NAME_LEN,
    prepare=_user_name_characters,
    description="NFKC-normalized; no control, format or line separator character; "
    'not "system" nor "deleted-<digits>" in any letter case; its letters of one script, '
    "or Latin mixed only with "
    "Japanese (Han, Hiragana, Katakana), Chinese (Han, Bopomofo) or Korean (Han, Hangul) "
    'ones (Unicode UTS 39 "highly restrictive": no Latin with Cyrillic or Greek); digits '
    "and punctuation go with any script",
)
PASSWORD = Str(*model.PASSWORD_LEN, trim=False)
# A password being checked, not set: any length up to the maximum.
PASSWORD_SENT = Str(1, model.PASSWORD_LEN[1], trim=False)
# An email address: exactly one `local@domain`. Neither part may hold a space (any
# Unicode space, line or paragraph separator), a control or invisible format character,
# nor any of " ' ( ) , : ; < > @ [ \ ] (so the value can be nothing but one address:
# no list, no display name, no group, no quoting); the domain holds at least one dot and
# no empty label; and nowhere may "=?" appear, so a mail header never holds text a
# reader would decode as an RFC 2047 encoded word. One pattern for the check and the
# OpenAPI document (Python and ECMAScript read it alike).
_EMAIL_NOT = (
    r"\x00-\x20\x7f-\xa0\xad\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064"
    r"\u2066-\u206f\u3000\ufeff\ufff9-\ufffb"
    r""""'(),:;<>@\[\\\]"""
)
EMAIL_ADDRESS_PATTERN = rf"(?!.*=\?)[^{_EMAIL_NOT}]+@[^{_EMAIL_NOT}.]+(?:\.[^{_EMAIL_NOT}.]+)+"
_EMAIL_ADDRESS = re.compile(EMAIL_ADDRESS_PATTERN)


def is_email_address(value: str) -> bool:
    """One address as EMAIL takes it (not empty, at most model.EMAIL_MAX characters):
    what the outbox checks again before mailing an address stored earlier."""
    return len(value) <= model.EMAIL_MAX and _EMAIL_ADDRESS.fullmatch(value) is not None


EMAIL = Str(
    0,
    model.EMAIL_MAX,
    pattern=f"|{EMAIL_ADDRESS_PATTERN}",
    pattern_message=texts.EMAIL_FORM,
    description='empty (no email), or exactly one address "local@domain": no space, '
    "control or invisible format character, none of \" ' ( ) , : ; < > @ [ \\ ] in either "
    'part, no "=?" anywhere, the domain holding a dot and no empty label',
)
_SENDER = re.compile(r"(?P<name>[^<>]*?)\s*<(?P<address>[^<>]*)>")
_NOT_IN_HEADERS = frozenset(("Cc", "Cf", "Zl", "Zp"))


def mail_sender(text: str) -> tuple[str, str]:
    """--mail-from: `address` or `Display Name <address>` (the name may be in double
    quotes), as (name, address); the address passes EMAIL's rule and the name holds no
    control, format or line-break character and no "=?". ValueError otherwise."""
    text = text.strip()
    found = _SENDER.fullmatch(text)
    name, address = (found["name"].strip(), found["address"].strip()) if found else ("", text)
    if len(name) > 1 and name[0] == name[-1] == '"':
        name = name[1:-1]
    if not is_email_address(address):
        raise ValueError(f"not one email address: {address!r}")
    if "=?" in name or any(unicodedata.category(c) in _NOT_IN_HEADERS for c in name):
        raise ValueError(f"the name may not hold line breaks, control characters or =?: {name!r}")
    return name, address


@dataclass(frozen=True)
class Registration:
    user_name: str
    password: str
    email: str | None
    phone: str | None

    def __post_init__(self) -> None:
        if not self.email:  # "" means no email
            object.__setattr__(self, "email", None)


REGISTER = Form(
    (
        Field("user_name", USER_NAME, required=True),
        Field("password", PASSWORD, required=True),
        Field("email", EMAIL),
        Field("phone", PHONE, empty_is_absent=True),
    ),
    Registration,
)


@dataclass(frozen=True)
class Credentials:
    login: str
    password: str
    remember: bool


# AnqiCMS clients log in with `email` or `phone`; the first of these present is used.
LOGIN_FIELDS = ("user_name", "email", "phone")


def _credentials(
    user_name: str | None, email: str | None, phone: str | None, password: str, remember: bool
) -> Credentials:
    login = next(name for name in (user_name, email, phone) if name is not None)
    return Credentials(login, password, remember)


class LoginForm(Form[Any]):
    """Only the first of `user_name`, `email` and `phone` sent is read (and checked),
    then the form's other fields."""

    def read(self, source: Any) -> dict[str, Any]:
        sent = next((name for name in LOGIN_FIELDS if source.get(name) is not None), "user_name")
        values: dict[str, Any] = dict.fromkeys(LOGIN_FIELDS)
        login = Field(sent, self[sent].rule, required=True).read(source)
        _refuse_reserved(login, sent)  # a reserved name is no login
        values[sent] = login
        for one in self.fields:
            if one.name not in LOGIN_FIELDS:
                values[one.name] = one.read(source)
        return values


LOGIN_NAMES = (
    Field(
        "user_name",
        Str(
            1,
            model.EMAIL_MAX,
            description='the user name, email or phone; "system" and "deleted-<digits>" '
            "in any letter case are refused (no account logs in with them)",
        ),
    ),
    Field("email", Str(1, model.EMAIL_MAX, description="used when user_name is not sent")),
    Field(
        "phone",
        Str(1, model.EMAIL_MAX, description="used when neither user_name nor email is sent"),
    ),
)

LOGIN = LoginForm(
    (
        *LOGIN_NAMES,
        Field("password", PASSWORD_SENT, required=True),
        Field(
            "remember",
            Flag("a session of --remember-ttl seconds instead of --session-ttl"),
            default=False,
        ),
    ),
    _credentials,
    one_of_required=LOGIN_FIELDS,
)


@dataclass(frozen=True)
class Logout:
    all: bool


LOGOUT = Form((Field("all", Flag("every session of the user"), default=False),), Logout)


@dataclass(frozen=True)
class PasswordChange:
    old_password: str
    password: str


PASSWORD_CHANGE = Form(
    (
        Field("old_password", PASSWORD_SENT, required=True),
        Field("password", PASSWORD, required=True),
    ),
    PasswordChange,
)


def _login_named(user_name: str | None, email: str | None, phone: str | None) -> str:
    return next(name for name in (user_name, email, phone) if name is not None)


# A forgotten password: the account named as a login names it.
FORGOT = LoginForm(LOGIN_NAMES, _login_named, one_of_required=LOGIN_FIELDS)


@dataclass(frozen=True)
class PasswordReset:
    token: str
    password: str


PASSWORD_RESET = Form(
    (
        Field(
            "token",
            Str(1, 256, trim=False, description="the token of the reset link"),
            required=True,
        ),
        Field("password", PASSWORD, required=True),
    ),
    PasswordReset,
)


@dataclass(frozen=True)
class AccountDelete:
    password: str


ACCOUNT_DELETE = Form((Field("password", PASSWORD_SENT, required=True),), AccountDelete)


# An admin's reset link for a user.
USER_ID = Form((Field("id", Id(description="the user's id"), required=True),), lambda id: id)
