"""What every store operation is written over, once for both engines.

Each operation is an async function over a `Tx`: one open transaction on one
connection (or, for a read of one statement, `one_statement`, that statement alone),
with the time it started (`tx.now`, `tx.now_ms`). SQL uses `?` (or `?N`)
placeholders; where the engines' SQL really differs, a statement is given per dialect.
The SQLite engine runs these coroutines synchronously on its connection's thread (its
`Tx` never suspends); the PostgreSQL engine awaits them inside an asyncpg transaction
(a one-statement read without one).
The operations live by subject beside this module (accounts, orders, threads, fields,
events, outbox, attachments); handlers call them through `Store.read` and
`Store.write`.

What a write means for what a process keeps in memory (cached sessions and field
definitions, open event streams, the delivery worker) the operation says on its `Tx`
(`sessions_revoked`, `users_changed`, ...): the store acts on it once the transaction
has committed, and never for one that rolled back.
"""

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import orjson

from .. import model
from ..entities import MESSAGE, ORDER, USER
from ..errors import OrderNotFound
from .types import ANY_OWNER, Row


@dataclass
class Effects:
    """What a committed write tells the store beyond its rows."""

    revoked_sessions: list[bytes] = field(default_factory=list)  # token hashes
    changed_sessions: list[bytes] = field(default_factory=list)  # renewed, or used
    users_changed: bool = False  # a user's shown fields (role, email, mail setting)
    fields_changed: bool = False  # the order field definitions
    events_recorded: bool = False
    outbox_woken: bool = False  # deliveries were added or made due


class TxBase:
    """The parts of a transaction that are the same on both engines."""

    def __init__(self, clock_seconds: float) -> None:
        self.now = math.floor(clock_seconds)
        self.now_ms = math.floor(clock_seconds * 1000)
        self.effects = Effects()

    def sessions_revoked(self, token_hashes: Iterable[bytes]) -> None:
        """These sessions end once this transaction commits (open streams too)."""
        self.effects.revoked_sessions.extend(token_hashes)

    def session_changed(self, token_hash: bytes) -> None:
        self.effects.changed_sessions.append(token_hash)

    def users_changed(self) -> None:
        self.effects.users_changed = True

    def fields_changed(self) -> None:
        self.effects.fields_changed = True

    def events_recorded(self) -> None:
        self.effects.events_recorded = True


# A row as the driver gives it (sqlite3.Row, asyncpg.Record): read by column name or
# position.
DbRow = Any


class Tx(Protocol):
    dialect: str  # "sqlite" or "postgres"
    # Appended to a SELECT that must lock its row until the transaction ends; SQLite
    # needs none, its write transaction already holds the whole database.
    for_update: str
    now: int  # when the transaction started, in seconds
    now_ms: int
    effects: Effects

    async def one(self, sql: str, *params: Any) -> DbRow | None: ...
    async def row(self, sql: str, *params: Any) -> DbRow:
        """The one row a statement certainly answers (an INSERT … RETURNING, a row read
        again in the transaction that wrote it)."""

    async def all(self, sql: str, *params: Any) -> list[DbRow]: ...
    async def value(self, sql: str, *params: Any) -> Any: ...
    async def run(self, sql: str, *params: Any) -> int:
        """Run a statement; how many rows it wrote."""

    async def run_many(self, sql: str, rows: Iterable[tuple[Any, ...]]) -> None: ...

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

    def sessions_revoked(self, token_hashes: Iterable[bytes]) -> None: ...
    def session_changed(self, token_hash: bytes) -> None: ...
    def users_changed(self) -> None: ...
    def fields_changed(self) -> None: ...
    def events_recorded(self) -> None: ...


ORDER_COLUMNS = ORDER.columns
USER_COLUMNS = USER.columns
MESSAGE_COLUMNS = MESSAGE.columns


_PLAIN_PLACEHOLDER = re.compile(r"\?(?!\d)")


