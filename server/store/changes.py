"""A change to an order, written whole: the order's UPDATE, the message that tells of it
in the thread, its two events and their deliveries.

On SQLite these are statements in turn on the writer's thread. On PostgreSQL every
statement is a round trip, so they are one statement whose CTEs hand each other the
rows they wrote (an authenticated update costs 5 round trips: the session,
BEGIN, the locked read, this statement, COMMIT). The order and message in its events
are built by the database from the rows it wrote, exactly as the API answers them.
"""

import functools
from dataclasses import dataclass
from typing import Any

import orjson

from .. import model
from . import events, inbox, outbox
from .events import COLUMNS as EVENT_COLUMNS
from .events import MESSAGE_CREATED, ORDER_UPDATED, TURN
from .tx import MESSAGE_COLUMNS, ORDER_COLUMNS, Tx, numbered_from, order_row
from .types import Row, Sender

SYSTEM = Sender(0, model.SYSTEM_SENDER_NAME, "system")


_INSERT_MESSAGE = """INSERT INTO messages (comm_order_id, sender_id, sender_type, sender_name,
                                      message_type, content, created_time)
                   VALUES (?, ?, ?, ?, ?, ?, ?)"""


async def insert_message(tx: Tx, order_id: int, sender: Sender, kind: str, content: str) -> Row:
    """The message as the API answers it, built from what was written; the order's
    latest messages follow it, and its writer's marker moves to it (inbox.py)."""
    stored = await _insert(tx, order_id, sender, kind, content)
    await inbox.message_written(tx, stored)
    return stored


async def _insert(tx: Tx, order_id: int, sender: Sender, kind: str, content: str) -> Row:
    message = {
        "comm_order_id": order_id,
        "sender_id": sender.user_id,
        "sender_type": sender.sender_type,
        "sender_name": sender.user_name,
        "message_type": kind,
        "content": content,
        "created_time": tx.now,
    }
    await events.take_turn(tx)
    message_id = await tx.insert(_INSERT_MESSAGE, *message.values())
    return {"id": message_id, **message}


@dataclass(frozen=True)
class Note:
    """The message a change to an order writes into its thread."""

    content: str
    sender: Sender = SYSTEM
    kind: str = "text"


# The parameters record_change's PostgreSQL statement numbers itself; the assignments'
# values follow them, then the mail's notice when there is one.
_CHANGE_PARAMETERS = 11


@functools.cache
def _postgres_change(assignments: str, notice: str | None, system: bool) -> str:
    """An order's UPDATE (?1 now, ?2 the order, ?3 its owner; `assignments`, whose `?`s
    take ?12...), its message (sender ?4-?6, kind ?7, content ?8; a `system` one or
    not), the order's latest messages, for a message someone wrote their marker and the
    readers' caught-up counts, its two events (the order's `thumb` ?9), their deliveries
    (due ?10, timestamp ?11, and the mail's notice last), as one statement returning the
    order and the message as JSON."""
    # The order's latest messages are kept by the UPDATE that writes the order: the
    # message's id is taken first (`mid`), so the order row is written once.
    kept = inbox.kept_after(
        inbox.SYSTEM if system else inbox.TALK,
        "(SELECT id FROM mid)",
        "?1::bigint",
        "(?5::text = 'user')::int",
    )
    # A system message moves no marker (inbox.message_written).
    marked = f"""
        counted AS ({inbox.count_new_talk("?2::bigint", "?4::bigint")}),
        marked AS (
            INSERT INTO read_markers (user_id, comm_order_id, message_id)
            SELECT ?4::bigint, m.comm_order_id, m.id FROM m
            ON CONFLICT (user_id, comm_order_id) DO UPDATE SET message_id = excluded.message_id
            WHERE excluded.message_id > read_markers.message_id),"""
    assignments, notice_number = numbered_from(assignments, _CHANGE_PARAMETERS + 1)
    deliveries = outbox.deliveries_ctes(
        notice,
        now="?1::bigint",
        due="?10::bigint",
        timestamp="?11::text",
        facts=f"""json_build_object('notice', ?{notice_number}::text, 'order_id', o.id,
                                    'title', o.title, 'detail', m.content)::text""",
        party="o.assignee_id" if notice in model.MERCHANT_SIDE else "o.user_id",
        facts_from=", o, m",
    )
    return f"""
        WITH mid AS (SELECT nextval(pg_get_serial_sequence('messages', 'id')) AS id),
        o AS (
            UPDATE comm_orders SET {assignments}, version = version + 1,
                                   updated_time = ?1::bigint, {kept}
            WHERE id = ?2::bigint AND user_id = ?3::bigint
            RETURNING {ORDER_COLUMNS}),
        shown AS (SELECT o.*, ?9::text AS thumb FROM o),
        m AS (
            INSERT INTO messages (id, comm_order_id, sender_id, sender_type, sender_name,
                                  message_type, content, created_time)
            SELECT (SELECT id FROM mid), o.id, ?4::bigint, ?5::text, ?6::text, ?7::text,
                   ?8::text, ?1::bigint
            FROM o
            RETURNING {MESSAGE_COLUMNS}),{"" if system else marked}
        ev AS (
            INSERT INTO events ({EVENT_COLUMNS})
            SELECT e.type, o.id, o.user_id, e.data, ?1::bigint
            FROM {TURN}, o, (
                SELECT 1, '{ORDER_UPDATED}', (SELECT row_to_json(shown) FROM shown)
                UNION ALL
                SELECT 2, '{MESSAGE_CREATED}', (SELECT row_to_json(m) FROM m)
            ) AS e(n, type, data)
            ORDER BY e.n
            RETURNING id, type, data),
        {deliveries}
        SELECT (SELECT row_to_json(shown)::text FROM shown) AS order_json,
               (SELECT row_to_json(m)::text FROM m) AS message_json,
               (SELECT count(*) FROM notified) AS woken"""


