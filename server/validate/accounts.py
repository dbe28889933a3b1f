"""Accounts: registration, login, logout, password change, and the rules of names,
passwords and emails."""

import unicodedata
from dataclasses import dataclass
from typing import Any

from .. import model, texts
from ..errors import Invalid
from .declare import Field, Flag, Form, Str
from .values import PHONE


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
EMAIL = Str(
    0,
    model.EMAIL_MAX,
    pattern=r"|[\s\S]*@[\s\S]*",
    pattern_message=texts.EMAIL_AT,
    description="empty (no email) or holding an @",
)


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


class LoginForm(Form[Credentials]):
    """Only the first of `user_name`, `email` and `phone` sent is read (and checked)."""

    def read(self, source: Any) -> dict[str, Any]:
        sent = next((name for name in LOGIN_FIELDS if source.get(name) is not None), "user_name")
        values = dict.fromkeys(LOGIN_FIELDS)
        values[sent] = Field(sent, self[sent].rule, required=True).read(source)
        values["password"] = self["password"].read(source)
        values["remember"] = self["remember"].read(source)
        return values


LOGIN = LoginForm(
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
