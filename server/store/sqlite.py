"""The embedded SQLite engine (aiosqlite), the default.

Two connections: a writer and a reader. WAL lets the reader see the last
committed state while the writer works. Every operation is a plain function over a
`sqlite3.Connection` that runs whole on the connection's own thread, so a
transaction is one round trip from the event loop and can never interleave with
another request's statements: aiosqlite's thread runs one call at a time.
"""

import asyncio
import contextlib
import logging
import math
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import orjson

from server import model
from server.errors import (
    AlreadyTaken,
    OrderFinal,
    OrderNotFound,
    StatusNotAllowed,
    VersionConflict,
)
from server.model import Status
from server.store import ANY_OWNER, OrderFilter, Quote, Row, Sender, Store
from server.validate import NewOrder, OrderChanges, Page, check_extra_size

SCHEMA = Path(__file__).resolve().parents[2] / "schema.sql"
MIGRATIONS = Path(__file__).resolve().parent / "migrations" / "sqlite"
BUSY_TIMEOUT_MS = 5000
# Checkpoints (copying the WAL back into the database, with an fsync) run on their own
# connection every CHECKPOINT_SECONDS, so commits don't pay for them; the writer's own
# automatic checkpoint stays as a backstop at a larger WAL (pages of 4 KiB).
CHECKPOINT_SECONDS = 0.25
BACKSTOP_CHECKPOINT_PAGES = 10_000

T = TypeVar("T")
log = logging.getLogger("orderdesk.store")

ORDER_COLUMNS = """id, user_id, order_id, archive_id, title, content, phone, images,
    sketch_images, finished_images, event_date, status, admin_id, quote_price,
    quote_content, order_extra, created_time, updated_time, version"""
USER_COLUMNS = "id, user_name, email, phone, role, created_time"
MESSAGE_COLUMNS = """id, comm_order_id, sender_id, sender_type, sender_name, message_type,
    content, created_time"""

_JSON_ORDER_FIELDS = ("images", "sketch_images", "finished_images", "order_extra")


def _order(row: sqlite3.Row) -> Row:
    order = dict(row)
    for name in _JSON_ORDER_FIELDS:
        order[name] = orjson.loads(order[name])
    return order


def _user(row: sqlite3.Row) -> Row:
    user = dict(row)
    user["email"] = user["email"] or ""
    user["phone"] = user["phone"] or ""
    return user


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


# ---------------------------------------------------------------- connection setup


async def _connect(path: str, synchronous: str) -> aiosqlite.Connection:
    # isolation_level=None: no implicit transactions; every one is an explicit BEGIN.
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    # NORMAL in WAL mode: a commit survives the process being killed; FULL also
    # survives power loss. Config allows only these two values.
    level = "FULL" if synchronous == "full" else "NORMAL"
    for pragma in (
        f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
        "PRAGMA foreign_keys = ON",
        "PRAGMA journal_mode = WAL",
        f"PRAGMA synchronous = {level}",
    ):
        await conn.execute(pragma)
    return conn


def _migrate(conn: sqlite3.Connection) -> None:
    """schema.sql is migration 1; numbered files NNNN_*.sql follow, each applied once."""
    steps = [(1, SCHEMA)]
    if MIGRATIONS.is_dir():
        steps += sorted((int(p.name[:4]), p) for p in MIGRATIONS.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, path in steps:
        if number > current:
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{path.read_text()}\nPRAGMA user_version = {number};\nCOMMIT;"
            )


Call = tuple[Callable[..., Any], tuple[Any, ...]]
Outcome = tuple[bool, Any]  # (True, result) or (False, the exception it raised)


def _write_batch(conn: sqlite3.Connection, calls: list[Call]) -> list[Outcome]:
    """Group commit: every call in one BEGIN IMMEDIATE … COMMIT, each inside its own
    savepoint so a failing call is rolled back alone. Nothing is reported as done
    before the COMMIT has succeeded; if it fails, every call fails."""
    outcomes: list[Outcome] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for fn, args in calls:
            conn.execute("SAVEPOINT call")
            try:
                outcomes.append((True, fn(conn, *args)))
            except Exception as error:
                conn.execute("ROLLBACK TO call")
                outcomes.append((False, error))
            conn.execute("RELEASE call")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return outcomes


