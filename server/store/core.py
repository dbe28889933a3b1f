"""Every store operation, written once for both engines.

Each operation is an async function over a `Tx`: one open transaction on one
connection. SQL uses `?` (or `?N`) placeholders; where the engines' SQL really
differs, a statement is given per dialect. The SQLite engine runs these
coroutines synchronously on its connection's thread (its `Tx` never suspends); the
PostgreSQL engine awaits them inside an asyncpg transaction.
"""

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import orjson

from .. import messages as M
from .. import model
from ..errors import (
    AlreadyTaken,
    OrderFinal,
    OrderNotFound,
    QuoteChanged,
    StatusNotAllowed,
    TooManyAttempts,
    VersionConflict,
)
from ..messages import Text
from ..model import Status
from ..store.types import ANY_OWNER, LoginLimits, OrderFilter, Quote, Row, Sender, Unchanged
from ..validate import Acceptance, NewMessage, NewOrder, OrderChanges, Page, check_extra_size


class Tx(Protocol):
    dialect: str  # "sqlite" or "postgres"
    # Appended to a SELECT that must lock its row until the transaction ends; SQLite
    # needs none, its write transaction already holds the whole database.
    for_update: str

    async def one(self, sql: str, *params: Any) -> Mapping[str, Any] | None: ...
    async def all(self, sql: str, *params: Any) -> list[Mapping[str, Any]]: ...
    async def value(self, sql: str, *params: Any) -> Any: ...
    async def run(self, sql: str, *params: Any) -> None: ...
    async def run_many(self, sql: str, rows: Iterable[tuple]) -> None: ...

    def json(self, column: Any) -> Any:
        """A JSON column's value as Python data."""

    def taken_field(self, error: Exception) -> str | None:
        """The unique user field an insert clashed on, if `error` is such a clash."""

    async def lock(self, name: str) -> None:
        """Serialize with every other transaction locking `name`, until this one ends."""


ORDER_COLUMNS = """id, user_id, order_id, archive_id, title, content, phone, images,
    sketch_images, finished_images, event_date, status, admin_id, quote_price,
    quote_content, order_extra, created_time, updated_time, version"""
USER_COLUMNS = "id, user_name, email, phone, role, created_time"
MESSAGE_COLUMNS = """id, comm_order_id, sender_id, sender_type, sender_name, message_type,
    content, created_time"""

_JSON_ORDER_FIELDS = ("images", "sketch_images", "finished_images", "order_extra")


def to_json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _order(tx: Tx, row: Mapping[str, Any]) -> Row:
    order = dict(row)
    for name in _JSON_ORDER_FIELDS:
        order[name] = tx.json(order[name])
    return order


def _user(row: Mapping[str, Any]) -> Row:
    user = dict(row)
    user["email"] = user["email"] or ""
    user["phone"] = user["phone"] or ""
    return user


# ---------------------------------------------------------------- users and sessions

# One login namespace (spec 2): login_names holds every user name, email and phone of
# every account, folded by model.login_key, under one unique key; logins look accounts
# up through it. (The users table's own unique columns stay as a second guard.)
_PREFIXED_USER_COLUMNS = ", ".join(f"u.{column}" for column in USER_COLUMNS.split(", "))
LOGIN_USER = f"""
    SELECT {_PREFIXED_USER_COLUMNS}, u.password_hash
    FROM login_names n JOIN users u ON u.id = n.user_id
    WHERE n.login = ?"""
SESSION_USER = f"""
    SELECT {_PREFIXED_USER_COLUMNS}, s.expires_at, s.ttl
    FROM sessions s JOIN users u ON u.id = s.user_id
    WHERE s.token_hash = ?"""


async def _claim_login_names(tx: Tx, user_id: int, names: Iterable[tuple[str, str | None]]) -> None:
    """Put each (field, value) of the user into the namespace; raises AlreadyTaken naming
    the first field whose value another account holds. Race-free: a concurrent claim of
    the same key waits for this transaction and then sees its row."""
    for field, value in names:
        if value is None:
            continue
        key = model.login_key(value)
        await tx.run(
            """INSERT INTO login_names (login, user_id, kind) VALUES (?, ?, ?)
               ON CONFLICT (login) DO NOTHING""",
            key,
            user_id,
            field,
        )
        if await tx.value("SELECT user_id FROM login_names WHERE login = ?", key) != user_id:
            raise AlreadyTaken(field)


