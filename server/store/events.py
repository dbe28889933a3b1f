"""Events: what changed, one row per change, in the change's own transaction.

The event row is the record that live streams (and webhooks and email) read: `type`,
the order it is about, the order's owner (who may see it), the order or message as the
API answers it (`data`, JSON) and when. A change that rolls back takes its events with
it; a change that changes nothing writes none. The events' deliveries are
written with them.

Ids increase in commit order on both engines. SQLite has one writer at a time. On
PostgreSQL a sequence value taken early could commit after a larger one, and a reader
resuming after the larger would skip it; so the insert first takes one
transaction-level advisory lock (held until commit, and taken as late as possible:
the events are the last rows an operation writes) and wakes the other app servers
with pg_notify, in the same statement.

On PostgreSQL each statement is a round trip, so the events and their
deliveries are one statement (see also changes.py).
"""

import functools

from .. import model
from . import outbox
from .tx import Tx, as_dict, to_json
from .types import Row

ORDER_CREATED, ORDER_UPDATED, MESSAGE_CREATED, PURCHASE_ORDER_UPDATED = model.EVENT_TYPES

NOTIFY_CHANNEL = "orderdesk_events"
EVENT_LOCK = 0x6576656E7473  # "events"

COLUMNS = "type, comm_order_id, user_id, data, created_time"
# PostgreSQL: the turn that orders event ids, and the wake-up of the other app servers.
_TAKE_TURN = f"pg_advisory_xact_lock({EVENT_LOCK})"
TURN = f"(SELECT {_TAKE_TURN}, pg_notify('{NOTIFY_CHANNEL}', '')) AS turn"
# SQLite: a change's one or two events in one statement. Their ids are consecutive (one
# writer, one statement), so the last id, which the connection knows, gives them all.
_SQLITE_INSERT = {
    count: f"INSERT INTO events ({COLUMNS}) VALUES " + ", ".join(["(?, ?, ?, ?, ?)"] * count)
    for count in (1, 2)
}


@functools.cache
def _postgres_record(notice: str | None) -> str:
    """The events (types ?1 and data ?5, in order) of order ?2 owned by ?3 at ?4, and
    their deliveries (due ?6, timestamp ?7, and when there is a mail its facts ?8 and
    whom it is addressed by ?9, outbox.mail_party)."""
    deliveries = outbox.deliveries_ctes(
        notice,
        now="?4::bigint",
        due="?6::bigint",
        timestamp="?7::text",
        facts="?8::text",
        party="?9::bigint",
    )
    return f"""
        WITH ev AS (
            INSERT INTO events ({COLUMNS})
            SELECT e.type, ?2::bigint, ?3::bigint, e.data::json, ?4::bigint
            FROM {TURN}, unnest(?1::text[], ?5::text[]) WITH ORDINALITY AS e(type, data, n)
            ORDER BY e.n
            RETURNING id, type, data),
        {deliveries}
        SELECT count(*) FROM notified"""


async def take_turn(tx: Tx) -> None:
    """PostgreSQL: take the events' turn now, before this transaction locks any of the
    counts' rows (order_counts through its triggers, caught_up_counts). A change written
    as one statement (changes.py) takes the turn and then the counts' rows; a writer
    that took a counts' row first and the turn after could wait for it while it waits
    for them. (The turn is held to the commit either way: the events come last.)
    SQLite: one writer at a time, nothing to take."""
    if tx.dialect == "postgres":
        await tx.value(f"SELECT {_TAKE_TURN}")


async def record(
    tx: Tx,
    order: Row,
    order_event: str | None,
    message: Row | None,
    mail: str | None = None,
    *,
    merchant_only: bool = False,
    data: Row | None = None,
) -> None:
    """The events of one change to `order`: `order_event` (ORDER_CREATED or
    ORDER_UPDATED, with the order as data) when the order row changed, then
    MESSAGE_CREATED for the message it stored, if any; and their deliveries: to
    webhooks, and the mail `mail` names (model.NEW_ORDER, ...; by default judged from
    the message). `merchant_only` events (an internal note's) reach the merchant's side
    alone: they are recorded for no customer. `data` is the order event's data when it
    is not the order (a purchase order's)."""
    tx.events_recorded()
    owner = model.MERCHANT_ONLY if merchant_only else order["user_id"]
    events = [(order_event, order if data is None else data)] if order_event is not None else []
    if message is not None:
        events.append((MESSAGE_CREATED, message))
    if mail is None and message is not None:
        mail = outbox.mail_notice(order_event, message["sender_type"], message["message_type"])
    notice = mail or outbox.mail_notice(order_event, None, "")
    if tx.dialect == "postgres":
        kinds, bodies = zip(*((kind, to_json(value)) for kind, value in events), strict=True)
        facts = []
        if notice is not None:
            facts = [outbox.mail_facts(notice, order, message), outbox.mail_party(notice, order)]
        await tx.value(
            _postgres_record(notice),
            *(list(kinds), order["id"], owner, tx.now, list(bodies)),
            *(tx.now * 1000, outbox.rfc3339(tx.now), *facts),
        )
        return
    rows = [(kind, to_json(value)) for kind, value in events]
    values = [v for kind, body in rows for v in (kind, order["id"], owner, body, tx.now)]
    last_id = await tx.insert(_SQLITE_INSERT[len(rows)], *values)
    first_id = last_id - len(rows) + 1
    recorded = [(first_id + n, kind, body) for n, (kind, body) in enumerate(rows)]
    await outbox.enqueue(tx, recorded, order, message, notice)


async def events_after(
    tx: Tx, after: int, upto: int | None, user_id: int, comm_order_id: int, limit: int
) -> list[Row]:
    """Kept events with after < id (<= upto when given), oldest first, at most `limit`:
    those of `user_id`'s orders (0: every user's) and of `comm_order_id` (0: any)."""
    clauses, params = ["id > ?", "id <= ?"], [after, upto if upto is not None else 2**63 - 1]
    if user_id:
        clauses.append("user_id = ?")  # the events_user index
        params.append(user_id)
    if comm_order_id:
        clauses.append("comm_order_id = ?")
        params.append(comm_order_id)
    # Only fixed clause texts are joined here; every value is a bound parameter.
    rows = await tx.all(
        f"""SELECT id, type, comm_order_id, user_id, data FROM events
            WHERE {" AND ".join(clauses)} ORDER BY id LIMIT ?""",
        *params,
        limit,
    )
    return [as_dict(row) for row in rows]


async def last_event_id(tx: Tx) -> int:
    return await tx.value("SELECT coalesce(max(id), 0) FROM events")


async def prune(tx: Tx) -> None:
    """Events older than model.EVENT_KEEP_SECONDS, and finished deliveries (the
    deliveries list's history) older than model.DELIVERY_KEEP_SECONDS. Event ids grow
    with time, so the old ones are the lowest: the scan from the first id stops at the
    first event to keep (no index on time, one less to update on every write)."""
    before = tx.now - model.EVENT_KEEP_SECONDS
    await outbox.prune_deliveries(tx, tx.now - model.DELIVERY_KEEP_SECONDS)
    await tx.run(
        """DELETE FROM events WHERE created_time < ?1 AND id < coalesce(
               (SELECT id FROM events WHERE created_time >= ?1 ORDER BY id LIMIT 1),
               (SELECT max(id) + 1 FROM events))""",
        before,
    )
