"""The communication order: create, the seed's update, the moves of workflow.MOVES
(accept, reject, cancel, quote, status, images), lists and the detail. The columns
a customer sends, and how an update writes each, come from entities.ORDER."""

import functools
import operator
from collections.abc import Mapping
from typing import Any, NamedTuple

import orjson

from .. import model, texts
from ..entities import ORDER
from ..errors import Invalid, OrderNotFound, QuoteChanged, StatusNotAllowed, VersionConflict
from ..model import Page, check_extra_size
from ..validate.orders import Acceptance, ImagesChange, Quote, StatusChange
from ..workflow import MOVES, STATUS_ENDPOINT_MOVES, STATUSES, Move, Status
from . import events, inbox, purchases
from .changes import Note, record_change
from .threads import last_messages_json, thread_size
from .tx import (
    ORDER_COLUMNS,
    Tx,
    fetch_order,
    numbered_from,
    one_statement,
    order_of,
    order_row,
    to_json,
)
from .types import ANY_OWNER, OrderFilter, Row, Sender

_SENT = ORDER.sent  # what the customer sends on create
_UPDATABLE = tuple(key for key in _SENT if key.updatable)
_REQUIREMENTS = frozenset(key.name for key in _SENT if key.requirement)

# A merged key goes through json_patch into '{}' on create, which drops null values at
# every level, as an update would.
_INSERT_ORDER = f"""
    INSERT INTO comm_orders (user_id, {", ".join(key.name for key in _SENT)},
                             created_time, updated_time)
    VALUES (?, {", ".join("json_patch('{}', ?)" if key.merged else "?" for key in _SENT)},
            ?, ?)"""


def _stored(key: Any, value: Any) -> Any:
    return to_json(value) if key.json and value is not None else value


def _created_values(user_id: int, order: Mapping[str, Any], now: int) -> tuple[Any, ...]:
    return (user_id, *(_stored(key, order[key.name]) for key in _SENT), now, now)


def _check_stored_extra(extra: dict[str, Any]) -> None:
    check_extra_size(len(extra), len(orjson.dumps(extra)))


async def create_order(tx: Tx, user_id: int, order: Mapping[str, Any]) -> Row:
    await events.take_turn(tx)  # before the insert's trigger locks a counts' row
    row = await tx.row(
        _INSERT_ORDER + f" RETURNING {ORDER_COLUMNS}", *_created_values(user_id, order, tx.now)
    )
    created = order_row(tx, row)
    _check_stored_extra(created["order_extra"])
    await events.record(tx, created, events.ORDER_CREATED, None)
    return created


# The seed's update, scoped to the owner (changes.record_change adds `WHERE id = ? AND
# user_id = ?`): a key not sent is NULL and keeps its value; a merged one is merged in
# the database (json_patch; NULL for a NULL patch, so it then stays). The status is
# assigned only when it changes: SQLite rewrites the entries of every index on an
# assigned column, changed or not (two index pages more in every update's commit).
UPDATE_ASSIGNMENTS = ", ".join(
    f"{key.name} = coalesce(json_patch({key.name}, ?), {key.name})"
    if key.merged
    else f"{key.name} = coalesce(?, {key.name})"
    for key in _UPDATABLE
)

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


async def _movable(tx: Tx, move: Move, order_id: int, owner_id: int | None) -> Row:
    """The order, locked, unless the move is not allowed from its status."""
    old = order_row(tx, await fetch_order(tx, order_id, owner_id))
    if old["status"] not in move.sources:
        raise StatusNotAllowed(move.refusal)
    return old


