"""An order's message thread: system, customer and merchant messages."""

from ..errors import StatusNotAllowed
from ..model import Page
from ..validate.orders import NewMessage
from ..workflow import MOVES
from . import events
from .changes import Note, insert_message, record_change
from .tx import MESSAGE_COLUMNS, Tx, fetch_order, order_row
from .types import Row, Sender


async def add_message(tx: Tx, message: NewMessage, owner_id: int | None, sender: Sender) -> Row:
    """A message in a thread that is open to it; the merchant's first reply moves a
    pending order into communication."""
    order = await fetch_order(tx, message.comm_order_id, owner_id)
    merchant = sender.sender_type == "admin"
    move = MOVES["reply" if merchant else "message"]
    if order["status"] not in move.sources:
        raise StatusNotAllowed(move.refusal)
    note = Note(message.content, sender, message.message_type)
    opening = MOVES["first reply"]
    if merchant and order["status"] in opening.sources:
        moved = (opening.target, sender.user_id)
        _, stored = await record_change(
            tx, order_row(tx, order), "status = ?, admin_id = ?", moved, note
        )
        return stored
    stored = await insert_message(tx, order["id"], sender, note.kind, note.content)
    await events.record(tx, dict(order), None, stored)
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
