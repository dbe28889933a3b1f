"""The communication order: create, the seed's update, status moves, quotes, images,
lists and the detail."""

from collections.abc import Mapping
from typing import Any

import orjson

from .. import model, texts
from ..errors import OrderFinal, QuoteChanged, StatusNotAllowed, VersionConflict
from ..model import Acceptance, NewOrder, OrderChanges, Page, Status, check_extra_size
from ..texts import Text
from . import events, outbox
from .changes import Note, record_change
from .fields import field_definitions
from .threads import count_messages, last_messages
from .tx import ORDER_COLUMNS, Tx, fetch_changeable_order, fetch_order, order_row, to_json
from .types import ANY_OWNER, OrderFilter, Quote, Row, Sender


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
    created = order_row(tx, row)
    _check_stored_extra(created["order_extra"])
    await events.record(tx, created, events.ORDER_CREATED, None, now)
    return created


# The seed's update, scoped to the owner (changes.record_change adds `WHERE id = ? AND
# user_id = ?`), merging order_extra in the database (json_patch; NULL for a NULL patch,
# so order_extra then stays).
_UPDATE_ORDER = """title = coalesce(?, title), content = coalesce(?, content),
    phone = coalesce(?, phone), images = coalesce(?, images),
    event_date = coalesce(?, event_date),
    order_extra = coalesce(json_patch(order_extra, ?), order_extra), status = ?"""

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


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch, as the database's json_patch computes it: a key with a
    value sets it (objects merge recursively), a key with null removes it, other keys
    stay; a patch that is not an object replaces the target. Used only to foresee what
    the update's json_patch will change (the audit message, a no-op, the size limit)
    before anything is written: the row is locked, so the database merges the same."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


async def update_order(
    tx: Tx,
    order_id: int,
    owner_id: int,
    changes: OrderChanges,
    expected_version: int | None,
    now: int,
) -> Row:
    old = order_row(tx, await fetch_changeable_order(tx, order_id, owner_id))
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
    extra = None
    if changes.order_extra is not None:
        merged = merge_patch(old["order_extra"], changes.order_extra)
        keys = _changed_keys(old["order_extra"], merged, changes.order_extra)
        if keys:
            _check_stored_extra(merged)
            changed += [f"order_extra.{key}" for key in keys]
            extra = to_json(changes.order_extra)  # the patch: merged by json_patch
    if not changed:
        return old  # nothing is written: nothing bumps

    status = old["status"]
    requirements = [n for n in changed if n in ("title", "content") or n.startswith("order_extra.")]
    if status == Status.QUOTED and requirements:
        # The customer may no longer accept a quote made for other requirements.
        status = Status.IN_COMMUNICATION
    images = None if changes.images is None else to_json(changes.images)
    new, _ = await record_change(
        tx,
        old,
        _UPDATE_ORDER,
        (changes.title, changes.content, changes.phone, images, changes.event_date, extra, status),
        Note("order updated: " + ", ".join(changed)),
        now,
        images=changes.images,
    )
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
) -> Row:
    """One status move with its system message and events (reject, cancel)."""
    old = await _movable(tx, order_id, owner_id, allowed, refusal)
    mail = outbox.REJECTED if status == Status.REJECTED else outbox.CANCELLED
    order, _ = await record_change(tx, old, "status = ?", (status,), Note(message), now, mail)
    return order


async def _movable(
    tx: Tx,
    order_id: int,
    owner_id: int | None,
    allowed: tuple[Status, ...],
    refusal: Text,
    seen: Acceptance | None = None,
) -> Row:
    """The order, locked, unless it is not in `allowed` or, for an accept, no longer has
    the version and price the customer saw."""
    old = order_row(tx, await fetch_order(tx, order_id, owner_id))
    if old["status"] not in allowed:
        raise StatusNotAllowed(refusal)
    if seen is not None:
        _check_accept_guards(old, seen)
    return old


def with_note(text: str, label: str, note: str) -> str:
    return f"{text}; {label}: {note}" if note else text


def _check_accept_guards(order: Mapping[str, Any], seen: Acceptance) -> None:
    if seen.version is not None and seen.version != order["version"]:
        raise VersionConflict(order["version"])
    if seen.quote_price is not None and seen.quote_price != order["quote_price"]:
        raise QuoteChanged(order["quote_price"])