async def update_order(
    tx: Tx,
    order_id: int,
    owner_id: int,
    changes: Mapping[str, Any],
    expected_version: int | None,
) -> Row:
    """The customer's update: only the keys sent (None: not sent); merged keys merged;
    a quoted order whose requirements change goes back to in communication. Changes
    nothing (and bumps nothing) when every sent value equals the stored one."""
    update = MOVES["update"]
    old = await _movable(tx, update, order_id, owner_id)
    if expected_version is not None and expected_version != old["version"]:
        raise VersionConflict(old["version"])
    changed: list[str] = []
    values: list[Any] = []
    for key in _UPDATABLE:
        sent = changes.get(key.name)
        if sent is not None and key.merged:
            merged = merge_patch(old[key.name], sent)
            keys = _changed_keys(old[key.name], merged, sent)
            if keys:
                _check_stored_extra(merged)
                changed += [f"{key.name}.{name}" for name in keys]
        elif sent is not None and sent != old[key.name]:
            changed.append(key.name)
        values.append(_stored(key, sent))
    if not changed:
        return old  # nothing is written: nothing bumps

    assignments = UPDATE_ASSIGNMENTS
    revise = MOVES["revise"]
    if old["status"] in revise.sources and any(
        name.split(".")[0] in _REQUIREMENTS for name in changed
    ):
        # A quote made for other requirements can't be accepted.
        assignments += ", status = ?"
        values.append(revise.target)
    new, _ = await record_change(
        tx,
        old,
        assignments,
        tuple(values),
        Note(f"{update.note}: " + ", ".join(changed)),
        images=changes.get("images"),
    )
    return new


async def move_order(tx: Tx, action: str, order_id: int, owner_id: int, detail: str) -> Row:
    """The customer's move that changes the status only (reject, cancel), with its note
    (and the caller's `detail`, e.g. a reason) and its mail."""
    move = MOVES[action]
    old = await _movable(tx, move, order_id, owner_id)
    order, _ = await record_change(
        tx,
        old,
        "status = ?",
        (move.target,),
        Note(move.note_with(detail)),
        move.mail,
    )
    return order


def _check_accept_guards(order: Mapping[str, Any], seen: Acceptance) -> None:
    if seen.version is not None and seen.version != order["version"]:
        raise VersionConflict(order["version"])
    if seen.quote_price is not None and seen.quote_price != order["quote_price"]:
        raise QuoteChanged(order["quote_price"])


async def accept_quote(tx: Tx, accepted: Acceptance, owner_id: int) -> Row:
    """2 → 3 and a purchase order for the quoted price, unless the order's version or
    price is no longer the one the customer sent."""
    move = MOVES["accept"]
    old = await _movable(tx, move, accepted.id, owner_id)
    _check_accept_guards(old, accepted)
    purchase = await purchases.create_purchase_order(tx, old, accepted.remark)
    order, _ = await record_change(
        tx,
        old,
        "status = ?, order_id = ?",
        (move.target, purchase["id"]),
        Note(move.note_with(accepted.remark)),
        move.mail,
    )
    await purchases.purchase_created(tx, order, purchase)
    return order


async def quote_order(tx: Tx, quote: Quote, admin: Sender) -> Row:
    """The quote is the merchant's own message in the thread (its mail follows from it)."""
    move = MOVES["quote"]
    old = await _movable(tx, move, quote.id, ANY_OWNER)
    order, _ = await record_change(
        tx,
        old,
        "status = ?, quote_price = ?, quote_content = ?, admin_id = ?",
        (move.target, quote.quote_price, quote.quote_content, admin.user_id),
        Note(f"quote: {quote.quote_price}\n{quote.quote_content}", admin, "quote"),
    )
    return order


async def set_order_status(tx: Tx, change: StatusChange, admin: Sender) -> Row:
    move = STATUS_ENDPOINT_MOVES[change.status]
    old = await _movable(tx, move, change.id, ANY_OWNER)
    if old["status"] == change.status:
        return old
    moved = f"{STATUSES[old['status']].name} → {STATUSES[change.status].name}"
    order, _ = await record_change(
        tx,
        old,
        "status = ?, admin_id = ?",
        (change.status, admin.user_id),
        Note(f"{move.note} by {admin.user_name}: {moved}"),
        move.mail,
    )
    return order


