"""API keys (the admins')."""

from dataclasses import dataclass

from .. import model
from .declare import Choice, Field, Form, Str
from .values import BODY_ID


@dataclass(frozen=True)
class NewApiKey:
    name: str
    role: str


CREATE_API_KEY = Form(
    (
        Field(
            "name",
            Str(*model.API_KEY_NAME_LEN, description="what the key is for"),
            required=True,
        ),
        Field("role", Choice(frozenset(model.API_KEY_ROLES), Str(1, 16)), required=True),
    ),
    NewApiKey,
)
API_KEY_ID = Form((BODY_ID,), lambda id: id)