async def _insert_user(
    tx: Tx,
    user_name: str,
    email: str | None,
    phone: str | None,
    password_hash: str,
    role: str,
    now: int,
) -> Row:
    try:
        row = await tx.one(
            f"""INSERT INTO users (user_name, email, phone, role, password_hash, created_time)
                VALUES (?, ?, ?, ?, ?, ?) RETURNING {USER_COLUMNS}""",
            user_name,
            email,
            phone,
            role,
            password_hash,
            now,
        )
    except Exception as error:
        field = tx.taken_field(error)
        if field is None:
            raise
        raise AlreadyTaken(field) from None
    names = (("user_name", user_name), ("email", email), ("phone", phone))
    await _claim_login_names(tx, row["id"], names)
    return _user(row)


async def create_user(
    tx: Tx,
    user_name: str,
    email: str | None,
    phone: str | None,
    password_hash: str,
    address: str,
    per_hour: int,
    now: int,
) -> Row:
    """A customer; at most `per_hour` successful registrations per client address in the
    last hour (0: no limit), counted in the same transaction."""
    if per_hour:
        await tx.lock(f"register:{address}")
        await tx.run(
            "DELETE FROM registrations WHERE created_time <= ?", now - model.REGISTRATION_WINDOW
        )
        recent = await tx.value("SELECT count(*) FROM registrations WHERE address = ?", address)
        if recent >= per_hour:
            raise TooManyAttempts()
        await tx.run(
            "INSERT INTO registrations (address, created_time) VALUES (?, ?)", address, now
        )
    return await _insert_user(tx, user_name, email, phone, password_hash, "user", now)


async def get_login_user(tx: Tx, login: str) -> Row | None:
    row = await tx.one(LOGIN_USER, model.login_key(login))
    return None if row is None else _user(row)


async def password_hash(tx: Tx, user_id: int) -> str:
    return await tx.value("SELECT password_hash FROM users WHERE id = ?", user_id)


async def _revoke_sessions(tx: Tx, user_id: int, keep: bytes = b"") -> list[bytes]:
    """Every session of the user but `keep`; the revoked token hashes."""
    rows = await tx.all(
        "DELETE FROM sessions WHERE user_id = ? AND token_hash <> ? RETURNING token_hash",
        user_id,
        keep,
    )
    return [bytes(row[0]) for row in rows]


async def save_admin(
    tx: Tx, user_name: str, email: str | None, password_hash: str, now: int
) -> tuple[Row, bool, list[bytes]]:
    """Promote the user named `user_name` (setting its password, and its email if given)
    and revoke every session it has, or create a new admin. Returns the user, whether it
    was promoted, and the revoked token hashes."""
    user_id = await tx.value(
        "SELECT user_id FROM login_names WHERE login = ? AND kind = 'user_name'" + tx.for_update,
        model.login_key(user_name),
    )
    if user_id is None:
        return (
            await _insert_user(tx, user_name, email, None, password_hash, "admin", now),
            False,
            [],
        )
    if email is not None:
        await tx.run("DELETE FROM login_names WHERE user_id = ? AND kind = 'email'", user_id)
        await _claim_login_names(tx, user_id, [("email", email)])
    try:
        row = await tx.one(
            f"""UPDATE users SET role = 'admin', password_hash = ?, email = coalesce(?, email)
                WHERE id = ? RETURNING {USER_COLUMNS}""",
            password_hash,
            email,
            user_id,
        )
    except Exception as error:
        if tx.taken_field(error) is None:
            raise
        raise AlreadyTaken("email") from None
    return _user(row), True, await _revoke_sessions(tx, user_id)


async def change_password(tx: Tx, user_id: int, password_hash: str, keep: bytes) -> list[bytes]:
    """Set the password and revoke every other session of the user."""
    await tx.run("UPDATE users SET password_hash = ? WHERE id = ?", password_hash, user_id)
    return await _revoke_sessions(tx, user_id, keep)