def numbered_from(sql: str, first: int) -> tuple[str, int]:
    """`sql` with its plain `?` placeholders numbered ?first, ?first+1, ... in turn (so
    that it can sit in a statement that also uses numbered ones), and the next number.
    Every `?` counts: `sql` holds no `?` inside a string literal."""
    numbers = iter(range(first, first + sql.count("?") + 1))
    return _PLAIN_PLACEHOLDER.sub(lambda _: f"?{next(numbers)}", sql), next(numbers)


ONE_STATEMENT = "_orderdesk_one_statement"
Operation = TypeVar("Operation", bound=Callable[..., Any])


def one_statement(operation: Operation) -> Operation:
    """Marks a read operation that runs exactly one statement: that statement is its own
    snapshot, so an engine may run it outside a transaction (PostgreSQL: one round trip
    instead of three; a second statement is refused there). For reads only: outside a
    transaction nothing would make a write read-only or roll it back."""
    setattr(operation, ONE_STATEMENT, True)
    return operation


def to_json(value: Any) -> str:
    return orjson.dumps(value).decode()


def as_dict(row: DbRow) -> Row:
    """A driver's row (sqlite3.Row, asyncpg.Record) as a dict. Not dict(row): a
    sqlite3.Row finds a column by name by comparing it with every column before it,
    case-insensitively, so dict(row) costs n² comparisons (an order's 20 columns: about
    2.3 µs, against 0.8 this way)."""
    return dict(zip(row.keys(), row, strict=True))


def order_row(tx: Tx, row: DbRow) -> Row:
    """An order as answers hold it, from a driver's row of ORDER_COLUMNS."""
    return order_of(tx, as_dict(row))


def order_of(tx: Tx, order: Row) -> Row:
    """The order's stored columns made what answers hold: its JSON columns decoded (in
    place), its `thumb` made from the stored images."""
    for name in _ORDER_JSON_KEYS:
        order[name] = tx.json(order[name])
    order["thumb"] = model.order_thumb(order["images"])
    return order


_ORDER_JSON_KEYS = ORDER.json_keys


def user_row(row: DbRow) -> Row:
    user = as_dict(row)
    user["email"] = user["email"] or ""
    user["phone"] = user["phone"] or ""
    user["notify_email"] = bool(user["notify_email"])
    return user


async def fetch_order(tx: Tx, order_id: int, owner_id: int | None) -> DbRow:
    """The order, locked for this transaction, and scoped to its owner in SQL unless
    the caller is the merchant."""
    sql = f"SELECT {ORDER_COLUMNS} FROM comm_orders WHERE id = ?"
    params: tuple[int, ...] = (order_id,)
    if owner_id is not ANY_OWNER:
        sql, params = sql + " AND user_id = ?", (order_id, owner_id)
    row = await tx.one(sql + tx.for_update, *params)
    if row is None:
        raise OrderNotFound()
    return row


async def ping(tx: Tx) -> None:
    await tx.value("SELECT 1")


# SQLite's probe writes and deletes a value this large: about 18 pages reach the WAL.
PROBE_BYTES = 64 * 1024
_PROBE_KEY = "orderdesk.probe"


async def probe_write(tx: Tx) -> None:
    """A write that changes nothing but must reach the database's storage: whether the
    database can be written again. SQLite writes a settings row of PROBE_BYTES and
    deletes it in the same transaction: room for a change of ordinary size, not for one
    page only (a full disk can leave room in the WAL for a page but not for an order).
    PostgreSQL writes a new version of the newest migration row."""
    if tx.dialect == "sqlite":
        await tx.run(
            "INSERT INTO settings (key, value) VALUES (?, zeroblob(?))", _PROBE_KEY, PROBE_BYTES
        )
        await tx.run("DELETE FROM settings WHERE key = ?", _PROBE_KEY)
    else:
        await tx.run(
            """UPDATE schema_migrations SET applied_time = applied_time
               WHERE version = (SELECT max(version) FROM schema_migrations)"""
        )
