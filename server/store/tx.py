"""What every store operation is written over, once for both engines.

Each operation is an async function over a `Tx`: one open transaction on one
connection. SQL uses `?` (or `?N`) placeholders; where the engines' SQL really
differs, a statement is given per dialect. The SQLite engine runs these
coroutines synchronously on its connection's thread (its `Tx` never suspends); the
PostgreSQL engine awaits them inside an asyncpg transaction. The operations live by
subject beside this module: accounts, orders, threads, fields.
"""

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import orjson

from .. import model
from ..errors import OrderFinal, OrderNotFound
from .types import ANY_OWNER, Row


class Tx(Protocol):
    dialect: str  # "sqlite" or "postgres"
    # Appended to a SELECT that must lock its row until the transaction ends; SQLite
    # needs none, its write transaction already holds the whole database.
    for_update: str

    async def one(self, sql: str, *params: Any) -> Mapping[str, Any] | None: ...
    async def all(self, sql: str, *params: Any) -> list[Mapping[str, Any]]: ...
    async def value(self, sql: str, *params: Any) -> Any: ...
    async def run(self, sql: str, *params: Any) -> int:
        """Run a statement; how many rows it wrote."""

    async def run_many(self, sql: str, rows: Iterable[tuple]) -> None: ...

    async def insert(self, sql: str, *params: Any) -> int:
        """Run an INSERT (of one or more rows) and return the id of the last row it
        wrote. Cheaper than RETURNING on SQLite, where the connection already knows it."""

    def json(self, column: Any) -> Any:
        """A JSON column's value as Python data."""

    def taken_field(self, error: Exception) -> str | None:
        """The unique user field an insert clashed on, if `error` is such a clash."""

    async def wake_outbox(self) -> None:
        """Once this transaction commits, the delivery worker has something to do."""

    async def lock(self, name: str) -> None:
        """Serialize with every other transaction locking `name`, until this one ends."""

    async def read_slice(
        self, table: str, column: str, row_id: int, offset: int, length: int
    ) -> bytes:
        """Up to `length` bytes of a BLOB/bytea column from `offset`, reading only those."""


ORDER_COLUMNS = """id, user_id, order_id, archive_id, title, content, phone, images,
    sketch_images, finished_images, event_date, status, admin_id, quote_price,
    quote_content, order_extra, created_time, updated_time, version"""

USER_COLUMNS = "id, user_name, email, phone, role, created_time, notify_email"

MESSAGE_COLUMNS = """id, comm_order_id, sender_id, sender_type, sender_name, message_type,
    content, created_time"""

_JSON_ORDER_FIELDS = ("images", "sketch_images", "finished_images", "order_extra")


def to_json(value: Any) -> str:
    return orjson.dumps(value).decode()


def order_row(tx: Tx, row: Mapping[str, Any]) -> Row:
    order = dict(row)
    for name in _JSON_ORDER_FIELDS:
        order[name] = tx.json(order[name])
    order["thumb"] = model.order_thumb(order["images"])  # spec 3, from the stored images
    return order


def user_row(row: Mapping[str, Any]) -> Row:
    user = dict(row)
    user["email"] = user["email"] or ""
    user["phone"] = user["phone"] or ""
    user["notify_email"] = bool(user["notify_email"])
    return user


async def fetch_order(tx: Tx, order_id: int, owner_id: int | None) -> Mapping[str, Any]:
    """The order, locked for this transaction, and scoped to its owner in SQL unless
    the caller is the merchant."""
    if owner_id is ANY_OWNER:
        sql, params = f"SELECT {ORDER_COLUMNS} FROM comm_orders WHERE id = ?", (order_id,)
    else:
        sql = f"SELECT {ORDER_COLUMNS} FROM comm_orders WHERE id = ? AND user_id = ?"
        params = (order_id, owner_id)
    row = await tx.one(sql + tx.for_update, *params)
    if row is None:
        raise OrderNotFound()
    return row


async def fetch_changeable_order(tx: Tx, order_id: int, owner_id: int | None) -> Mapping[str, Any]:
    row = await fetch_order(tx, order_id, owner_id)
    if row["status"] in model.FINAL_STATUSES:
        raise OrderFinal()
    return row


async def ping(tx: Tx) -> None:
    await tx.value("SELECT 1")