def _read_batch(conn: sqlite3.Connection, calls: list[Call]) -> list[Outcome]:
    """Every call in one read transaction: each sees one consistent snapshot."""
    outcomes: list[Outcome] = []
    conn.execute("BEGIN")
    try:
        for fn, args in calls:
            try:
                outcomes.append((True, fn(conn, *args)))
            except Exception as error:
                outcomes.append((False, error))
    finally:
        conn.execute("COMMIT")
    return outcomes


class _Batcher:
    """Runs store calls on one aiosqlite connection, a batch per thread round trip.

    Calls that arrive while a batch is running wait and go together in the next one,
    so under load the cost of the hop to the connection's thread (and of the
    COMMIT) is shared. aiosqlite's thread runs one function at a time, so batches
    never interleave; `_execute` is how aiosqlite's own methods queue their work."""

    def __init__(self, conn: aiosqlite.Connection, run: Callable[..., list[Outcome]]) -> None:
        self.conn = conn
        self._run = run
        self._pending: list[tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future]] = []
        self._draining = False

    async def submit(self, fn: Callable[..., T], *args: Any) -> T:
        future = asyncio.get_running_loop().create_future()
        self._pending.append((fn, args, future))
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                calls = [(fn, args) for fn, args, _ in batch]
                try:
                    outcomes = await self.conn._execute(self._run, self.conn._conn, calls)
                except Exception as error:
                    outcomes = [(False, error)] * len(batch)
                for (_, _, future), (ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:
            self._draining = False


# ---------------------------------------------------------------- users and sessions

_UNIQUE_FIELDS = ("user_name", "email", "phone")


def _taken_field(error: sqlite3.IntegrityError) -> str:
    message = str(error)
    return next((f for f in _UNIQUE_FIELDS if f"users.{f}" in message), "user_name")


def _create_user(
    conn: sqlite3.Connection,
    user_name: str,
    email: str | None,
    phone: str | None,
    password_hash: str,
    now: int,
) -> Row:
    try:
        row = conn.execute(
            f"""INSERT INTO users (user_name, email, phone, password_hash, created_time)
                VALUES (?, ?, ?, ?, ?) RETURNING {USER_COLUMNS}""",
            (user_name, email, phone, password_hash, now),
        ).fetchone()
    except sqlite3.IntegrityError as error:
        raise AlreadyTaken(_taken_field(error)) from None
    return _user(row)


def _save_admin(conn: sqlite3.Connection, user_name: str, password_hash: str, now: int) -> Row:
    row = conn.execute(
        f"""INSERT INTO users (user_name, password_hash, role, created_time)
            VALUES (?, ?, 'admin', ?)
            ON CONFLICT (user_name) DO UPDATE
                SET role = 'admin', password_hash = excluded.password_hash
            RETURNING {USER_COLUMNS}""",
        (user_name, password_hash, now),
    ).fetchone()
    return _user(row)


# A user name match wins over another user's email or phone that happens to equal it.
_LOGIN_USER = f"""
    SELECT {USER_COLUMNS}, password_hash FROM users
    WHERE user_name = ?1 OR email = ?1 OR phone = ?1
    ORDER BY user_name = ?1 DESC, email = ?1 DESC LIMIT 1"""

_SESSION_USER = """
    SELECT u.id, u.user_name, u.email, u.phone, u.role, u.created_time, s.expires_at
    FROM sessions s JOIN users u ON u.id = s.user_id
    WHERE s.token_hash = ?"""


# ---------------------------------------------------------------- orders

_SELECT_OWN_ORDER = f"SELECT {ORDER_COLUMNS} FROM comm_orders WHERE id = ? AND user_id = ?"
_SELECT_ANY_ORDER = f"SELECT {ORDER_COLUMNS} FROM comm_orders WHERE id = ?"


def _fetch_order(conn: sqlite3.Connection, order_id: int, owner_id: int | None) -> sqlite3.Row:
    """The order, scoped to its owner in SQL unless the caller is the merchant."""
    if owner_id is ANY_OWNER:
        row = conn.execute(_SELECT_ANY_ORDER, (order_id,)).fetchone()
    else:
        row = conn.execute(_SELECT_OWN_ORDER, (order_id, owner_id)).fetchone()
    if row is None:
        raise OrderNotFound()
    return row


def _fetch_changeable_order(
    conn: sqlite3.Connection, order_id: int, owner_id: int | None
) -> sqlite3.Row:
    row = _fetch_order(conn, order_id, owner_id)
    if row["status"] in model.FINAL_STATUSES:
        raise OrderFinal()
    return row


def _add_system_message(conn: sqlite3.Connection, order_id: int, content: str, now: int) -> None:
    conn.execute(
        """INSERT INTO messages (comm_order_id, sender_id, sender_type, sender_name,
                                 message_type, content, created_time)
           VALUES (?, 0, 'system', ?, 'text', ?, ?)""",
        (order_id, model.SYSTEM_SENDER_NAME, content, now),
    )


def _insert_message(
    conn: sqlite3.Connection, order_id: int, sender: Sender, kind: str, content: str, now: int
) -> Row:
    row = conn.execute(
        f"""INSERT INTO messages (comm_order_id, sender_id, sender_type, sender_name,
                                  message_type, content, created_time)
            VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {MESSAGE_COLUMNS}""",
        (order_id, sender.user_id, sender.sender_type, sender.user_name, kind, content, now),
    ).fetchone()
    return dict(row)


def _create_order(conn: sqlite3.Connection, user_id: int, order: NewOrder, now: int) -> Row:
    # json_patch into '{}' drops null values at every level, as an update would.
    row = conn.execute(
        f"""INSERT INTO comm_orders (user_id, archive_id, title, content, phone, images,
                                     event_date, order_extra, created_time, updated_time)
            VALUES (?, ?, ?, ?, ?, ?, ?, json_patch('{{}}', ?), ?, ?)
            RETURNING {ORDER_COLUMNS}""",
        (
            user_id,
            order.archive_id,
            order.title,
            order.content,
            order.phone,
            _json(order.images),
            order.event_date,
            _json(order.order_extra),
            now,
            now,
        ),
    ).fetchone()
    created = _order(row)
    check_extra_size(len(created["order_extra"]), len(row["order_extra"].encode()))
    return created


_UPDATE_ORDER = f"""
    UPDATE comm_orders SET
        title = coalesce(:title, title),
        content = coalesce(:content, content),
        phone = coalesce(:phone, phone),
        images = coalesce(:images, images),
        event_date = coalesce(:event_date, event_date),
        order_extra = CASE WHEN :patch IS NULL THEN order_extra
                           ELSE json_patch(order_extra, :patch) END,
        version = version + 1,
        updated_time = :now
    WHERE id = :id AND user_id = :user_id
    RETURNING {ORDER_COLUMNS}"""

_SCALAR_CHANGES = ("title", "content", "phone", "images", "event_date")
_REQUIREMENTS = {"title", "content"}
_MISSING = object()


class Unchanged(Exception):
    """Raised inside the write to roll it back when every sent value equals the stored one."""

    def __init__(self, order: Row) -> None:
        self.order = order


def _canonical(value: Any) -> bytes:
    """JSON with sorted keys, so `true` and `1`, or `1` and `1.0`, stay different."""
    return b"" if value is _MISSING else orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _changed_keys(old: dict[str, Any], new: dict[str, Any], patch: dict[str, Any]) -> list[str]:
    """Top-level keys of the patch whose value differs after the merge."""
    return [
        key
        for key in patch
        if _canonical(old.get(key, _MISSING)) != _canonical(new.get(key, _MISSING))
    ]


def _update_order(
    conn: sqlite3.Connection,
    order_id: int,
    owner_id: int,
    changes: OrderChanges,
    expected_version: int | None,
    now: int,
) -> Row:
    old = _fetch_changeable_order(conn, order_id, owner_id)
    if expected_version is not None and expected_version != old["version"]:
        raise VersionConflict(old["version"])
    sent = {
        "title": changes.title,
        "content": changes.content,
        "phone": changes.phone,
        "images": None if changes.images is None else _json(changes.images),
        "event_date": changes.event_date,
    }
    changed = [name for name in _SCALAR_CHANGES if sent[name] not in (None, old[name])]
    if not changed and changes.order_extra is None:
        return _order(old)

    # The merge happens here, in SQLite: one statement, scoped to the owner.
    patch = None if changes.order_extra is None else _json(changes.order_extra)
    params = {**sent, "patch": patch, "now": now, "id": order_id, "user_id": owner_id}
    row = conn.execute(_UPDATE_ORDER, params).fetchone()
    new = _order(row)
    if patch is not None and row["order_extra"] != old["order_extra"]:
        changed += [
            f"order_extra.{key}"
            for key in _changed_keys(
                orjson.loads(old["order_extra"]), new["order_extra"], changes.order_extra
            )
        ]
        check_extra_size(len(new["order_extra"]), len(row["order_extra"].encode()))
    if not changed:
        raise Unchanged(_order(old))  # the write is rolled back: nothing bumps

    if old["status"] == Status.QUOTED and (
        _REQUIREMENTS.intersection(changed) or any(n.startswith("order_extra.") for n in changed)
    ):
        # The customer may no longer accept a quote made for other requirements.
        conn.execute(
            "UPDATE comm_orders SET status = ? WHERE id = ?", (Status.IN_COMMUNICATION, order_id)
        )
        new["status"] = Status.IN_COMMUNICATION
    _add_system_message(conn, order_id, "order updated: " + ", ".join(changed), now)
    return new


_SET_STATUS = f"""
    UPDATE comm_orders SET status = :status, version = version + 1, updated_time = :now
    WHERE id = :id RETURNING {ORDER_COLUMNS}"""


def _move_status(
    conn: sqlite3.Connection,
    order_id: int,
    owner_id: int | None,
    allowed: tuple[Status, ...],
    refusal: str,
    status: Status,
    message: str,
    now: int,
) -> Row:
    """One status move with its system message; refused unless the order is in `allowed`."""
    old = _fetch_order(conn, order_id, owner_id)
    if old["status"] not in allowed:
        raise StatusNotAllowed(refusal)
    row = conn.execute(_SET_STATUS, {"status": status, "now": now, "id": order_id}).fetchone()
    _add_system_message(conn, order_id, message, now)
    return _order(row)


def _with_note(text: str, label: str, note: str) -> str:
    return f"{text}; {label}: {note}" if note else text


def _accept_quote(
    conn: sqlite3.Connection, order_id: int, owner_id: int, remark: str, now: int
) -> Row:
    order = _move_status(
        conn,
        order_id,
        owner_id,
        (Status.QUOTED,),
        "only a quoted order can be accepted",
        Status.ACCEPTED,
        _with_note("quote accepted", "remark", remark),
        now,
    )
    purchase_id = conn.execute(
        """INSERT INTO orders (user_id, comm_order_id, amount, status, remark, created_time)
           VALUES (?, ?, ?, ?, ?, ?) RETURNING id""",
        (owner_id, order_id, order["quote_price"], model.PURCHASE_ORDER_STATUS, remark, now),
    ).fetchone()[0]
    conn.execute("UPDATE comm_orders SET order_id = ? WHERE id = ?", (purchase_id, order_id))
    order["order_id"] = purchase_id
    return order


_QUOTE_ORDER = f"""
    UPDATE comm_orders SET status = :status, quote_price = :price, quote_content = :content,
        admin_id = :admin_id, version = version + 1, updated_time = :now
    WHERE id = :id RETURNING {ORDER_COLUMNS}"""


def _quote_order(
    conn: sqlite3.Connection, order_id: int, admin: Sender, quote: Quote, now: int
) -> Row:
    old = _fetch_order(conn, order_id, ANY_OWNER)
    if old["status"] not in model.QUOTABLE_STATUSES:
        raise StatusNotAllowed("this order can no longer be quoted")
    row = conn.execute(
        _QUOTE_ORDER,
        {
            "status": Status.QUOTED,
            "price": quote.price,
            "content": quote.content,
            "admin_id": admin.user_id,
            "now": now,
            "id": order_id,
        },
    ).fetchone()
    _insert_message(conn, order_id, admin, "quote", f"quote: {quote.price}\n{quote.content}", now)
    return _order(row)


_STATUS_NAMES = {
    Status.CANCELLED: "cancelled",
    Status.PENDING: "pending",
    Status.IN_COMMUNICATION: "in communication",
    Status.QUOTED: "quoted",
    Status.ACCEPTED: "accepted",
    Status.REJECTED: "rejected",
}


def _set_order_status(
    conn: sqlite3.Connection, order_id: int, admin: Sender, status: Status, now: int
) -> Row:
    old = _fetch_changeable_order(conn, order_id, ANY_OWNER)
    if old["status"] == status:
        return _order(old)
    row = conn.execute(
        f"""UPDATE comm_orders SET status = ?, admin_id = ?, version = version + 1,
                updated_time = ?
            WHERE id = ? RETURNING {ORDER_COLUMNS}""",
        (status, admin.user_id, now, order_id),
    ).fetchone()
    message = f"status changed by {admin.user_name}: {_STATUS_NAMES[Status(old['status'])]}"
    _add_system_message(conn, order_id, f"{message} → {_STATUS_NAMES[status]}", now)
    return _order(row)


def _set_order_images(
    conn: sqlite3.Connection,
    order_id: int,
    sketch: list[str] | None,
    finished: list[str] | None,
    now: int,
) -> Row:
    old = _fetch_order(conn, order_id, ANY_OWNER)
    if old["status"] == Status.CANCELLED:
        raise OrderFinal()
    sent = {
        "sketch_images": None if sketch is None else _json(sketch),
        "finished_images": None if finished is None else _json(finished),
    }
    changed = [name for name, value in sent.items() if value not in (None, old[name])]
    if not changed:
        return _order(old)
    row = conn.execute(
        f"""UPDATE comm_orders SET
                sketch_images = coalesce(:sketch_images, sketch_images),
                finished_images = coalesce(:finished_images, finished_images),
                version = version + 1, updated_time = :now
            WHERE id = :id RETURNING {ORDER_COLUMNS}""",
        {**sent, "now": now, "id": order_id},
    ).fetchone()
    _add_system_message(conn, order_id, "images updated: " + ", ".join(changed), now)
    return _order(row)


# ---------------------------------------------------------------- reads


def _list_orders(conn: sqlite3.Connection, where: OrderFilter, page: Page) -> tuple[list[Row], int]:
    clauses, params = [], []
    if where.owner_id is not ANY_OWNER:
        clauses.append("user_id = ?")
        params.append(where.owner_id)
    if where.user_id is not None:
        clauses.append("user_id = ?")
        params.append(where.user_id)
    if where.status is not None:
        clauses.append("status = ?")
        params.append(int(where.status))
    if where.search:
        pattern = (
            "%" + where.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        clauses.append("(title LIKE ? ESCAPE '\\' OR content LIKE ? ESCAPE '\\')")
        params += [pattern, pattern]
    condition = " AND ".join(clauses) or "1"
    # Only fixed clause texts are joined here; every value is a bound parameter.
    total = conn.execute(f"SELECT count(*) FROM comm_orders WHERE {condition}", params).fetchone()[
        0
    ]
    rows = conn.execute(
        f"""SELECT {ORDER_COLUMNS} FROM comm_orders WHERE {condition}
            ORDER BY id DESC LIMIT ? OFFSET ?""",
        [*params, page.size, page.offset],
    ).fetchall()
    return [_order(row) for row in rows], total


_THREAD_OLDEST_FIRST = f"""
    SELECT {MESSAGE_COLUMNS} FROM messages WHERE comm_order_id = ?
    ORDER BY created_time, id LIMIT ? OFFSET ?"""


def _count_messages(conn: sqlite3.Connection, order_id: int) -> int:
    return conn.execute(
        "SELECT count(*) FROM messages WHERE comm_order_id = ?", (order_id,)
    ).fetchone()[0]


def _list_messages(
    conn: sqlite3.Connection, order_id: int, owner_id: int | None, page: Page
) -> tuple[list[Row], int]:
    _fetch_order(conn, order_id, owner_id)
    rows = conn.execute(_THREAD_OLDEST_FIRST, (order_id, page.size, page.offset)).fetchall()
    return [dict(row) for row in rows], _count_messages(conn, order_id)


def _field_definitions(conn: sqlite3.Connection) -> list[Row]:
    row = conn.execute("SELECT value FROM settings WHERE key = 'order_fields'").fetchone()
    return [] if row is None else orjson.loads(row[0])


def _order_detail(conn: sqlite3.Connection, order_id: int, owner_id: int | None) -> Row:
    order = _order(_fetch_order(conn, order_id, owner_id))
    user = conn.execute(
        "SELECT id, user_name FROM users WHERE id = ?", (order["user_id"],)
    ).fetchone()
    total = _count_messages(conn, order_id)
    last = max(total - model.DETAIL_MESSAGES, 0)
    messages = conn.execute(_THREAD_OLDEST_FIRST, (order_id, model.DETAIL_MESSAGES, last))
    extra = order["order_extra"]
    order["order_fields"] = [
        {**field, "value": extra.get(field["field_name"])} for field in _field_definitions(conn)
    ]
    order["user"] = dict(user)
    order["messages"] = [dict(row) for row in messages]
    order["messages_total"] = total
    return order


# ---------------------------------------------------------------- maintenance


def backup(path: str, target: str) -> None:
    """A consistent copy of a live database, made with SQLite's online backup API."""
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        destination = sqlite3.connect(target)
        try:
            source.backup(destination)
        finally:
            destination.close()
    finally:
        source.close()


def check(path: str) -> list[str]:
    """Problems found by integrity_check and foreign_key_check; [] when the file is sound."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check") if row[0] != "ok"]
        problems += [
            f"foreign key: {table} row {rowid} points to a missing {parent}"
            for table, rowid, parent, _ in conn.execute("PRAGMA foreign_key_check")
        ]
    finally:
        conn.close()
    return problems


# ---------------------------------------------------------------- the engine

SESSION_CACHE_SECONDS = 5  # how stale a cached user (its role, its name) may get
SESSION_CACHE_ENTRIES = 10_000


class _ReadCache:
    """Rows read from the database, kept in this process to save a round trip.

    Sound because a SQLite database is served by one process: every change to a
    cached row goes through this store, which drops the entry once the change is
    committed. A read that was under way while a change happened does not store
    what it read, so a revoked session can never come back from the cache."""

    def __init__(self, max_age: float | None, max_entries: int) -> None:
        self._entries: OrderedDict[Any, tuple[Any, float]] = OrderedDict()
        self._max_age = max_age
        self._max_entries = max_entries
        self.generation = 0  # moves on every drop

    def get(self, key: Any, now: float) -> Any:
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, stored_at = entry
        if self._max_age is not None and now - stored_at >= self._max_age:
            del self._entries[key]
            return None
        return value

    def put(self, key: Any, value: Any, now: float, generation: int) -> None:
        """Store a value read while the cache was at `generation`, unless a drop came since."""
        if generation != self.generation:
            return
        self._entries[key] = (value, now)
        if len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def drop(self, key: Any) -> None:
        self.generation += 1
        self._entries.pop(key, None)


class SqliteStore(Store):
    def __init__(
        self,
        writer: aiosqlite.Connection,
        reader: aiosqlite.Connection,
        checkpointer: aiosqlite.Connection,
        clock: Callable[[], float],
    ) -> None:
        self._writes = _Batcher(writer, _write_batch)
        self._reads = _Batcher(reader, _read_batch)
        self._checkpointer = checkpointer
        self._checkpoints = asyncio.get_running_loop().create_task(self._checkpoint_regularly())
        self._clock = clock
        self._sessions = _ReadCache(SESSION_CACHE_SECONDS, SESSION_CACHE_ENTRIES)
        self._fields = _ReadCache(None, 1)

    @classmethod
    async def open(
        cls, path: str, *, clock: Callable[[], float] = time.time, synchronous: str = "normal"
    ) -> "SqliteStore":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        connections = [await _connect(path, synchronous)]
        try:
            writer = connections[0]
            await writer._execute(_migrate, writer._conn)
            await writer.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_CHECKPOINT_PAGES}")
            connections.append(await _connect(path, synchronous))
            connections.append(await _connect(path, synchronous))
        except BaseException:
            for conn in connections:
                await conn.close()
            raise
        return cls(*connections, clock)

    async def _checkpoint_regularly(self) -> None:
        while True:
            await asyncio.sleep(CHECKPOINT_SECONDS)
            try:
                await self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:
                log.exception("background checkpoint failed; the writer's own will run instead")

    def _now(self) -> int:
        return math.floor(self._clock())

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(conn, *args) inside a write transaction; its changes are committed when
        this returns, and rolled back alone if it raises."""
        return await self._writes.submit(fn, *args)

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._reads.submit(fn, *args)

    async def _read_one(self, sql: str, params: tuple) -> sqlite3.Row | None:
        return await self._reads.submit(lambda conn: conn.execute(sql, params).fetchone())

    async def close(self) -> None:
        self._checkpoints.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._checkpoints
        await self._checkpointer.close()
        await self._reads.conn.close()
        await self._writes.conn.close()

    # users and sessions

    async def create_user(self, user_name, email, phone, password_hash):
        return await self._write(_create_user, user_name, email, phone, password_hash, self._now())

    async def get_login_user(self, login):
        row = await self._read_one(_LOGIN_USER, (login,))
        return None if row is None else _user(row)

    async def save_admin(self, user_name, password_hash):
        return await self._write(_save_admin, user_name, password_hash, self._now())

    async def create_session(self, token_hash, user_id, expires_at):
        def create(conn: sqlite3.Connection, now: int) -> None:
            conn.execute(
                "DELETE FROM sessions WHERE user_id = ? AND expires_at <= ?", (user_id, now)
            )
            conn.execute(
                "INSERT INTO sessions (token_hash, user_id, expires_at, created_time)"
                " VALUES (?, ?, ?, ?)",
                (token_hash, user_id, expires_at, now),
            )

        await self._write(create, self._now())

    async def reserve_login_attempt(self, subjects, window, max_failures):
        def reserve(conn: sqlite3.Connection, now: int) -> bool:
            since = now - window
            for subject in subjects:
                conn.execute(
                    "DELETE FROM login_failures WHERE subject = ? AND failed_at <= ?",
                    (subject, since),
                )
                count = conn.execute(
                    "SELECT count(*) FROM login_failures WHERE subject = ?", (subject,)
                ).fetchone()[0]
                if count >= max_failures:
                    return False
            conn.executemany(
                "INSERT INTO login_failures (subject, failed_at) VALUES (?, ?)",
                [(subject, now) for subject in subjects],
            )
            return True

        return await self._write(reserve, self._now())

    async def clear_login_failures(self, subjects):
        await self._write(
            lambda conn: conn.executemany(
                "DELETE FROM login_failures WHERE subject = ?", [(s,) for s in subjects]
            )
        )

    async def get_session_user(self, token_hash, now):
        cached = self._sessions.get(token_hash, now)
        if cached is None:
            generation = self._sessions.generation
            row = await self._read_one(_SESSION_USER, (token_hash,))
            if row is None:
                return None
            user = _user(row)
            cached = user, user.pop("expires_at")
            self._sessions.put(token_hash, cached, now, generation)
        user, expires_at = cached
        # Expiry is checked on every use, cached or not.
        return (dict(user), expires_at) if expires_at > now else None

    async def renew_session(self, token_hash, expires_at):
        await self._write(
            lambda conn: conn.execute(
                "UPDATE sessions SET expires_at = ? WHERE token_hash = ?", (expires_at, token_hash)
            )
        )
        self._sessions.drop(token_hash)

    async def delete_session(self, token_hash):
        await self._write(
            lambda conn: conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))
        )
        self._sessions.drop(token_hash)

    # orders

    async def create_order(self, user_id, order):
        return await self._write(_create_order, user_id, order, self._now())

    async def list_orders(self, where, page):
        return await self._read(_list_orders, where, page)

    async def get_order_detail(self, order_id, owner_id):
        return await self._read(_order_detail, order_id, owner_id)

    async def update_order(self, order_id, owner_id, changes, expected_version):
        try:
            return await self._write(
                _update_order, order_id, owner_id, changes, expected_version, self._now()
            )
        except Unchanged as unchanged:
            return unchanged.order

    async def accept_quote(self, order_id, owner_id, remark):
        return await self._write(_accept_quote, order_id, owner_id, remark, self._now())

    async def reject_quote(self, order_id, owner_id, reason):
        return await self._write(
            _move_status,
            order_id,
            owner_id,
            (Status.QUOTED,),
            "only a quoted order can be rejected",
            Status.REJECTED,
            _with_note("quote rejected", "reason", reason),
            self._now(),
        )

    async def cancel_order(self, order_id, owner_id, reason):
        return await self._write(
            _move_status,
            order_id,
            owner_id,
            model.CANCELLABLE_STATUSES,
            "this order can no longer be cancelled",
            Status.CANCELLED,
            _with_note("order cancelled", "reason", reason),
            self._now(),
        )

    async def quote_order(self, order_id, admin, quote):
        return await self._write(_quote_order, order_id, admin, quote, self._now())

    async def set_order_status(self, order_id, admin, status):
        return await self._write(_set_order_status, order_id, admin, Status(status), self._now())

    async def set_order_images(self, order_id, sketch, finished):
        return await self._write(_set_order_images, order_id, sketch, finished, self._now())

    # messages

    async def list_messages(self, order_id, owner_id, page):
        return await self._read(_list_messages, order_id, owner_id, page)

    async def add_message(self, message, owner_id, sender):
        def add(conn: sqlite3.Connection, now: int) -> Row:
            order = _fetch_order(conn, message.comm_order_id, owner_id)
            if order["status"] == Status.CANCELLED:
                raise StatusNotAllowed("messages are closed on a cancelled order")
            if sender.sender_type == "admin" and order["status"] == Status.PENDING:
                conn.execute(
                    """UPDATE comm_orders SET status = ?, admin_id = ?, version = version + 1,
                           updated_time = ?
                       WHERE id = ?""",
                    (Status.IN_COMMUNICATION, sender.user_id, now, order["id"]),
                )
            return _insert_message(
                conn, order["id"], sender, message.message_type, message.content, now
            )

        return await self._write(add, self._now())

    # bulk loading

    async def bulk_create_users(self, user_names, password_hash):
        def insert(conn: sqlite3.Connection, now: int) -> list[int]:
            return [
                conn.execute(
                    "INSERT INTO users (user_name, password_hash, created_time)"
                    " VALUES (?, ?, ?) RETURNING id",
                    (name, password_hash, now),
                ).fetchone()[0]
                for name in user_names
            ]

        return await self._write(insert, self._now())

    async def bulk_create_orders(self, orders):
        def insert(conn: sqlite3.Connection, now: int) -> None:
            conn.executemany(
                """INSERT INTO comm_orders (user_id, archive_id, title, content, phone, images,
                                            event_date, order_extra, created_time, updated_time)
                   VALUES (?, ?, ?, ?, ?, ?, ?, json_patch('{}', ?), ?, ?)""",
                [
                    (
                        user_id,
                        order.archive_id,
                        order.title,
                        order.content,
                        order.phone,
                        _json(order.images),
                        order.event_date,
                        _json(order.order_extra),
                        now,
                        now,
                    )
                    for user_id, order in orders
                ],
            )

        await self._write(insert, self._now())

    # field definitions

    async def get_field_definitions(self):
        fields = self._fields.get("all", 0)
        if fields is None:
            generation = self._fields.generation
            fields = await self._read(_field_definitions)
            self._fields.put("all", fields, 0, generation)
        return fields

    async def replace_field_definitions(self, fields):
        await self._write(
            lambda conn: conn.execute(
                """INSERT INTO settings (key, value) VALUES ('order_fields', ?)
                   ON CONFLICT (key) DO UPDATE SET value = excluded.value""",
                (_json(fields),),
            )
        )
        self._fields.drop("all")
        return fields
