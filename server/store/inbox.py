"""The inbox: read markers, and what each order answer holds for its caller (`unread`,
`last_message`, `last_activity_time`).

Each user has a read marker per order, the id of the last message they read (0 at
first), which never moves back. Each order row keeps, written with every message in
the message's own transaction, the latest messages each side may see: the latest of
all (the merchant's side, notes included) and the latest that is not a note (the
customer's side), with their times; the latest that is not a system message on each
side; and whether the latest message that is neither system nor a note is the
customer's (`awaiting_reply`). So:

- `last_message` is one join by id, `last_activity_time` is the later of two columns
  (indexed as that expression, for the activity sort);
- a caller has unread messages exactly when their side's latest non-system message is
  above their marker (a caller's own messages move the caller's marker to them), so
  the `unread=1` filter reads one marker by its key per order;
- the count itself is a range of the thread's index (comm_order_id, id) above the
  marker, and only for the orders with any.

A page of orders gets all three in one statement whatever its size. The merchant's
`unread=1` list takes its total from two kept counts (migration 13): the orders with a
message that is not a system message (`order_counts.talked`, kept by triggers), less
those the reader has read up to it (`caught_up_counts`, kept here, by the statements
that write messages and move markers).
"""

import functools
from dataclasses import dataclass

from .. import model, texts
from ..errors import Invalid
from .tx import Tx, fetch_order
from .types import ANY_OWNER, Row, Sender


@dataclass(frozen=True)
class Side:
    """The columns of one side's view of an order."""

    merchant: bool
    last: str  # the latest message it sees
    time: str  # that message's time
    talk: str  # the latest message it sees that is not a system message
    hidden: str  # SQL that excludes, from `m`, what it may not see


MERCHANT = Side(True, "last_message_id", "last_message_time", "merchant_talk_id", "")
CUSTOMER = Side(
    False,
    "customer_message_id",
    "customer_message_time",
    "customer_talk_id",
    f" AND m.message_type <> '{model.NOTE}'",
)


def side_of(owner_id: int | None) -> Side:
    return MERCHANT if owner_id is ANY_OWNER else CUSTOMER


_ACTIVITY = {"sqlite": "max", "postgres": "greatest"}


def activity(dialect: str, side: Side, alias: str = "") -> str:
    """The order's last activity: the later of its updated_time and its side's latest
    message time (the expression the activity indexes hold)."""
    return f"{_ACTIVITY[dialect]}({alias}updated_time, {alias}{side.time})"


def marker(reader: str) -> str:
    """The reader's marker on order `o` (0 when none); `reader` is its placeholder."""
    return f"""coalesce((SELECT r.message_id FROM read_markers r
                         WHERE r.user_id = {reader} AND r.comm_order_id = o.id), 0)"""


def unread_condition(side: Side) -> str:
    """Order `o` has messages its reader (the one `?` it takes) has not read. (Its
    first term, implied by the second, lets the planner take the index of the orders
    with any message that may be unread.)"""
    return f"o.{side.talk} > 0 AND o.{side.talk} > {marker('?')}"


# ---------------------------------------------------------------- writing messages

SYSTEM, TALK = "system", "talk"  # with model.NOTE, the kinds of message (message_kind)


def message_kind(message: Row) -> str:
    if message["sender_type"] == "system":
        return SYSTEM
    return model.NOTE if message["message_type"] == model.NOTE else TALK


def kept_after(kind: str, message_id: str, at: str, customer: str) -> str:
    """The assignments that keep an order's latest messages and its thread's size
    (migration 14) after a message of `kind`; the arguments are SQL expressions of the
    message's id, its time and whether it is the customer's (read by TALK only)."""
    columns = [f"last_message_id = {message_id}", f"last_message_time = {at}"]
    if kind != model.NOTE:
        columns += [f"customer_message_id = {message_id}", f"customer_message_time = {at}"]
    if kind != SYSTEM:
        columns.append(f"merchant_talk_id = {message_id}")
    if kind == TALK:
        columns += [f"customer_talk_id = {message_id}", f"awaiting_reply = {customer}"]
    columns.append("message_count = message_count + 1")
    if kind == model.NOTE:
        columns.append("note_count = note_count + 1")
    return ", ".join(columns)