async def accept_quote(tx: Tx, accepted: Acceptance, owner_id: int, now: int) -> Row:
    order_id, remark = accepted.order_id, accepted.remark
    old = await _movable(
        tx, order_id, owner_id, (Status.QUOTED,), texts.ONLY_QUOTED_ACCEPT, seen=accepted
    )
    purchase_id = await tx.value(
        """INSERT INTO orders (user_id, comm_order_id, amount, status, remark, created_time)
           VALUES (?, ?, ?, ?, ?, ?) RETURNING id""",
        owner_id,
        order_id,
        old["quote_price"],
        model.PURCHASE_ORDER_STATUS,
        remark,
        now,
    )
    order, _ = await record_change(
        tx,
        old,
        "status = ?, order_id = ?",
        (Status.ACCEPTED, purchase_id),
        Note(with_note("quote accepted", "remark", remark)),
        now,
        outbox.ACCEPTED,
    )
    return order


async def quote_order(tx: Tx, order_id: int, admin: Sender, quote: Quote, now: int) -> Row:
    old = await _movable(tx, order_id, ANY_OWNER, model.QUOTABLE_STATUSES, texts.CANNOT_QUOTE)
    order, _ = await record_change(
        tx,
        old,
        "status = ?, quote_price = ?, quote_content = ?, admin_id = ?",
        (Status.QUOTED, quote.price, quote.content, admin.user_id),
        Note(f"quote: {quote.price}\n{quote.content}", admin, "quote"),
        now,
    )
    return order


STATUS_NAMES = {
    Status.CANCELLED: "cancelled",
    Status.PENDING: "pending",
    Status.IN_COMMUNICATION: "in communication",
    Status.QUOTED: "quoted",
    Status.ACCEPTED: "accepted",
    Status.REJECTED: "rejected",
}


async def set_order_status(tx: Tx, order_id: int, admin: Sender, status: Status, now: int) -> Row:
    old = order_row(tx, await fetch_changeable_order(tx, order_id, ANY_OWNER))
    if old["status"] == status:
        return old
    moved = f"{STATUS_NAMES[Status(old['status'])]} → {STATUS_NAMES[status]}"
    order, _ = await record_change(
        tx,
        old,
        "status = ?, admin_id = ?",
        (status, admin.user_id),
        Note(f"status changed by {admin.user_name}: {moved}"),
        now,
        outbox.STATUS_CHANGED,
    )
    return order


async def set_order_images(
    tx: Tx, order_id: int, sketch: list[str] | None, finished: list[str] | None, now: int
) -> Row:
    old = order_row(tx, await fetch_order(tx, order_id, ANY_OWNER))
    if old["status"] == Status.CANCELLED:
        raise OrderFinal()
    sent = {"sketch_images": sketch, "finished_images": finished}
    changed = [name for name, value in sent.items() if value not in (None, old[name])]
    if not changed:
        return old
    order, _ = await record_change(
        tx,
        old,
        """sketch_images = coalesce(?, sketch_images),
           finished_images = coalesce(?, finished_images)""",
        (
            None if sketch is None else to_json(sketch),
            None if finished is None else to_json(finished),
        ),
        Note("images updated: " + ", ".join(changed)),
        now,
    )
    return order


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
    return [order_row(tx, row) for row in rows], total


async def order_detail(tx: Tx, order_id: int, owner_id: int | None) -> Row:
    order = order_row(tx, await fetch_order(tx, order_id, owner_id))
    user = await tx.one("SELECT id, user_name FROM users WHERE id = ?", order["user_id"])
    total = await count_messages(tx, order_id)
    messages = await last_messages(tx, order_id, model.DETAIL_MESSAGES)
    extra = order["order_extra"]
    order["order_fields"] = [
        {**field, "value": extra.get(field["field_name"])} for field in await field_definitions(tx)
    ]
    order["user"] = dict(user)
    order["messages"] = messages
    order["messages_total"] = total
    return order


async def bulk_create_orders(tx: Tx, orders: list[tuple[int, NewOrder]], now: int) -> None:
    await tx.run_many(
        _INSERT_ORDER, [_order_values(user_id, order, now) for user_id, order in orders]
    )
