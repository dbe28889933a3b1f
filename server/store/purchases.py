"""Purchase orders: the shop's order to be paid, made when a customer accepts a quote,
and the moves of workflow.PURCHASE_MOVES (pay, cancel, finish, refund; paid, deliver,
the refund decision, close).

A move reads the purchase order locked for its transaction (PostgreSQL: FOR UPDATE;
SQLite has one writer), so of two moves racing on one order the second sees what the
first wrote. Each writes, in the same transaction, the system message that tells of it
in the communication order's thread, the `purchase_order.updated` event with the
purchase order as data, their deliveries and the customer's mail.
"""

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..entities import PURCHASE_ORDER
from ..errors import Invalid, OrderNotFound, StatusNotAllowed
from ..model import OFFLINE, Page
from ..texts import PAID_WITH_ANOTHER_REFERENCE, PAYMENT_METHOD_NOT_AVAILABLE
from ..workflow import PURCHASE_MOVES, PURCHASE_STATUSES, PurchaseMove, PurchaseStatus
from . import events
from .changes import SYSTEM, insert_message
from .tx import Tx, as_dict
from .types import ANY_OWNER, Row

COLUMNS = PURCHASE_ORDER.columns
# What a move reads beyond the answer: the customer's choice of payment, and where a
# refused refund goes back to.
_LOCKED_COLUMNS = f"{COLUMNS}, chosen_pay_way, refund_from_status"
_NEXT_ID = {
    "sqlite": "SELECT coalesce(max(id), 0) + 1 FROM purchase_orders",  # one writer
    "postgres": "SELECT nextval(pg_get_serial_sequence('purchase_orders', 'id'))",
}