# After a message someone wrote: ?1 the order, ?2 its writer, ?3 the message's id, ?4
# its time, ?5 whether it is the customer's. After a system message: ?1 the order, ?2
# the message's id, ?3 its time.
_KEPT = {
    TALK: f"UPDATE comm_orders SET {kept_after(TALK, '?3', '?4', '?5')} WHERE id = ?1",
    model.NOTE: f"UPDATE comm_orders SET {kept_after(model.NOTE, '?3', '?4', '')} WHERE id = ?1",
    SYSTEM: f"UPDATE comm_orders SET {kept_after(SYSTEM, '?2', '?3', '')} WHERE id = ?1",
}
_MOVE_MARKER = """
    INSERT INTO read_markers (user_id, comm_order_id, message_id)
    SELECT CAST(?2 AS BIGINT), CAST(?1 AS BIGINT), CAST(?3 AS BIGINT) WHERE ?2 > 0
    ON CONFLICT (user_id, comm_order_id) DO UPDATE SET message_id = excluded.message_id
    WHERE excluded.message_id > read_markers.message_id"""


# The statements that keep caught_up_counts (migration 13), a reader's orders with
# 0 < merchant_talk_id <= their marker. Each reads the order and its markers as they
# were before, so it runs before they are written: on SQLite as the statement before; on
# PostgreSQL as a part of the statement that writes them (whose parts all see the rows as
# they were). Every writer of an order's markers or latest messages holds the order's
# lock first, so what it reads stays true until it commits.


def count_new_talk(order: str, reader: str) -> str:
    """As order `order` gets a new latest message that is not a system message and the
    marker of `reader` (0: nobody) moves to it: -1 for each reader who was caught up,
    +1 for `reader`. (The rows are locked in user order: two such statements never wait
    for each other in turn.)"""
    return f"""
        INSERT INTO caught_up_counts (user_id, shard, n)
        SELECT user_id, CAST({order} AS BIGINT) % 16, sum(delta) FROM (
            SELECT r.user_id, -1 AS delta FROM read_markers r, comm_orders o
            WHERE r.comm_order_id = {order} AND o.id = {order}
              AND o.merchant_talk_id > 0 AND r.message_id >= o.merchant_talk_id
            UNION ALL
            SELECT CAST({reader} AS BIGINT), 1 WHERE {reader} > 0
        ) AS d
        GROUP BY user_id HAVING sum(delta) <> 0
        ORDER BY user_id
        ON CONFLICT (user_id, shard) DO UPDATE SET n = caught_up_counts.n + excluded.n"""


def count_marker_move(order: str, reader: str, marker: str) -> str:
    """As the marker of `reader` (0: nobody) on order `order` moves forward to `marker`,
    the order's latest messages unchanged: +1 if that reaches the latest message that is
    not a system message, which the marker was below."""
    return f"""
        INSERT INTO caught_up_counts (user_id, shard, n)
        SELECT CAST({reader} AS BIGINT), o.id % 16, 1 FROM comm_orders o
        WHERE o.id = {order} AND {reader} > 0
          AND o.merchant_talk_id > 0 AND o.merchant_talk_id <= {marker}
          AND o.merchant_talk_id > coalesce((SELECT r.message_id FROM read_markers r
                                             WHERE r.user_id = {reader}
                                               AND r.comm_order_id = {order}), 0)
        ON CONFLICT (user_id, shard) DO UPDATE SET n = caught_up_counts.n + 1"""


# ?1 the order, ?2 the reader, ?3 the message (or the marker's new place).
_COUNT_NEW_TALK = count_new_talk("?1", "?2")
_COUNT_MARKER_MOVE = count_marker_move("?1", "?2", "?3")

# PostgreSQL: the three writes after a message someone wrote as one statement (one
# round trip).
_POSTGRES_AFTER_WRITTEN = {
    kind: f"""WITH counted AS ({_COUNT_NEW_TALK}),
                   kept AS ({_KEPT[kind]}),
                   marked AS ({_MOVE_MARKER})
              SELECT 1"""
    for kind in (TALK, model.NOTE)
}


async def message_written(tx: Tx, message: Row) -> None:
    """Keep the order's latest messages and its thread's size (in the transaction that
    wrote `message`, under the order's lock). A message someone wrote also moves its
    writer's marker to it and keeps the readers' caught-up counts; a system message
    moves no marker (it tells of an action, it is nobody's message: the spec's "any
    message the caller writes (a message, a quote, a note)")."""
    kind = message_kind(message)
    if kind == SYSTEM:
        order_id, message_id, at = message["comm_order_id"], message["id"], message["created_time"]
        await tx.run(_KEPT[SYSTEM], order_id, message_id, at)
        return
    customer = int(message["sender_type"] == "user")
    values = (
        message["comm_order_id"], message["sender_id"], message["id"], message["created_time"],
        customer,
    )  # fmt: skip
    kept_values = values if kind == TALK else values[:4]
    if tx.dialect == "postgres":
        await tx.run(_POSTGRES_AFTER_WRITTEN[kind], *kept_values)
        return
    await count_written(tx, message)
    await tx.run(_KEPT[kind], *kept_values)
    await mark_written(tx, message)