async def create_session(
    tx: Tx, token_hash: bytes, user_id: int, expires_at: int, ttl: int, now: int
) -> list[bytes]:
    """Store a new session, drop the user's expired ones, and revoke the oldest beyond
    SESSIONS_PER_USER; the revoked token hashes."""
    await tx.lock(f"sessions:{user_id}")  # serial numbers are taken one at a time
    await tx.run("DELETE FROM sessions WHERE user_id = ? AND expires_at <= ?", user_id, now)
    await tx.run(
        """INSERT INTO sessions (token_hash, user_id, expires_at, ttl, serial, created_time)
           VALUES (?1, ?2, ?3, ?4,
                   (SELECT coalesce(max(serial), 0) + 1 FROM sessions WHERE user_id = ?2), ?5)""",
        token_hash,
        user_id,
        expires_at,
        ttl,
        now,
    )
    rows = await tx.all(
        """DELETE FROM sessions WHERE user_id = ?1 AND serial <= (
               SELECT serial FROM sessions WHERE user_id = ?1
               ORDER BY serial DESC LIMIT 1 OFFSET ?2)
           RETURNING token_hash""",
        user_id,
        model.SESSIONS_PER_USER,
    )
    return [bytes(row[0]) for row in rows]


async def session_user(tx: Tx, token_hash: bytes) -> tuple[Row, int, int] | None:
    """The session's user, expiry and TTL, expired or not: the caller checks the time."""
    row = await tx.one(SESSION_USER, token_hash)
    if row is None:
        return None
    user = _user(row)
    return user, user.pop("expires_at"), user.pop("ttl")


async def renew_session(tx: Tx, token_hash: bytes, expires_at: int) -> None:
    await tx.run("UPDATE sessions SET expires_at = ? WHERE token_hash = ?", expires_at, token_hash)


async def delete_session(tx: Tx, token_hash: bytes) -> None:
    await tx.run("DELETE FROM sessions WHERE token_hash = ?", token_hash)


async def delete_user_sessions(tx: Tx, token_hash: bytes, now: int) -> list[bytes]:
    """Every session of the user whose unexpired session this is."""
    rows = await tx.all(
        """DELETE FROM sessions WHERE user_id = (
               SELECT user_id FROM sessions WHERE token_hash = ? AND expires_at > ?)
           RETURNING token_hash""",
        token_hash,
        now,
    )
    return [bytes(row[0]) for row in rows]


# Login throttling (spec 2). Subjects: 'pair:<account>|<address>' and 'addr:<address>'.
# The store decides the attempts of one pair one at a time (Store.decide_login).


async def login_refused(tx: Tx, pair: str, address: str, limits: LoginLimits, now: int) -> bool:
    count = "SELECT count(*) FROM login_failures WHERE subject = ? AND failed_at > ?"
    since = now - limits.window
    if await tx.value(count, pair, since) >= limits.per_pair:
        return True
    return bool(limits.per_address) and await tx.value(count, address, since) >= limits.per_address


async def record_login_failure(tx: Tx, subjects: list[str], window: int, now: int) -> None:
    """Count a failure against each subject, and purge failures older than the window."""
    await tx.run("DELETE FROM login_failures WHERE failed_at <= ?", now - window)
    await tx.run_many(
        "INSERT INTO login_failures (subject, failed_at) VALUES (?, ?)",
        [(subject, now) for subject in subjects],
    )


async def clear_login_failures(tx: Tx, subject: str) -> None:
    await tx.run("DELETE FROM login_failures WHERE subject = ?", subject)


# ---------------------------------------------------------------- orders


async def _fetch_order(tx: Tx, order_id: int, owner_id: int | None) -> Mapping[str, Any]:
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


async def _fetch_changeable_order(tx: Tx, order_id: int, owner_id: int | None) -> Mapping[str, Any]:
    row = await _fetch_order(tx, order_id, owner_id)
    if row["status"] in model.FINAL_STATUSES:
        raise OrderFinal()
    return row


async def _add_system_message(tx: Tx, order_id: int, content: str, now: int) -> None:
    await tx.run(
        """INSERT INTO messages (comm_order_id, sender_id, sender_type, sender_name,
                                 message_type, content, created_time)
           VALUES (?, 0, 'system', ?, 'text', ?, ?)""",
        order_id,
        model.SYSTEM_SENDER_NAME,
        content,
        now,
    )


async def _insert_message(
    tx: Tx, order_id: int, sender: Sender, kind: str, content: str, now: int
) -> Row:
    row = await tx.one(
        f"""INSERT INTO messages (comm_order_id, sender_id, sender_type, sender_name,
                                  message_type, content, created_time)
            VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {MESSAGE_COLUMNS}""",
        order_id,
        sender.user_id,
        sender.sender_type,
        sender.user_name,
        kind,
        content,
        now,
    )
    return dict(row)


def _check_stored_extra(extra: dict[str, Any]) -> None:
    check_extra_size(len(extra), len(orjson.dumps(extra)))


