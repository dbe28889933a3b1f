"""Webhooks and the outbox of deliveries.

A change's events are recorded (events.record) together with one delivery row per
enabled webhook whose `events` match and one per mail recipient, in the change's own
transaction: a change that commits has its deliveries, one that rolls back has none.
The worker (server/notify.py) claims due rows for one attempt at a time: the claim
sets a lease, and on PostgreSQL skips rows another app server has locked, so each
attempt is made by one server only; the attempt's outcome is written afterwards.
"""

import functools
from datetime import UTC, datetime
from typing import Any

import orjson

from .. import model, texts
from ..errors import Invalid
from ..model import ASSIGNED, CUSTOMER_MESSAGE, MERCHANT_MESSAGE, NEW_ORDER, QUOTED, TO_MERCHANT
from .tx import Tx, as_dict, to_json
from .types import Row

# A reset mail's facts once it is sent: the link, and so the token, erased.
SPENT_RESET_FACTS = to_json({"notice": model.PASSWORD_RESET})

# PostgreSQL: a commit that added deliveries wakes the app servers' workers.
NOTIFY_CHANNEL = "orderdesk_outbox"


WEBHOOK_COLUMNS = "id, url, events, description, enabled, created_time"
DELIVERY_COLUMNS = """id, event_id, event_type, attempts, status, http_status, error,
    created_time, next_attempt_ms"""


def _wanted_by_webhook(kind: str) -> str:
    """The enabled webhooks `w` whose `events` match the event type `kind` (SQL). Event
    types are known words without LIKE wildcards, so a plain LIKE on the stored list."""
    return f"""w.enabled = 1 AND (w.events LIKE '%"*"%' OR w.events LIKE '%"' || {kind} || '"%')"""


_MAILABLE = "u.email IS NOT NULL AND u.email <> '' AND u.notify_email = 1"
_MERCHANT = "u.role IN ('staff', 'admin') AND u.disabled = 0"


def _mail_recipients(notice: str, party: str) -> str:
    """The users `u` a mail goes to (SQL), found by an index; only those with an email
    who have not turned mail off. `party` is the SQL of the order's customer (the
    primary key) for a mail to the customer, else of the order's assignee (0: nobody).
    The merchant's mails go to every enabled staff member and admin (users_role_email),
    but only to the assignee when the order has one who is still enabled staff or admin
    with an email; the assigned mail goes to the assignee alone. The address and
    language are read when the mail is sent."""
    if notice == ASSIGNED:
        return f"u.id = {party} AND {_MERCHANT} AND {_MAILABLE}"
    if notice not in TO_MERCHANT:
        return f"u.id = {party} AND {_MAILABLE}"
    assignee_mailed = f"""EXISTS (SELECT 1 FROM users a WHERE a.id = {party}
        AND a.role IN ('staff', 'admin') AND a.disabled = 0
        AND a.email IS NOT NULL AND a.email <> '')"""
    return f"{_MERCHANT} AND (u.id = {party} OR NOT {assignee_mailed}) AND {_MAILABLE}"


def _webhook_deliveries(events: int) -> str:
    """SQLite: the deliveries of `events` events to every webhook that wants them, from
    (event id, type, body) rows, then the time and the due time. (A VALUES list names its
    columns column1...)"""
    rows = ", ".join(f"(?{3 * n + 1}, ?{3 * n + 2}, ?{3 * n + 3})" for n in range(events))
    now, due = 3 * events + 1, 3 * events + 2
    return f"""
        INSERT INTO deliveries (webhook_id, event_id, event_type, payload, created_time,
                                next_attempt_ms)
        SELECT w.id, e.column1, e.column2, e.column3, ?{now}, ?{due}
        FROM webhooks w JOIN (VALUES {rows}) AS e ON {_wanted_by_webhook("e.column2")}
        ORDER BY e.column1, w.id"""


# A change records one or two events.
_WEBHOOK_DELIVERIES = {events: _webhook_deliveries(events) for events in (1, 2)}


@functools.cache
def _mail_deliveries(notice: str) -> str:
    """SQLite: the mail deliveries of one event: its id and type, the facts, the time,
    the due time and the party (mail_party)."""
    return f"""
        INSERT INTO deliveries (recipient_id, event_id, event_type, payload, created_time,
                                next_attempt_ms)
        SELECT u.id, ?1, ?2, ?3, ?4, ?5 FROM users u WHERE {_mail_recipients(notice, "?6")}"""


