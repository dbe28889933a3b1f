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

A page of orders gets all three in one statement whatever its size.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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

_AFTER_MESSAGE = {
    "system": """last_message_id = ?, last_message_time = ?,
                 customer_message_id = ?, customer_message_time = ?""",
    model.NOTE: "last_message_id = ?, last_message_time = ?, merchant_talk_id = ?",
    "talk": """last_message_id = ?, last_message_time = ?,
               customer_message_id = ?, customer_message_time = ?,
               merchant_talk_id = ?, customer_talk_id = ?, awaiting_reply = ?""",
}

_MOVE_MARKER = """
    INSERT INTO read_markers (user_id, comm_order_id, message_id) VALUES (?, ?, ?)
    ON CONFLICT (user_id, comm_order_id) DO UPDATE SET message_id = excluded.message_id
    WHERE excluded.message_id > read_markers.message_id"""


_MOVE_MARKER_SELECTED = """
    INSERT INTO read_markers (user_id, comm_order_id, message_id)
    SELECT ?::bigint, ?::bigint, ?::bigint
    ON CONFLICT (user_id, comm_order_id) DO UPDATE SET message_id = excluded.message_id
    WHERE excluded.message_id > read_markers.message_id"""


async def message_written(tx: Tx, message: Row, reader: int) -> None:
    """Keep the order's latest messages (in the transaction that wrote `message`), and
    move the marker of `reader` (the user whose action wrote it; 0: nobody) to it."""
    message_id, time = message["id"], message["created_time"]
    values: tuple[int, ...]
    if message["sender_type"] == "system":
        kind, values = "system", (message_id, time, message_id, time)
    elif message["message_type"] == model.NOTE:
        kind, values = model.NOTE, (message_id, time, message_id)
    else:
        customer = int(message["sender_type"] == "user")
        kind = "talk"
        values = (message_id, time, message_id, time, message_id, message_id, customer)
    kept = f"UPDATE comm_orders SET {_AFTER_MESSAGE[kind]} WHERE id = ?"
    order_id = message["comm_order_id"]
    if tx.dialect == "postgres" and reader:  # one round trip
        await tx.run(
            f"""WITH kept AS ({kept}),
                     marked AS ({_MOVE_MARKER_SELECTED})
                SELECT 1""",
            *values,
            order_id,
            reader,
            order_id,
            message_id,
        )
        return
    await tx.run(kept, *values, order_id)
    if reader:
        await move_marker(tx, reader, order_id, message_id)


async def move_marker(tx: Tx, user_id: int, order_id: int, message_id: int) -> None:
    await tx.run(_MOVE_MARKER, user_id, order_id, message_id)


# ---------------------------------------------------------------- reading

_IDS = {
    "sqlite": "o.id IN (SELECT value FROM json_each(?))",
    "postgres": "o.id = ANY(?::bigint[])",
}


def views_sql(dialect: str, side: Side) -> str:
    """For the orders ?3 (their ids), as reader ?1 sees them: unread, last_message's
    columns, the last activity, and on the merchant's side the customer."""
    hidden = side.hidden
    customer = (
        ", u.user_name AS u_user_name, u.email AS u_email, u.phone AS u_phone"
        if side.merchant
        else ""
    )
    users = "LEFT JOIN users u ON u.id = o.user_id" if side.merchant else ""
    ids = _IDS[dialect].replace("?", "?3")
    return f"""
        SELECT o.id, o.user_id, {activity(dialect, side, "o.")} AS last_activity_time,
               CASE WHEN o.{side.talk} > {marker("?1")} THEN (
                   SELECT count(*) FROM messages m
                   WHERE m.comm_order_id = o.id AND m.id > {marker("?1")}
                     AND m.sender_type <> 'system' AND m.sender_id <> ?2{hidden})
               ELSE 0 END AS unread,
               lm.id AS lm_id, lm.sender_type AS lm_sender_type,
               lm.sender_name AS lm_sender_name, lm.message_type AS lm_message_type,
               substr(lm.content, 1, {model.LAST_MESSAGE_PREVIEW}) AS lm_content,
               lm.created_time AS lm_created_time{customer}
        FROM comm_orders o
        LEFT JOIN messages lm ON lm.id = o.{side.last}
        {users}
        WHERE {ids}"""


async def reader_views(tx: Tx, side: Side, reader: int, order_ids: Sequence[int]) -> dict[int, Row]:
    """What each of the orders holds for `reader` (one statement for them all): the
    three reader keys, and on the merchant's side the customer's `user`."""
    if not order_ids:
        return {}
    ids: Any = list(order_ids) if tx.dialect == "postgres" else f"{list(order_ids)}"
    views = {}
    for row in await tx.all(views_sql(tx.dialect, side), reader, reader, ids):
        view: Row = {
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
        if side.merchant:
            view["user"] = {
                "id": row["user_id"],
                "user_name": row["u_user_name"],
                "email": row["u_email"] or "",
                "phone": row["u_phone"] or "",
            }
        views[row["id"]] = view
    return views


async def with_reader_keys(tx: Tx, orders: list[Row], owner_id: int | None, reader: int) -> None:
    """Add the reader keys (and on the merchant's side `user`) to each order."""
    side = side_of(owner_id)
    views = await reader_views(tx, side, reader, [order["id"] for order in orders])
    for order in orders:
        view = views[order["id"]]
        if not side.merchant:
            view.pop("user", None)
        order.update(view)


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
    views = await reader_views(tx, side, reader.user_id, [order_id])
    return int(views[order_id]["unread"])