async def count_written(tx: Tx, message: Row) -> None:
    """SQLite, before the order's latest messages move to `message`, a message someone
    wrote: the readers' caught-up counts."""
    await tx.run(_COUNT_NEW_TALK, message["comm_order_id"], message["sender_id"])


async def mark_written(tx: Tx, message: Row) -> None:
    """SQLite, after: the marker of the writer of `message` moves to it."""
    await tx.run(_MOVE_MARKER, message["comm_order_id"], message["sender_id"], message["id"])


async def move_marker(tx: Tx, user_id: int, order_id: int, message_id: int) -> None:
    """Move a reader's marker forward (the order locked by the caller) and keep their
    caught-up count."""
    await tx.run(_COUNT_MARKER_MOVE, order_id, user_id, message_id)
    await tx.run(_MOVE_MARKER, order_id, user_id, message_id)


# ---------------------------------------------------------------- reading


def view_select(dialect: str, side: Side, customer: bool) -> tuple[str, str]:
    """What order `o` holds for reader ?1 (and ?2, the same user): the select list of
    unread, last_message's columns and the last activity, and the joins it needs. With
    `customer`, the customer's columns too (u_user_name, u_email, u_phone)."""
    hidden = side.hidden
    columns = f"""
        {activity(dialect, side, "o.")} AS last_activity_time,
        CASE WHEN o.{side.talk} > {marker("?1")} THEN (
            SELECT count(*) FROM messages m
            WHERE m.comm_order_id = o.id AND m.id > {marker("?1")}
              AND m.sender_type <> 'system' AND m.sender_id <> ?2{hidden})
        ELSE 0 END AS unread,
        lm.id AS lm_id, lm.sender_type AS lm_sender_type,
        lm.sender_name AS lm_sender_name, lm.message_type AS lm_message_type,
        substr(lm.content, 1, {model.LAST_MESSAGE_PREVIEW}) AS lm_content,
        lm.created_time AS lm_created_time"""
    joins = f"LEFT JOIN messages lm ON lm.id = o.{side.last}"
    if customer:
        columns += ", u.user_name AS u_user_name, u.email AS u_email, u.phone AS u_phone"
        joins += " LEFT JOIN users u ON u.id = o.user_id"
    return columns, joins


@functools.cache
def _unread_sql(dialect: str, side: Side) -> str:
    """The unread count of order ?3 for reader ?1 (and ?2, the same user)."""
    columns, joins = view_select(dialect, side, customer=False)
    return f"SELECT unread FROM (SELECT {columns} FROM comm_orders o {joins} WHERE o.id = ?3) v"


def view_of(row: Row) -> Row:
    """The reader keys from a row selected with view_select's columns."""
    return {
        "unread": int(row["unread"]),
        "last_message": None
        if row["lm_id"] is None
        else {
            "id": row["lm_id"],
            "sender_type": row["lm_sender_type"],
            "sender_name": row["lm_sender_name"],
            "message_type": row["lm_message_type"],
            "content": row["lm_content"],
            "created_time": row["lm_created_time"],
        },
        "last_activity_time": int(row["last_activity_time"]),
    }


def customer_of(user_id: int, row: Row) -> Row:
    """The merchant's list item's `user`: customer `user_id` from a row with
    view_select's customer columns."""
    return {
        "id": user_id,
        "user_name": row["u_user_name"],
        "email": row["u_email"] or "",
        "phone": row["u_phone"] or "",
    }


async def mark_read(
    tx: Tx, order_id: int, owner_id: int | None, reader: Sender, message_id: int | None
) -> int:
    """Move the reader's marker on the order to `message_id` (by default the latest
    message their side sees); never back. A message of another order, or one the
    reader's side may not see, is refused. Returns the reader's unread count after."""
    side = side_of(owner_id)
    order = await fetch_order(tx, order_id, owner_id)
    if message_id is None:
        target = await tx.value(f"SELECT {side.last} FROM comm_orders WHERE id = ?", order_id)
    else:
        found = await tx.one(
            f"SELECT m.id FROM messages m WHERE m.id = ? AND m.comm_order_id = ?{side.hidden}",
            message_id,
            order_id,
        )
        if found is None:
            raise Invalid(texts.MESSAGE_NOT_IN_ORDER)
        target = message_id
    if target:
        await move_marker(tx, reader.user_id, order["id"], target)
    unread = await tx.value(_unread_sql(tx.dialect, side), reader.user_id, reader.user_id, order_id)
    return int(unread)