@functools.cache
def sqlite_change(assignments: str, kind: str) -> str:
    """The order's UPDATE, which also keeps its latest messages after the change's
    message of `kind` (written just before, so the order row is written once): ?1 the
    time, ?2 the order, ?3 its owner, ?4 the message's id, ?5 whether it is the
    customer's; `assignments`, whose `?`s take ?6... The row is read back by its own
    SELECT: on SQLite that costs less than RETURNING."""
    assignments, _ = numbered_from(assignments, 6)
    return f"""UPDATE comm_orders SET {assignments}, version = version + 1, updated_time = ?1,
                                      {inbox.kept_after(kind, "?4", "?1", "?5")}
               WHERE id = ?2 AND user_id = ?3"""


_SQLITE_CHANGED_ORDER = f"SELECT {ORDER_COLUMNS} FROM comm_orders WHERE id = ?"


async def record_change(
    tx: Tx,
    old: Row,
    assignments: str,
    values: tuple[Any, ...],
    note: Note,
    mail: str | None = None,
    images: list[str] | None = None,
) -> tuple[Row, Row]:
    """A change to the order `old` (read and locked by the caller, as order_row gives
    it; `images` when the change sets them, for the order's thumb): its UPDATE
    (`assignments` with their `values`; the version and the time are bumped), the `note`
    that tells of it, its ORDER_UPDATED and MESSAGE_CREATED events and their deliveries.
    Returns the order and the message as the API answers them. On SQLite these are
    statements in turn; on PostgreSQL one statement."""
    tx.events_recorded()
    if tx.dialect == "postgres":
        notice = mail or outbox.mail_notice(ORDER_UPDATED, note.sender.sender_type, note.kind)
        thumb = old["thumb"] if images is None else model.order_thumb(images)
        sender = note.sender
        system = sender.sender_type == "system"
        row = await tx.row(
            _postgres_change(assignments, notice, system),
            *(tx.now, old["id"], old["user_id"]),
            *(sender.user_id, sender.sender_type, sender.user_name, note.kind, note.content),
            *(thumb, tx.now * 1000, outbox.rfc3339(tx.now)),
            *values,
            *([] if notice is None else [notice]),
        )
        return orjson.loads(row["order_json"]), orjson.loads(row["message_json"])
    message = await _insert(tx, old["id"], note.sender, note.kind, note.content)
    kind = inbox.message_kind(message)
    if kind != inbox.SYSTEM:
        await inbox.count_written(tx, message)
    customer = int(message["sender_type"] == "user")
    await tx.run(
        sqlite_change(assignments, kind),
        *(tx.now, old["id"], old["user_id"], message["id"], customer),
        *values,
    )
    order = order_row(tx, await tx.row(_SQLITE_CHANGED_ORDER, old["id"]))
    if kind != inbox.SYSTEM:
        await inbox.mark_written(tx, message)
    await events.record(tx, order, ORDER_UPDATED, message, mail)
    return order, message