async def set_order_images(tx: Tx, change: ImagesChange, admin: Sender) -> Row:
    move = MOVES["images"]
    old = await _movable(tx, move, change.id, ANY_OWNER)
    sent = {"sketch_images": change.sketch_images, "finished_images": change.finished_images}
    changed = [name for name, value in sent.items() if value not in (None, old[name])]
    if not changed:
        return old
    order, _ = await record_change(
        tx,
        old,
        """sketch_images = coalesce(?, sketch_images),
           finished_images = coalesce(?, finished_images)""",
        tuple(None if value is None else to_json(value) for value in sent.values()),
        Note(f"{move.note}: " + ", ".join(changed)),
    )
    return order


async def assign_order(tx: Tx, order_id: int, assignee_id: int, by: Sender) -> Row:
    """Assign the order (in any status) to a staff member or admin, or to nobody (0): a
    change of the order (its version and time, an order.updated event) with no message
    in the thread. The new assignee is mailed unless they assigned it to themselves.
    Assigning it to whom it is already assigned changes nothing."""
    old = order_row(tx, await fetch_order(tx, order_id, ANY_OWNER))
    if assignee_id:
        role = await tx.value(f"SELECT role FROM users WHERE id = ?{tx.for_update}", assignee_id)
        if role not in model.MERCHANT_ROLES:
            raise Invalid(texts.ASSIGNEE_NOT_STAFF)
    if assignee_id == old["assignee_id"]:
        return old
    row = await tx.row(
        f"""UPDATE comm_orders SET assignee_id = ?, version = version + 1, updated_time = ?
            WHERE id = ? RETURNING {ORDER_COLUMNS}""",
        assignee_id,
        tx.now,
        order_id,
    )
    order = order_row(tx, row)
    mail = model.ASSIGNED if assignee_id and assignee_id != by.user_id else None
    await events.record(tx, order, events.ORDER_UPDATED, None, mail)
    return order


# SQLite's LIKE ignores ASCII case; PostgreSQL's needs ILIKE for the same. The
# merchant's search also finds the customer by name, email or phone.
_LIKE = {"sqlite": "LIKE", "postgres": "ILIKE"}


def _search(dialect: str, merchant: bool) -> tuple[str, int]:
    """The search clause and how many times it takes the pattern."""
    like = _LIKE[dialect]
    match = f"{like} ? ESCAPE '\\'"
    clause = f"o.title {match} OR o.content {match}"
    if not merchant:
        return f"({clause})", 2
    customers = f"""o.user_id IN (SELECT u.id FROM users u WHERE u.user_name {match}
                                   OR u.email {match} OR u.phone {match})"""
    return f"({clause} OR {customers})", 5


_ORDER_COLUMNS_OF_O = ", ".join(f"o.{name}" for name in ORDER_COLUMNS.split(", "))


def _count_statement(
    where: OrderFilter, side: inbox.Side, clauses: list[str], condition: str, params: list[Any]
) -> tuple[str, list[Any]]:
    """A list's count and its parameters: from the counts the database keeps where they
    answer it (the merchant's list: whole, by status, awaiting a reply, or unread
    alone), else by counting."""
    merchant = where.owner_id is ANY_OWNER
    if where.unread and merchant and not clauses:
        # Those with a message the merchant's side may not have read less those the
        # reader caught up with, both kept counts (migration 13).
        return (
            """SELECT (SELECT CAST(coalesce(sum(talked), 0) AS BIGINT) FROM order_counts)
                    - (SELECT CAST(coalesce(sum(n), 0) AS BIGINT) FROM caught_up_counts
                       WHERE user_id = ?)""",
            [where.reader],
        )
    if where.unread:
        # With other filters (or a customer's own orders): the orders that may be unread
        # (an index of them) less those the reader's markers show read.
        talk = f"o.{side.talk}"
        return (
            f"""SELECT (SELECT count(*) FROM comm_orders o WHERE {condition} AND {talk} > 0)
                     - (SELECT count(*) FROM read_markers r
                        JOIN comm_orders o ON o.id = r.comm_order_id
                        WHERE r.user_id = ? AND {talk} > 0 AND {talk} <= r.message_id
                          AND {condition})""",
            [*params, where.reader, *params],
        )
    if merchant and len(clauses) == (where.status is not None) + where.awaiting_reply:
        # The whole list, one status of it, or those awaiting a reply: the counts the
        # triggers keep (migrations 12 and 13).
        column, kept = "n", ["1 = 1"]
        if where.awaiting_reply:
            column, kept = "awaiting", [f"status <> {int(Status.CANCELLED)}"]
        if where.status is not None:
            kept.append("status = ?")
        return (
            f"""SELECT CAST(coalesce(sum({column}), 0) AS BIGINT) FROM order_counts
                WHERE {" AND ".join(kept)}""",
            params,
        )
    return f"SELECT count(*) FROM comm_orders o WHERE {condition}", params