_INSERT_ORDER = """
    INSERT INTO comm_orders (user_id, archive_id, title, content, phone, images,
                             event_date, order_extra, created_time, updated_time)
    VALUES (?, ?, ?, ?, ?, ?, ?, json_patch('{}', ?), ?, ?)"""


def _order_values(user_id: int, order: NewOrder, now: int) -> tuple:
    return (
        user_id,
        order.archive_id,
        order.title,
        order.content,
        order.phone,
        to_json(order.images),
        order.event_date,
        to_json(order.order_extra),
        now,
        now,
    )


async def create_order(tx: Tx, user_id: int, order: NewOrder, now: int) -> Row:
    # json_patch into '{}' drops null values at every level, as an update would.
    row = await tx.one(
        _INSERT_ORDER + f" RETURNING {ORDER_COLUMNS}", *_order_values(user_id, order, now)
    )
    created = _order(tx, row)
    _check_stored_extra(created["order_extra"])
    return created


# The seed's update: one statement, scoped to the owner, merging order_extra in the
# database (json_patch returns NULL for a NULL patch: order_extra then stays).
_UPDATE_ORDER = f"""
    UPDATE comm_orders SET
        title = coalesce(?1, title),
        content = coalesce(?2, content),
        phone = coalesce(?3, phone),
        images = coalesce(?4, images),
        event_date = coalesce(?5, event_date),
        order_extra = coalesce(json_patch(order_extra, ?6), order_extra),
        version = version + 1,
        updated_time = ?7
    WHERE id = ?8 AND user_id = ?9
    RETURNING {ORDER_COLUMNS}"""

_MISSING = object()


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


async def update_order(
    tx: Tx,
    order_id: int,
    owner_id: int,
    changes: OrderChanges,
    expected_version: int | None,
    now: int,
) -> Row:
    old = _order(tx, await _fetch_changeable_order(tx, order_id, owner_id))
    if expected_version is not None and expected_version != old["version"]:
        raise VersionConflict(old["version"])
    sent = {
        "title": changes.title,
        "content": changes.content,
        "phone": changes.phone,
        "images": changes.images,
        "event_date": changes.event_date,
    }
    changed = [name for name, value in sent.items() if value not in (None, old[name])]
    if not changed and changes.order_extra is None:
        return old

    images = None if changes.images is None else to_json(changes.images)
    patch = None if changes.order_extra is None else to_json(changes.order_extra)
    row = await tx.one(
        _UPDATE_ORDER,
        changes.title,
        changes.content,
        changes.phone,
        images,
        changes.event_date,
        patch,
        now,
        order_id,
        owner_id,
    )
    new = _order(tx, row)
    if changes.order_extra is not None:
        keys = _changed_keys(old["order_extra"], new["order_extra"], changes.order_extra)
        changed += [f"order_extra.{key}" for key in keys]
        if keys:
            _check_stored_extra(new["order_extra"])
    if not changed:
        raise Unchanged(old)  # the write is rolled back: nothing bumps

    requirements = [n for n in changed if n in ("title", "content") or n.startswith("order_extra.")]
    if old["status"] == Status.QUOTED and requirements:
        # The customer may no longer accept a quote made for other requirements.
        await tx.run(
            "UPDATE comm_orders SET status = ? WHERE id = ?", Status.IN_COMMUNICATION, order_id
        )
        new["status"] = Status.IN_COMMUNICATION
    await _add_system_message(tx, order_id, "order updated: " + ", ".join(changed), now)
    return new


async def move_status(
    tx: Tx,
    order_id: int,
    owner_id: int | None,
    allowed: tuple[Status, ...],
    refusal: Text,
    status: Status,
    message: str,
    now: int,
    seen: Acceptance | None = None,
) -> Row:
    """One status move with its system message; refused unless the order is in `allowed`
    and, for an accept, still has the version and price the customer saw."""
    old = await _fetch_order(tx, order_id, owner_id)
    if old["status"] not in allowed:
        raise StatusNotAllowed(refusal)
    if seen is not None:
        _check_accept_guards(old, seen)
    row = await tx.one(
        f"""UPDATE comm_orders SET status = ?, version = version + 1, updated_time = ?
            WHERE id = ? RETURNING {ORDER_COLUMNS}""",
        status,
        now,
        order_id,
    )
    await _add_system_message(tx, order_id, message, now)
    return _order(tx, row)


