"""Values passed to and from the store."""

from dataclasses import dataclass
from typing import Any

Row = dict[str, Any]

ANY_OWNER = None  # the merchant's scope: every order


@dataclass(frozen=True)
class Sender:
    """Who writes a message: always taken from the session, never from the body."""

    user_id: int
    user_name: str
    sender_type: str  # "user" or "admin"


@dataclass(frozen=True)
class OrderFilter:
    owner_id: int | None = ANY_OWNER
    status: int | None = None
    user_id: int | None = None
    search: str | None = None
    reader: int = 0  # the caller, for whom unread counts are made
    sort: str = "created"  # or "activity"
    unread: bool = False
    awaiting_reply: bool = False
    assignee_id: int | None = None  # 0: unassigned


@dataclass(frozen=True)
class LoginLimits:
    """Login throttling: failures counted per (account, client address) pair and
    per client address within `window` seconds."""

    window: int
    per_pair: int
    per_address: int  # 0: no limit per address