def order_number(purchase_id: int, created_time: int) -> str:
    """The string order_id: the creation time as YYYYMMDDhhmmss (UTC) and the id's last
    4 digits."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(created_time)) + f"{purchase_id % 10000:04d}"


def _cents(price: str) -> int:
    return int(Decimal(price) * 100)


async def create_purchase_order(tx: Tx, comm_order: Row, remark: str) -> Row:
    """The purchase order of an accepted quote (the caller has locked `comm_order` and
    records the accept's message and events after it)."""
    purchase_id = await tx.value(_NEXT_ID[tx.dialect])
    return dict(
        await tx.row(
            f"""INSERT INTO purchase_orders (id, order_id, comm_order_id, user_id, amount,
                                             remark, created_time, updated_time)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING {COLUMNS}""",
            purchase_id,
            order_number(purchase_id, tx.now),
            comm_order["id"],
            comm_order["user_id"],
            _cents(comm_order["quote_price"]),
            remark,
            tx.now,
            tx.now,
        )
    )


async def purchase_created(tx: Tx, comm_order: Row, purchase: Row) -> None:
    """The event of a new purchase order (its communication order's accept has written
    the message that tells of it)."""
    await events.record(tx, comm_order, events.PURCHASE_ORDER_UPDATED, None, data=purchase)


# ---------------------------------------------------------------- reads


async def list_purchase_orders(
    tx: Tx,
    owner_id: int | None,
    page: Page,
    status: int | None = None,
    user_id: int | None = None,
    comm_order_id: int | None = None,
) -> tuple[list[Row], int]:
    """A page of purchase orders, newest first, and how many match: the caller's own
    (`owner_id`) or, for the merchant (ANY_OWNER), anyone's (`user_id` to choose)."""
    clauses, params = [], []
    for column, value in (
        ("user_id", owner_id if owner_id is not ANY_OWNER else user_id),
        ("status", status),
        ("comm_order_id", comm_order_id),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = await tx.all(
        f"SELECT {COLUMNS} FROM purchase_orders {where} ORDER BY id DESC LIMIT ? OFFSET ?",
        *params,
        page.size,
        page.offset,
    )
    total = await tx.value(f"SELECT count(*) FROM purchase_orders {where}", *params)
    return [as_dict(row) for row in rows], total


async def _find(tx: Tx, order_id: str, owner_id: int | None, columns: str, lock: str) -> Row:
    sql = f"SELECT {columns} FROM purchase_orders WHERE order_id = ?"
    params: list[Any] = [order_id]
    if owner_id is not ANY_OWNER:
        sql += " AND user_id = ?"
        params.append(owner_id)
    row = await tx.one(sql + lock, *params)
    if row is None:
        raise OrderNotFound()  # another's too: no caller learns which exist
    return as_dict(row)


async def purchase_detail(tx: Tx, order_id: str, owner_id: int | None) -> Row:
    return await _find(tx, order_id, owner_id, COLUMNS, "")


# ---------------------------------------------------------------- moves


@dataclass(frozen=True)
class Caller:
    """Who moves a purchase order: the customer (their own ones only) or the merchant."""

    user_id: int
    owner_id: int | None  # ANY_OWNER for the merchant


async def _movable(tx: Tx, move: PurchaseMove, order_id: str, caller: Caller) -> Row:
    """The purchase order, locked, if `move` may be made from its status."""
    old = await _find(tx, order_id, caller.owner_id, _LOCKED_COLUMNS, tx.for_update)
    if old["status"] not in move.sources:
        raise StatusNotAllowed(move.refusal)
    return old


async def _write_move(
    tx: Tx,
    old: Row,
    move: PurchaseMove,
    changes: dict[str, Any],
    detail: str = "",
) -> Row:
    """The move's UPDATE (`changes`, the status and the time), its system message in the
    thread, its event and the customer's mail; returns the purchase order written."""
    if move.target is not None:
        changes = {"status": int(move.target), **changes}
    assignments = ", ".join(f"{column} = ?" for column in changes)
    # The communication order is locked first, as every writer of its thread does: its
    # latest message (inbox.py) never moves back to this one from a newer.
    comm_order = dict(
        await tx.row(
            f"SELECT id, user_id, title, assignee_id FROM comm_orders WHERE id = ?{tx.for_update}",
            old["comm_order_id"],
        )
    )
    new = dict(
        await tx.row(
            f"""UPDATE purchase_orders SET {assignments}, updated_time = ? WHERE id = ?
                RETURNING {COLUMNS}""",
            *changes.values(),
            tx.now,
            old["id"],
        )
    )
    note = move.note.format(order_id=old["order_id"], detail=detail)
    message = await insert_message(tx, comm_order["id"], SYSTEM, "text", note)
    await events.record(tx, comm_order, events.PURCHASE_ORDER_UPDATED, message, move.mail, data=new)
    return new


_ANSWERED = tuple(key.name for key in PURCHASE_ORDER.keys)


def _public(order: Row) -> Row:
    return {name: order[name] for name in _ANSWERED}


async def choose_payment(tx: Tx, order_id: str, pay_way: str, caller: Caller) -> Row:
    """The customer's choice of how to pay an order awaiting payment; only `offline` is
    built in. Choosing the same way again changes nothing."""
    move = PURCHASE_MOVES["payment"]
    old = await _movable(tx, move, order_id, caller)
    if pay_way != OFFLINE:
        raise Invalid(PAYMENT_METHOD_NOT_AVAILABLE)
    if old["chosen_pay_way"] == pay_way:
        return _public(old)
    return await _write_move(tx, old, move, {"chosen_pay_way": pay_way}, pay_way)


async def cancel(tx: Tx, order_id: str, caller: Caller) -> Row:
    move = PURCHASE_MOVES["cancel"]
    return await _write_move(tx, await _movable(tx, move, order_id, caller), move, {})


async def finish(tx: Tx, order_id: str, caller: Caller) -> Row:
    move = PURCHASE_MOVES["finish"]
    old = await _movable(tx, move, order_id, caller)
    return await _write_move(tx, old, move, {"finished_time": tx.now})


async def request_refund(tx: Tx, order_id: str, reason: str, caller: Caller) -> Row:
    move = PURCHASE_MOVES["refund"]
    old = await _movable(tx, move, order_id, caller)
    changes = {"refund_reason": reason, "refund_from_status": old["status"]}
    return await _write_move(tx, old, move, changes, reason)


async def mark_paid(tx: Tx, order_id: str, pay_way: str, reference: str, caller: Caller) -> Row:
    """0 → 1. Idempotent per payment reference: an order already paid with the same
    reference is answered as it is (a payment provider retrying its callback); with
    another, refused."""
    move = PURCHASE_MOVES["paid"]
    old = await _find(tx, order_id, caller.owner_id, _LOCKED_COLUMNS, tx.for_update)
    if old["paid_time"]:
        if old["payment_reference"] == reference:
            return _public(old)
        raise Invalid(PAID_WITH_ANOTHER_REFERENCE)
    if old["status"] not in move.sources:
        raise StatusNotAllowed(move.refusal)
    changes = {"pay_way": pay_way, "payment_reference": reference, "paid_time": tx.now}
    detail = f"{pay_way}, reference {reference}" if reference else pay_way
    return await _write_move(tx, old, move, changes, detail)


async def deliver(
    tx: Tx, order_id: str, express_company: str, tracking_number: str, caller: Caller
) -> Row:
    move = PURCHASE_MOVES["deliver"]
    old = await _movable(tx, move, order_id, caller)
    changes = {
        "express_company": express_company,
        "tracking_number": tracking_number,
        "deliver_time": tx.now,
    }
    detail = "".join(
        f"; {label}: {value}"
        for label, value in (("carrier", express_company), ("tracking number", tracking_number))
        if value
    )
    return await _write_move(tx, old, move, changes, detail)


async def decide_refund(tx: Tx, order_id: str, approve: bool, caller: Caller) -> Row:
    """8 → 9 when approved, else back to the status the request was made in."""
    move = PURCHASE_MOVES["approve refund" if approve else "refuse refund"]
    old = await _movable(tx, move, order_id, caller)
    if approve:
        return await _write_move(tx, old, move, {})
    back = PurchaseStatus(old["refund_from_status"])
    changes = {"status": int(back)}
    return await _write_move(tx, old, move, changes, PURCHASE_STATUSES[back].name)


async def close(tx: Tx, order_id: str, reason: str, caller: Caller) -> Row:
    move = PURCHASE_MOVES["close"]
    old = await _movable(tx, move, order_id, caller)
    return await _write_move(tx, old, move, {}, f"; reason: {reason}" if reason else "")
