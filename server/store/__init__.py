"""The storage interface: intent-named async operations, each one statement or one
transaction. Handlers call these and never see SQL; engines implement them.

`owner_id` scopes an order operation to its customer: the SQL carries
`AND user_id = ?`. Merchant operations pass `ANY_OWNER` instead.
"""

import abc
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from server.validate import NewMessage, NewOrder, OrderChanges, Page

ANY_OWNER = None  # the merchant's scope: every order

Row = dict[str, Any]


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


@dataclass(frozen=True)
class Quote:
    price: str  # "12000.00"
    content: str


class Store(abc.ABC):
    # ---------------------------------------------------------------- users and sessions

    @abc.abstractmethod
    async def create_user(
        self, user_name: str, email: str | None, phone: str | None, password_hash: str
    ) -> Row:
        """Insert a customer; raises AlreadyTaken naming the field that clashes."""

    @abc.abstractmethod
    async def get_login_user(self, login: str) -> Row | None:
        """The user whose name (ignoring ASCII case), email or phone is `login`,
        with its `password_hash`."""

    @abc.abstractmethod
    async def save_admin(self, user_name: str, password_hash: str) -> Row:
        """Create an admin, or promote an existing user and set its password."""

    @abc.abstractmethod
    async def create_session(self, token_hash: bytes, user_id: int, expires_at: int) -> None:
        """Store a new session and drop the user's expired ones."""

    @abc.abstractmethod
    async def reserve_login_attempt(
        self, subjects: list[str], window: int, max_failures: int
    ) -> bool:
        """Atomically: False if any subject has `max_failures` failures in the last
        `window` seconds; otherwise count this attempt as a failure (until
        `clear_login_failures` says it succeeded) and return True."""

    @abc.abstractmethod
    async def clear_login_failures(self, subjects: list[str]) -> None: ...

    @abc.abstractmethod
    async def get_session_user(self, token_hash: bytes, now: int) -> tuple[Row, int] | None:
        """The user of an unexpired session and the session's expiry."""

    @abc.abstractmethod
    async def renew_session(self, token_hash: bytes, expires_at: int) -> None: ...

    @abc.abstractmethod
    async def delete_session(self, token_hash: bytes) -> None: ...

    # ---------------------------------------------------------------- orders

    @abc.abstractmethod
    async def create_order(self, user_id: int, order: NewOrder) -> Row: ...

    @abc.abstractmethod
    async def list_orders(self, where: OrderFilter, page: Page) -> tuple[list[Row], int]:
        """Newest first, with the count of all matches."""

    @abc.abstractmethod
    async def get_order_detail(self, order_id: int, owner_id: int | None) -> Row:
        """The order with `order_fields`, `user`, the last messages and `messages_total`."""

    @abc.abstractmethod
    async def update_order(
        self,
        order_id: int,
        owner_id: int,
        changes: OrderChanges,
        expected_version: int | None,
    ) -> Row:
        """The seed's update (spec 4.4), one transaction: merge `order_extra` with
        json_patch, send a quoted order back to 1 when its requirements change,
        bump the version and append a system message naming what changed. Changes
        nothing (and bumps nothing) when every sent value equals the stored one."""

    @abc.abstractmethod
    async def accept_quote(self, order_id: int, owner_id: int, remark: str) -> Row:
        """2 → 3 and a purchase order for the quoted price."""

    @abc.abstractmethod
    async def reject_quote(self, order_id: int, owner_id: int, reason: str) -> Row: ...

    @abc.abstractmethod
    async def cancel_order(self, order_id: int, owner_id: int, reason: str) -> Row: ...

    @abc.abstractmethod
    async def quote_order(self, order_id: int, admin: Sender, quote: Quote) -> Row: ...

    @abc.abstractmethod
    async def set_order_status(self, order_id: int, admin: Sender, status: int) -> Row: ...

    @abc.abstractmethod
    async def set_order_images(
        self, order_id: int, sketch: list[str] | None, finished: list[str] | None
    ) -> Row: ...

    # ---------------------------------------------------------------- messages

    @abc.abstractmethod
    async def list_messages(
        self, order_id: int, owner_id: int | None, page: Page
    ) -> tuple[list[Row], int]:
        """Oldest first (ties by id)."""

    @abc.abstractmethod
    async def add_message(self, message: NewMessage, owner_id: int | None, sender: Sender) -> Row:
        """Append to a thread that is not cancelled; an admin's message moves a
        pending order to 1."""

    # ---------------------------------------------------------------- field definitions

    @abc.abstractmethod
    async def get_field_definitions(self) -> list[Row]: ...

    @abc.abstractmethod
    async def replace_field_definitions(self, fields: list[Row]) -> list[Row]: ...

    # ---------------------------------------------------------------- bulk loading

    @abc.abstractmethod
    async def bulk_create_users(self, user_names: list[str], password_hash: str) -> list[int]:
        """Insert many customers sharing one password hash (benchmarks, imports)."""

    @abc.abstractmethod
    async def bulk_create_orders(self, orders: list[tuple[int, NewOrder]]) -> None:
        """Insert many (user_id, order) pairs in one transaction; writes no messages."""

    # ---------------------------------------------------------------- lifecycle

    @abc.abstractmethod
    async def close(self) -> None: ...


async def open_store(
    db: str, *, clock: Callable[[], float] = time.time, synchronous: str = "normal"
) -> Store:
    """Open the engine named by `db` (a file path: SQLite) and bring its schema up to date."""
    from server.store.sqlite import SqliteStore

    return await SqliteStore.open(db, clock=clock, synchronous=synchronous)
