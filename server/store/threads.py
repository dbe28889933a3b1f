"""An order's message thread: system, customer and merchant messages."""

from .. import messages as M
from .. import model
from ..errors import StatusNotAllowed
from ..model import NewMessage, Page, Status
from . import events
from .tx import MESSAGE_COLUMNS, ORDER_COLUMNS, Tx, fetch_order, order_row
from .types import Row, Sender


async def add_system_message(tx: Tx, order_id: int, content: str, now: int) -> Row:
    row = await tx.one(
        f"""INSERT INTO messages (comm_order_id, sender_id, sender_type, sender_name,
                                  message_type, content, created_time)
            VALUES (?, 0, 'system', ?, 'text', ?, ?) RETURNING {MESSAGE_COLUMNS}""",
        order_id,
        model.SYSTEM_SENDER_NAME,
        content,
        now,
    )
    return dict(row)


async def insert_message(
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


async def add_message(
    tx: Tx, message: NewMessage, owner_id: int | None, sender: Sender, now: int
) -> Row:
    order = await fetch_order(tx, message.comm_order_id, owner_id)
    if order["status"] == Status.CANCELLED:
        raise StatusNotAllowed(M.MESSAGES_CLOSED)
    moved = None
    if sender.sender_type == "admin" and order["status"] == Status.PENDING:
        moved = await tx.one(
            f"""UPDATE comm_orders SET status = ?, admin_id = ?, version = version + 1,
                    updated_time = ?
                WHERE id = ? RETURNING {ORDER_COLUMNS}""",
            Status.IN_COMMUNICATION,
            sender.user_id,
            now,
            order["id"],
        )
    stored = await insert_message(
        tx, order["id"], sender, message.message_type, message.content, now
    )
    if moved is None:
        await events.record(tx, dict(order), None, stored, now)
    else:
        await events.record(tx, order_row(tx, moved), events.ORDER_UPDATED, stored, now)
    return stored


# Threads sort by id, the order the messages were written in; created_time is a wall
# clock and may step back.
THREAD_OLDEST_FIRST = f"""
    SELECT {MESSAGE_COLUMNS} FROM messages WHERE comm_order_id = ?
    ORDER BY id LIMIT ? OFFSET ?"""
THREAD_NEWEST_FIRST = f"""
    SELECT {MESSAGE_COLUMNS} FROM messages WHERE comm_order_id = ?
    ORDER BY id DESC LIMIT ?"""


async def count_messages(tx: Tx, order_id: int) -> int:
    return await tx.value("SELECT count(*) FROM messages WHERE comm_order_id = ?", order_id)


async def last_messages(tx: Tx, order_id: int, count: int) -> list[Row]:
    """The thread's last `count` messages, oldest first."""
    rows = await tx.all(THREAD_NEWEST_FIRST, order_id, count)
    return [dict(row) for row in reversed(rows)]


async def list_messages(
    tx: Tx, order_id: int, owner_id: int | None, page: Page
) -> tuple[list[Row], int]:
    await fetch_order(tx, order_id, owner_id)
    rows = await tx.all(THREAD_OLDEST_FIRST, order_id, page.size, page.offset)
    return [dict(row) for row in rows], await count_messages(tx, order_id)