class ListParts(NamedTuple):
    """A list's count (`total`) and page statements with their parameters (the page's
    then take the size and offset), and the page's order."""

    total: str
    total_params: list[Any]
    page: str
    page_params: list[Any]
    order_by: str


def list_parts(dialect: str, where: OrderFilter) -> ListParts:
    """A list's count and page: newest first, or by latest activity; filtered by the
    reader's unread orders, by awaiting a reply, by assignee (0: nobody)."""
    side = inbox.side_of(where.owner_id)
    clauses: list[str] = []
    params: list[Any] = []
    if where.owner_id is not ANY_OWNER:
        clauses.append("o.user_id = ?")
        params.append(where.owner_id)
    if where.user_id is not None:
        clauses.append("o.user_id = ?")
        params.append(where.user_id)
    if where.status is not None:
        clauses.append("o.status = ?")
        params.append(int(where.status))
    if where.assignee_id is not None:
        clauses.append("o.assignee_id = ?")
        params.append(where.assignee_id)
    if where.awaiting_reply:
        clauses.append(f"o.awaiting_reply = 1 AND o.status <> {int(Status.CANCELLED)}")
    if where.search:
        escaped = where.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clause, times = _search(dialect, side.merchant)
        clauses.append(clause)
        params += [f"%{escaped}%"] * times
    # Only fixed clause texts are joined here; every value is a bound parameter.
    condition = " AND ".join(clauses) or "1 = 1"
    order_by = "o.id DESC"
    if where.sort == "activity":
        order_by = f"{inbox.activity(dialect, side, 'o.')} DESC, o.id DESC"
    count, count_params = _count_statement(where, side, clauses, condition, params)
    if where.unread:
        # The page reads the reader's marker of each order it walks until it is full.
        condition += f" AND {inbox.unread_condition(side)}"
        params = [*params, where.reader]
    page = f"""SELECT o.id FROM comm_orders o WHERE {condition}
               ORDER BY {order_by} LIMIT ? OFFSET ?"""
    return ListParts(count, count_params, page, params, order_by)


def list_statement(dialect: str, where: OrderFilter) -> tuple[str, list[Any]]:
    """A list as one statement: the page's orders, each with what it holds for reader ?1
    (and ?2, the same user; on the merchant's side with its customer's columns), and
    the list's count (`total`, last) on every row. An empty page is one row whose order
    columns are NULL. Its parameters follow the reader's two; the page's size and offset
    last. The page's ids are found first, so only those are put in order again."""
    parts = list_parts(dialect, where)
    side = inbox.side_of(where.owner_id)
    sql = _joined_list(dialect, side, parts.total, parts.page, parts.order_by)
    return sql, [*parts.total_params, *parts.page_params]


# One per shape of list (which filters are set, the sort, the side): their values are
# parameters, so there are a few dozen.
@functools.lru_cache(maxsize=256)
def _joined_list(dialect: str, side: inbox.Side, total: str, page: str, order_by: str) -> str:
    columns, joins = inbox.view_select(dialect, side, customer=side.merchant)
    total, after = numbered_from(total, 3)
    page, _ = numbered_from(page, after)
    return f"""SELECT {_ORDER_COLUMNS_OF_O}, {columns}, c.total
               FROM (SELECT ({total}) AS total) c LEFT JOIN ({page}) p ON 1 = 1
                    LEFT JOIN comm_orders o ON o.id = p.id {joins}
               ORDER BY {order_by}"""