def with_note(text: str, label: str, note: str) -> str:
    return f"{text}; {label}: {note}" if note else text


def _check_accept_guards(order: Mapping[str, Any], seen: Acceptance) -> None:
    if seen.version is not None and seen.version != order["version"]:
        raise VersionConflict(order["version"])
    if seen.quote_price is not None and seen.quote_price != order["quote_price"]:
        raise QuoteChanged(order["quote_price"])


async def accept_quote(tx: Tx, accepted: Acceptance, owner_id: int, now: int) -> Row:
    order_id, remark = accepted.order_id, accepted.remark
    order = await move_status(
        tx,
        order_id,
        owner_id,
        (Status.QUOTED,),
        M.ONLY_QUOTED_ACCEPT,
        Status.ACCEPTED,
        with_note("quote accepted", "remark", remark),
        now,
        seen=accepted,
    )
    purchase_id = await tx.value(
        """INSERT INTO orders (user_id, comm_order_id, amount, status, remark, created_time)
           VALUES (?, ?, ?, ?, ?, ?) RETURNING id""",
        owner_id,
        order_id,
        order["quote_price"],
        model.PURCHASE_ORDER_STATUS,
        remark,
        now,
    )
    await tx.run("UPDATE comm_orders SET order_id = ? WHERE id = ?", purchase_id, order_id)
    order["order_id"] = purchase_id
    return order


async def quote_order(tx: Tx, order_id: int, admin: Sender, quote: Quote, now: int) -> Row:
    old = await _fetch_order(tx, order_id, ANY_OWNER)
    if old["status"] not in model.QUOTABLE_STATUSES:
        raise StatusNotAllowed(M.CANNOT_QUOTE)
    row = await tx.one(
        f"""UPDATE comm_orders SET status = ?, quote_price = ?, quote_content = ?,
                admin_id = ?, version = version + 1, updated_time = ?
            WHERE id = ? RETURNING {ORDER_COLUMNS}""",
        Status.QUOTED,
        quote.price,
        quote.content,
        admin.user_id,
        now,
        order_id,
    )
    content = f"quote: {quote.price}\n{quote.content}"
    await _insert_message(tx, order_id, admin, "quote", content, now)
    return _order(tx, row)


STATUS_NAMES = {
    Status.CANCELLED: "cancelled",
    Status.PENDING: "pending",
    Status.IN_COMMUNICATION: "in communication",
    Status.QUOTED: "quoted",
    Status.ACCEPTED: "accepted",
    Status.REJECTED: "rejected",
}


async def set_order_status(tx: Tx, order_id: int, admin: Sender, status: Status, now: int) -> Row:
    old = await _fetch_changeable_order(tx, order_id, ANY_OWNER)
    if old["status"] == status:
        return _order(tx, old)
    row = await tx.one(
        f"""UPDATE comm_orders SET status = ?, admin_id = ?, version = version + 1,
                updated_time = ?
            WHERE id = ? RETURNING {ORDER_COLUMNS}""",
        status,
        admin.user_id,
        now,
        order_id,
    )
    moved = f"{STATUS_NAMES[Status(old['status'])]} → {STATUS_NAMES[status]}"
    await _add_system_message(tx, order_id, f"status changed by {admin.user_name}: {moved}", now)
    return _order(tx, row)


async def set_order_images(
    tx: Tx, order_id: int, sketch: list[str] | None, finished: list[str] | None, now: int
) -> Row:
    old = _order(tx, await _fetch_order(tx, order_id, ANY_OWNER))
    if old["status"] == Status.CANCELLED:
        raise OrderFinal()
    sent = {"sketch_images": sketch, "finished_images": finished}
    changed = [name for name, value in sent.items() if value not in (None, old[name])]
    if not changed:
        return old
    row = await tx.one(
        f"""UPDATE comm_orders SET
                sketch_images = coalesce(?, sketch_images),
                finished_images = coalesce(?, finished_images),
                version = version + 1, updated_time = ?
            WHERE id = ? RETURNING {ORDER_COLUMNS}""",
        None if sketch is None else to_json(sketch),
        None if finished is None else to_json(finished),
        now,
        order_id,
    )
    await _add_system_message(tx, order_id, "images updated: " + ", ".join(changed), now)
    return _order(tx, row)