def deliveries_ctes(
    notice: str | None,
    *,
    now: str,
    due: str,
    timestamp: str,
    facts: str,
    party: str,
    facts_from: str = "",
) -> str:
    """PostgreSQL: the deliveries of the events a statement inserts, as more of its CTEs.
    The statement's CTE `ev` returns the events' id, type and data; the arguments are SQL
    expressions (`party`: of the order's customer or assignee, as mail_party chooses;
    `facts_from`: more FROM items they read). The last CTE, `notified`,
    wakes the app servers' workers (at commit) when a delivery was added: the statement
    must read it."""
    mails = ""
    added = "EXISTS (SELECT 1 FROM hooks)"
    if notice is not None:
        mails = f"""
        mails AS (
            INSERT INTO deliveries (recipient_id, event_id, event_type, payload,
                                    created_time, next_attempt_ms)
            SELECT u.id, first.id, first.type, {facts}, {now}, {due}
            FROM users u, (SELECT id, type FROM ev ORDER BY id LIMIT 1) AS first{facts_from}
            WHERE {_mail_recipients(notice, party)}
            RETURNING 1),"""
        added += " OR EXISTS (SELECT 1 FROM mails)"
    # The body is {"type", "timestamp", "data"} written as compactly as orjson writes it.
    return f"""
        hooks AS (
            INSERT INTO deliveries (webhook_id, event_id, event_type, payload, created_time,
                                    next_attempt_ms)
            SELECT w.id, ev.id, ev.type,
                   '{{"type":' || to_json(ev.type)::text || ',"timestamp":'
                   || to_json({timestamp})::text || ',"data":' || ev.data::text || '}}',
                   {now}, {due}
            FROM webhooks w JOIN ev ON {_wanted_by_webhook("ev.type")}
            ORDER BY ev.id, w.id
            RETURNING 1),{mails}
        notified AS (SELECT pg_notify('{NOTIFY_CHANNEL}', '') WHERE {added})"""


