"""The merchant's desk: the users list and user changes, saved replies."""

from dataclasses import dataclass

from .. import model
from ..model import Page
from .declare import Choice, Field, Flag, Form, Str
from .values import BODY_ID, PagedForm

ROLE = Choice(frozenset(model.ROLES), Str(1, 16))


@dataclass(frozen=True)
class UsersQuery:
    q: str | None
    role: str | None
    page: Page


USERS_QUERY = PagedForm(
    (
        Field(
            "q",
            Str(0, None, description="a part of the user name, email or phone, in any ASCII case"),
        ),
        Field("role", ROLE, empty_is_absent=True),
    ),
    UsersQuery,
)


@dataclass(frozen=True)
class UserChange:
    """What an admin changes of a user; None: kept."""

    id: int
    role: str | None
    disabled: bool | None


UPDATE_USER = Form(
    (
        BODY_ID,
        Field("role", ROLE),
        Field("disabled", Flag("a disabled user may not log in; their sessions end at once")),
    ),
    UserChange,
)

REPLY_TITLE = Str(*model.REPLY_TITLE_LEN)
REPLY_CONTENT = Str(*model.REPLY_CONTENT_LEN)


@dataclass(frozen=True)
class NewReply:
    title: str
    content: str


CREATE_REPLY = Form(
    (Field("title", REPLY_TITLE, required=True), Field("content", REPLY_CONTENT, required=True)),
    NewReply,
)


@dataclass(frozen=True)
class ReplyChange:
    id: int
    title: str | None
    content: str | None


UPDATE_REPLY = Form(
    (BODY_ID, Field("title", REPLY_TITLE), Field("content", REPLY_CONTENT)), ReplyChange
)
REPLY_ID = Form((BODY_ID,), lambda id: id)