@one_statement
async def list_orders(tx: Tx, where: OrderFilter, page: Page) -> tuple[list[Row], int]:
    """A page of orders with what each holds for the reader (inbox.py), and how many the
    whole list has: one statement."""
    sql, params = list_statement(tx.dialect, where)
    rows = await tx.all(sql, where.reader, where.reader, *params, page.size, page.offset)
    names = list(rows[0].keys())
    merchant = where.owner_id is ANY_OWNER
    found = []
    for row in rows:
        if row[0] is None:
            break  # the empty page's one row
        order, rest = _as_read(tx, names, tuple(row))
        if merchant:
            order["user"] = inbox.customer_of(order["user_id"], rest)
        found.append(order)
    return found, int(rows[0][-1])


def _as_read(tx: Tx, names: list[str], values: tuple[Any, ...]) -> tuple[Row, Row]:
    """A row of an order's columns, then view_select's and others (`names`): the order as
    its reader sees it, and the row's other columns by name."""
    order = order_of(tx, dict(zip(_ORDER_NAMES, values[:_ORDER_WIDTH], strict=True)))
    rest = dict(zip(names[_ORDER_WIDTH:], values[_ORDER_WIDTH:], strict=True))
    order.update(inbox.view_of(rest))
    return order, rest


@functools.cache
def _detail_sql(dialect: str, side: inbox.Side) -> str:
    """Order ?3 (on the customer's side, owned by ?4) as reader ?1 (and ?2, the same
    user) sees it, with its customer's columns, its thread's size and the last messages
    of the thread their side sees: one statement."""
    columns, joins = inbox.view_select(dialect, side, customer=True)
    scope = "" if side.merchant else " AND o.user_id = ?4"
    thread = last_messages_json(dialect, side.merchant, "o.id", model.DETAIL_MESSAGES)
    return f"""SELECT {_ORDER_COLUMNS_OF_O}, {columns},
                      {thread_size(side.merchant, "o.")} AS messages_total,
                      {thread} AS messages
               FROM comm_orders o {joins} WHERE o.id = ?3{scope}"""


_ORDER_NAMES = ORDER_COLUMNS.split(", ")
_ORDER_WIDTH = len(_ORDER_NAMES)
_by_id = operator.itemgetter("id")


@one_statement
async def order_detail(
    tx: Tx, order_id: int, owner_id: int | None, reader: int, definitions: list[Row]
) -> Row:
    """The order as `reader` sees it: with its fields (`definitions`, the store's), its
    customer, the last messages of the thread their side sees (oldest first) and what
    it holds for them (inbox.py)."""
    side = inbox.side_of(owner_id)
    scope = () if owner_id is ANY_OWNER else (owner_id,)
    row = await tx.one(_detail_sql(tx.dialect, side), reader, reader, order_id, *scope)
    if row is None:
        raise OrderNotFound()
    order, found = _as_read(tx, list(row.keys()), tuple(row))
    extra = order["order_extra"]
    order["order_fields"] = [
        {**field, "value": extra.get(field["field_name"])} for field in definitions
    ]
    order["user"] = {"id": order["user_id"], "user_name": found["u_user_name"]}
    order["messages"] = sorted(orjson.loads(found["messages"] or "[]"), key=_by_id)
    order["messages_total"] = found["messages_total"]
    return order


async def bulk_create_orders(tx: Tx, orders: list[tuple[int, Mapping[str, Any]]]) -> None:
    """Many (user_id, order) pairs; writes no messages (and no events)."""
    await tx.run_many(
        _INSERT_ORDER, [_created_values(user_id, order, tx.now) for user_id, order in orders]
    )