@functools.lru_cache(maxsize=4)  # changes come in bursts within the same second
def rfc3339(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def mail_notice(order_event: str | None, sender_type: str | None, message_type: str) -> str | None:
    """The mail a change sends, judged from its message's sender and kind when the caller
    named none."""
    if order_event == "order.created":
        return NEW_ORDER
    if message_type == model.NOTE:
        return None  # the merchant's own: mailed to nobody
    if sender_type == "user":
        return CUSTOMER_MESSAGE
    if sender_type == "admin":
        return QUOTED if message_type == "quote" else MERCHANT_MESSAGE
    return None


def mail_party(notice: str, order: Row) -> int:
    """Whom a mail about `order` is addressed by: its customer for the customer's mails,
    else its assignee (0: nobody)."""
    merchant = notice in TO_MERCHANT or notice == ASSIGNED
    return int(order["assignee_id"] if merchant else order["user_id"])


def mail_facts(notice: str, order: Row, message: Row | None) -> str:
    """What the mail says (the worker writes it in the recipient's language)."""
    detail = message["content"] if message is not None else ""
    return to_json(
        {"notice": notice, "order_id": order["id"], "title": order["title"], "detail": detail}
    )


async def enqueue(
    tx: Tx,
    recorded: list[tuple[int, str, str]],
    order: Row,
    message: Row | None,
    notice: str | None,
) -> None:
    """SQLite: the deliveries of the events just recorded, (event id, type, data as
    JSON) each. The body is {"type", "timestamp", "data"}, written around the event's
    JSON rather than serializing the order again (the type and the time need no
    escaping)."""
    due_ms = tx.now * 1000
    values = []
    for event_id, kind, data in recorded:
        body = f'{{"type":"{kind}","timestamp":"{rfc3339(tx.now)}","data":{data}}}'
        values += [event_id, kind, body]
    added = await tx.run(_WEBHOOK_DELIVERIES[len(recorded)], *values, tx.now, due_ms)
    if notice is not None:
        event_id, kind, _ = recorded[0]
        facts = mail_facts(notice, order, message)
        sql = _mail_deliveries(notice)
        party = mail_party(notice, order)
        added += await tx.run(sql, event_id, kind, facts, tx.now, due_ms, party)
    if added:
        await tx.wake_outbox()


# ---------------------------------------------------------------- webhooks


def _webhook(row: Any) -> Row:
    webhook = as_dict(row)
    webhook["events"] = orjson.loads(webhook["events"])  # a TEXT column on both engines
    webhook["enabled"] = bool(webhook["enabled"])
    return webhook


async def list_webhooks(tx: Tx) -> list[Row]:
    rows = await tx.all(f"SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY id")
    return [_webhook(row) for row in rows]


async def create_webhook(tx: Tx, url: str, kinds: list[str], description: str, secret: str) -> Row:
    row = await tx.row(
        f"""INSERT INTO webhooks (url, events, description, secret, enabled, created_time)
            VALUES (?, ?, ?, ?, 1, ?) RETURNING {WEBHOOK_COLUMNS}""",
        url,
        to_json(kinds),
        description,
        secret,
        tx.now,
    )
    return _webhook(row)


async def update_webhook(
    tx: Tx,
    webhook_id: int,
    url: str | None,
    kinds: list[str] | None,
    description: str | None,
    enabled: bool | None,
    schedule_left_ms: tuple[int, ...],
) -> Row:
    """Enabling a disabled webhook fails, unsent, those of its pending deliveries whose
    schedule ran out meanwhile (their last attempt was due before now; with n attempts
    made, that is schedule_left_ms[n] after the next one's time) and wakes the worker
    for the others, which are due at once if they are overdue."""
    if enabled:
        left = " ".join(f"WHEN {n} THEN {int(ms)}" for n, ms in enumerate(schedule_left_ms))
        await tx.run(
            f"""UPDATE deliveries SET status = 'failed', lease_until_ms = 0,
                    error = 'not sent: the webhook was disabled until after its last attempt'
                WHERE webhook_id = ? AND status = 'pending'
                  AND EXISTS (SELECT 1 FROM webhooks w WHERE w.id = ? AND w.enabled = 0)
                  AND next_attempt_ms + (CASE attempts {left} ELSE 0 END) < ?""",
            webhook_id,
            webhook_id,
            tx.now_ms,
        )
        await tx.wake_outbox()
    row = await tx.one(
        f"""UPDATE webhooks SET url = coalesce(?, url), events = coalesce(?, events),
                description = coalesce(?, description), enabled = coalesce(?, enabled)
            WHERE id = ? RETURNING {WEBHOOK_COLUMNS}""",
        url,
        None if kinds is None else to_json(kinds),
        description,
        None if enabled is None else int(enabled),
        webhook_id,
    )
    if row is None:
        raise Invalid(texts.WEBHOOK_NOT_FOUND)
    return _webhook(row)


async def delete_webhook(tx: Tx, webhook_id: int) -> None:
    if await tx.value("DELETE FROM webhooks WHERE id = ? RETURNING id", webhook_id) is None:
        raise Invalid(texts.WEBHOOK_NOT_FOUND)


async def rotate_secret(tx: Tx, webhook_id: int, secret: str) -> Row:
    row = await tx.one(
        f"UPDATE webhooks SET secret = ? WHERE id = ? RETURNING {WEBHOOK_COLUMNS}",
        secret,
        webhook_id,
    )
    if row is None:
        raise Invalid(texts.WEBHOOK_NOT_FOUND)
    return _webhook(row)


# ---------------------------------------------------------------- deliveries


def _delivery(row: Any) -> Row:
    delivery = as_dict(row)
    delivery["next_attempt_time"] = delivery.pop("next_attempt_ms") // 1000
    delivery["http_status"] = delivery["http_status"] or 0
    return delivery


async def list_deliveries(tx: Tx, webhook_id: int, page: model.Page) -> tuple[list[Row], int]:
    """Newest first, with the count of all."""
    if await tx.value("SELECT id FROM webhooks WHERE id = ?", webhook_id) is None:
        raise Invalid(texts.WEBHOOK_NOT_FOUND)
    rows = await tx.all(
        f"""SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE webhook_id = ?
            ORDER BY id DESC LIMIT ? OFFSET ?""",
        webhook_id,
        page.size,
        page.offset,
    )
    total = await tx.value("SELECT count(*) FROM deliveries WHERE webhook_id = ?", webhook_id)
    return [_delivery(row) for row in rows], total


async def redeliver(tx: Tx, delivery_id: int) -> Row:
    """Due now again, pending, with its attempts counted afresh; the body, and so the
    webhook-id, stay the same."""
    row = await tx.one(
        f"""UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_ms = ?,
                lease_until_ms = 0
            WHERE id = ? AND webhook_id IS NOT NULL RETURNING {DELIVERY_COLUMNS}""",
        tx.now_ms,
        delivery_id,
    )
    if row is None:
        raise Invalid(texts.DELIVERY_NOT_FOUND)
    await tx.wake_outbox()
    return _delivery(row)


# A pending delivery the worker may take: a mail's, or one to a webhook that is enabled
# (a disabled webhook's deliveries wait, and go on if it is enabled within their
# schedule). `d` is the delivery.
_SENDABLE = """(d.webhook_id IS NULL
     OR NOT EXISTS (SELECT 1 FROM webhooks w WHERE w.id = d.webhook_id AND w.enabled = 0))"""
_CLAIM = {
    "sqlite": f"""
        UPDATE deliveries SET lease_until_ms = ?1
        WHERE id IN (SELECT d.id FROM deliveries d
                     WHERE d.status = 'pending' AND d.next_attempt_ms <= ?2
                       AND d.lease_until_ms <= ?2 AND {_SENDABLE}
                     ORDER BY d.next_attempt_ms, d.id LIMIT ?3)
        RETURNING id""",
    "postgres": f"""
        UPDATE deliveries SET lease_until_ms = ?1
        WHERE id IN (SELECT d.id FROM deliveries d
                     WHERE d.status = 'pending' AND d.next_attempt_ms <= ?2
                       AND d.lease_until_ms <= ?2 AND {_SENDABLE}
                     ORDER BY d.next_attempt_ms, d.id LIMIT ?3 FOR UPDATE OF d SKIP LOCKED)
        RETURNING id""",
}
_CLAIMED = """
    SELECT d.id, d.webhook_id, d.event_id, d.event_type, d.payload, d.attempts,
           w.url, w.secret, u.email, u.language
    FROM deliveries d
    LEFT JOIN webhooks w ON w.id = d.webhook_id
    LEFT JOIN users u ON u.id = d.recipient_id
    WHERE d.id = ?"""


async def claim_due(tx: Tx, lease_ms: int, limit: int) -> list[Row]:
    """Up to `limit` due deliveries, leased until now + lease_ms to this caller, with
    what sending them needs."""
    ids = await tx.all(_CLAIM[tx.dialect], tx.now_ms + lease_ms, tx.now_ms, limit)
    claimed = []
    for (delivery_id,) in ids:
        claimed.append(dict(await tx.row(_CLAIMED, delivery_id)))
    return claimed


async def finish_attempt(
    tx: Tx,
    delivery_id: int,
    delivered: bool,
    http_status: int | None,
    error: str,
    next_attempt_ms: int | None,
) -> None:
    """The attempt's outcome: delivered, pending again at next_attempt_ms, or failed
    when there is none."""
    status = "delivered" if delivered else ("pending" if next_attempt_ms is not None else "failed")
    # A reset link's secret leaves the outbox once its mail is sent (or never will be).
    await tx.run(
        """UPDATE deliveries SET attempts = attempts + 1, status = ?1, http_status = ?2,
               error = ?3, next_attempt_ms = coalesce(?4, next_attempt_ms), lease_until_ms = 0,
               payload = CASE WHEN event_type = ?6 AND ?1 <> 'pending' THEN ?7
                              ELSE payload END
           WHERE id = ?5""",
        status,
        http_status,
        error[:500],
        next_attempt_ms,
        delivery_id,
        model.RESET_MAIL_TYPE,
        SPENT_RESET_FACTS,
    )


async def release(tx: Tx, delivery_ids: list[int]) -> None:
    """Attempts that were abandoned: due again without waiting for their lease."""
    await tx.run_many(
        "UPDATE deliveries SET lease_until_ms = 0 WHERE id = ? AND status = 'pending'",
        [(delivery_id,) for delivery_id in delivery_ids],
    )


async def next_due_ms(tx: Tx) -> int | None:
    """When the next attempt may start: a leased row's lease must end first."""
    return await tx.value(
        f"""SELECT min(CASE WHEN d.lease_until_ms > d.next_attempt_ms THEN d.lease_until_ms
                             ELSE d.next_attempt_ms END)
            FROM deliveries d WHERE d.status = 'pending' AND {_SENDABLE}"""
    )


async def set_notify_email(tx: Tx, user_id: int, enabled: bool) -> None:
    await tx.run("UPDATE users SET notify_email = ? WHERE id = ?", int(enabled), user_id)
    tx.users_changed()


async def prune_deliveries(tx: Tx, before: int) -> None:
    """Delivered and failed deliveries made before `before`; pending ones always stay."""
    await tx.run("DELETE FROM deliveries WHERE status <> 'pending' AND created_time < ?", before)
