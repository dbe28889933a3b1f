"""An order's message thread: system, customer and merchant messages, and the
merchant's internal notes, which only the merchant's side ever sees."""

from .. import model
from ..errors import StatusNotAllowed
from ..model import Page
from ..validate.orders import NewMessage
from ..workflow import MOVES
from . import events
from .changes import Note, insert_message, record_change
from .tx import MESSAGE_COLUMNS, Tx, as_dict, fetch_order, order_row
from .types import ANY_OWNER, Row, Sender


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
    await events.record(tx, as_dict(order), None, stored)
    return stored


async def add_note(tx: Tx, order_id: int, content: str, sender: Sender) -> Row:
    """An internal note, in any status: no version, no status change, no mail; its event
    reaches the merchant's side only (streams and webhooks)."""
    order = await fetch_order(tx, order_id, ANY_OWNER)
    stored = await insert_message(tx, order["id"], sender, model.NOTE, content)
    await events.record(tx, as_dict(order), None, stored, merchant_only=True)
    return stored


# Threads sort by id, the order the messages were written in; created_time is a wall
# clock and may step back.
# A customer's view of a thread has no notes.
_NO_NOTES = f" AND message_type <> '{model.NOTE}'"
THREAD_OLDEST_FIRST = f"""
    SELECT {MESSAGE_COLUMNS} FROM messages WHERE comm_order_id = ?
    ORDER BY id LIMIT ? OFFSET ?"""
CUSTOMER_THREAD_OLDEST_FIRST = f"""
    SELECT {MESSAGE_COLUMNS} FROM messages WHERE comm_order_id = ?{_NO_NOTES}
    ORDER BY id LIMIT ? OFFSET ?"""
_JSON_OBJECT = {"sqlite": "json_object", "postgres": "json_build_object"}
_JSON_ARRAY = {"sqlite": "json_group_array", "postgres": "json_agg"}


def last_messages_json(dialect: str, merchant: bool, order: str, count: int) -> str:
    """The last `count` messages of `order`'s thread that one side sees, as a JSON array
    (text, in no particular order; NULL or [] for none): a detail's thread in the
    detail's own statement."""
    pairs = ", ".join(f"'{name}', m.{name}" for name in MESSAGE_COLUMNS.split(", "))
    notes = "" if merchant else _NO_NOTES
    return f"""(SELECT CAST({_JSON_ARRAY[dialect]}({_JSON_OBJECT[dialect]}({pairs})) AS TEXT)
                FROM (SELECT {MESSAGE_COLUMNS} FROM messages
                      WHERE comm_order_id = {order}{notes}
                      ORDER BY id DESC LIMIT {count}) m)"""


def thread_size(merchant: bool, alias: str = "") -> str:
    """The thread's size as one side sees it, as the order keeps it (migration 14): the
    customer's side without the notes."""
    return f"{alias}message_count" + ("" if merchant else f" - {alias}note_count")


async def count_messages(tx: Tx, order_id: int, owner_id: int | None = ANY_OWNER) -> int:
    size = thread_size(owner_id is ANY_OWNER)
    return int(await tx.value(f"SELECT {size} FROM comm_orders WHERE id = ?", order_id))


async def list_messages(
    tx: Tx, order_id: int, owner_id: int | None, page: Page
) -> tuple[list[Row], int]:
    await fetch_order(tx, order_id, owner_id)
    sql = THREAD_OLDEST_FIRST if owner_id is ANY_OWNER else CUSTOMER_THREAD_OLDEST_FIRST
    rows = await tx.all(sql, order_id, page.size, page.offset)
    return [as_dict(row) for row in rows], await count_messages(tx, order_id, owner_id)