async def add_message(
    tx: Tx, message: NewMessage, owner_id: int | None, sender: Sender, now: int
) -> Row:
    order = await _fetch_order(tx, message.comm_order_id, owner_id)
    if order["status"] == Status.CANCELLED:
        raise StatusNotAllowed(M.MESSAGES_CLOSED)
    if sender.sender_type == "admin" and order["status"] == Status.PENDING:
        await tx.run(
            """UPDATE comm_orders SET status = ?, admin_id = ?, version = version + 1,
                   updated_time = ?
               WHERE id = ?""",
            Status.IN_COMMUNICATION,
            sender.user_id,
            now,
            order["id"],
        )
    return await _insert_message(
        tx, order["id"], sender, message.message_type, message.content, now
    )


# ---------------------------------------------------------------- reads

# SQLite's LIKE ignores ASCII case; PostgreSQL's needs ILIKE for the same.
_SEARCH = {
    "sqlite": "(title LIKE ? ESCAPE '\\' OR content LIKE ? ESCAPE '\\')",
    "postgres": "(title ILIKE ? ESCAPE '\\' OR content ILIKE ? ESCAPE '\\')",
}


async def list_orders(tx: Tx, where: OrderFilter, page: Page) -> tuple[list[Row], int]:
    clauses: list[str] = []
    params: list[Any] = []
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
        escaped = where.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clauses.append(_SEARCH[tx.dialect])
        params += [f"%{escaped}%"] * 2
    # Only fixed clause texts are joined here; every value is a bound parameter.
    condition = " AND ".join(clauses) or "1 = 1"
    total = await tx.value(f"SELECT count(*) FROM comm_orders WHERE {condition}", *params)
    rows = await tx.all(
        f"""SELECT {ORDER_COLUMNS} FROM comm_orders WHERE {condition}
            ORDER BY id DESC LIMIT ? OFFSET ?""",
        *params,
        page.size,
        page.offset,
    )
    return [_order(tx, row) for row in rows], total


THREAD_OLDEST_FIRST = f"""
    SELECT {MESSAGE_COLUMNS} FROM messages WHERE comm_order_id = ?
    ORDER BY created_time, id LIMIT ? OFFSET ?"""


async def _count_messages(tx: Tx, order_id: int) -> int:
    return await tx.value("SELECT count(*) FROM messages WHERE comm_order_id = ?", order_id)


async def list_messages(
    tx: Tx, order_id: int, owner_id: int | None, page: Page
) -> tuple[list[Row], int]:
    await _fetch_order(tx, order_id, owner_id)
    rows = await tx.all(THREAD_OLDEST_FIRST, order_id, page.size, page.offset)
    return [dict(row) for row in rows], await _count_messages(tx, order_id)


async def field_definitions(tx: Tx) -> list[Row]:
    value = await tx.value("SELECT value FROM settings WHERE key = 'order_fields'")
    return [] if value is None else tx.json(value)


async def replace_field_definitions(tx: Tx, fields: list[Row]) -> None:
    await tx.run(
        """INSERT INTO settings (key, value) VALUES ('order_fields', ?)
           ON CONFLICT (key) DO UPDATE SET value = excluded.value""",
        to_json(fields),
    )


async def order_detail(tx: Tx, order_id: int, owner_id: int | None) -> Row:
    order = _order(tx, await _fetch_order(tx, order_id, owner_id))
    user = await tx.one("SELECT id, user_name FROM users WHERE id = ?", order["user_id"])
    total = await _count_messages(tx, order_id)
    last = max(total - model.DETAIL_MESSAGES, 0)
    messages = await tx.all(THREAD_OLDEST_FIRST, order_id, model.DETAIL_MESSAGES, last)
    extra = order["order_extra"]
    order["order_fields"] = [
        {**field, "value": extra.get(field["field_name"])} for field in await field_definitions(tx)
    ]
    order["user"] = dict(user)
    order["messages"] = [dict(row) for row in messages]
    order["messages_total"] = total
    return order


async def ping(tx: Tx) -> None:
    await tx.value("SELECT 1")


# ---------------------------------------------------------------- bulk loading


async def bulk_create_users(
    tx: Tx, user_names: list[str], password_hash: str, now: int
) -> list[int]:
    return [
        (await _insert_user(tx, name, None, None, password_hash, "user", now))["id"]
        for name in user_names
    ]


async def bulk_create_orders(tx: Tx, orders: list[tuple[int, NewOrder]], now: int) -> None:
    await tx.run_many(
        _INSERT_ORDER, [_order_values(user_id, order, now) for user_id, order in orders]
    )
