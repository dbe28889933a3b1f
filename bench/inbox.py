"""The inbox at scale: a page of 100 orders with each order's unread count, last message
and last activity, against the list as it was before (the page and its count, no
reader keys), timed through the store operation on a seeded database.

    .venv/bin/python bench/inbox.py --db /tmp/inbox.db --orders 1000000
    .venv/bin/python bench/inbox.py --db postgresql://... --orders 1000000

Seeds (when the database is new) N orders with run.py's seed, then 3 messages per order
on average: on every order a customer message and a system message, on every second a
merchant reply, on every fourth a customer's answer and a note (as set-based SQL, then
the order columns the messages keep, as migration 10 computes them); read markers for
the merchant on every ninth order and for each customer up to their own latest message,
and the readers' caught-up counts as migration 13 computes them (the order counts'
triggers keep the rest). Prints the median and the 99th percentile of each list over
--repeat runs.
"""

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from orderdesk.model import Page  # noqa: E402
from orderdesk.store import ANY_OWNER, OrderFilter, open_store  # noqa: E402
from orderdesk.store import orders as operations  # noqa: E402
from orderdesk.store.tx import ORDER_COLUMNS, Tx, order_row  # noqa: E402

import run  # noqa: E402  (bench/run.py, beside this file)

MERCHANT = 1  # u1, the reader on the merchant's side (a user id is all the list needs)

MESSAGES = [
    # (every nth order, sender, type, kind, content, seconds after the order)
    (1, "customer", "user", "text", "Is it ready yet? I would like it in blue.", 1),
    (1, "system", "system", "text", "title changed: A responsive theme -> A blue theme", 2),
    (2, "merchant", "admin", "text", "Working on it, blue it is.", 3),
    (4, "customer", "user", "text", "Thank you! And the logo?", 4),
    (4, "merchant", "admin", "note", "Customer pays late: ask for a deposit.", 5),
]
SENDER_ID = {"customer": "user_id", "system": "0", "merchant": str(MERCHANT)}

_KEEP = """
UPDATE comm_orders SET
    last_message_id = coalesce((SELECT max(id) FROM messages
                                WHERE comm_order_id = comm_orders.id), 0),
    customer_message_id = coalesce((SELECT max(id) FROM messages
                                    WHERE comm_order_id = comm_orders.id
                                      AND message_type <> 'note'), 0),
    merchant_talk_id = coalesce((SELECT max(id) FROM messages
                                 WHERE comm_order_id = comm_orders.id
                                   AND sender_type <> 'system'), 0),
    customer_talk_id = coalesce((SELECT max(id) FROM messages
                                 WHERE comm_order_id = comm_orders.id
                                   AND sender_type <> 'system' AND message_type <> 'note'), 0),
    message_count = (SELECT count(*) FROM messages WHERE comm_order_id = comm_orders.id),
    note_count = (SELECT count(*) FROM messages
                  WHERE comm_order_id = comm_orders.id AND message_type = 'note')"""
_KEEP_TIMES = """
UPDATE comm_orders SET
    last_message_time = (SELECT created_time FROM messages WHERE id = last_message_id),
    customer_message_time = (SELECT created_time FROM messages WHERE id = customer_message_id),
    awaiting_reply = CASE WHEN (SELECT sender_type FROM messages
                                WHERE id = customer_talk_id) = 'user' THEN 1 ELSE 0 END"""


# The order counts as migration 13 computes them. (On PostgreSQL the seed runs without
# the order counts' triggers: a million row triggers on the same 96 count rows in one
# transaction would take it hours.)
_RECOUNT = """
UPDATE order_counts SET talked = t.talked, awaiting = t.awaiting
FROM (SELECT status, id % 16 AS shard,
             sum(CASE WHEN merchant_talk_id > 0 THEN 1 ELSE 0 END) AS talked,
             sum(awaiting_reply) AS awaiting
      FROM comm_orders GROUP BY status, id % 16) AS t
WHERE t.status = order_counts.status AND t.shard = order_counts.shard"""


async def _talk(tx: Tx) -> None:
    if tx.dialect == "postgres":
        await tx.run("SET LOCAL session_replication_role = replica")
    for every, sender, sender_type, kind, content, later in MESSAGES:
        await tx.run(
            f"""INSERT INTO messages (comm_order_id, sender_id, sender_type, sender_name,
                                      message_type, content, created_time)
                SELECT id, {SENDER_ID[sender]}, '{sender_type}', 'someone', '{kind}', ?,
                       created_time + {later}
                FROM comm_orders WHERE id % {every} = 0 ORDER BY id""",
            content,
        )
    await tx.run(_KEEP)
    await tx.run(_KEEP_TIMES)
    await tx.run(_RECOUNT)
    await tx.run(
        f"""INSERT INTO read_markers (user_id, comm_order_id, message_id)
            SELECT {MERCHANT}, id, last_message_id FROM comm_orders
            WHERE id % 9 = 0 AND last_message_id > 0"""
    )
    await tx.run(
        """INSERT INTO read_markers (user_id, comm_order_id, message_id)
           SELECT sender_id, comm_order_id, max(id) FROM messages
           WHERE sender_type = 'user' GROUP BY sender_id, comm_order_id
           ON CONFLICT (user_id, comm_order_id) DO NOTHING"""
    )
    await tx.run(
        """INSERT INTO caught_up_counts (user_id, shard, n)
           SELECT r.user_id, r.comm_order_id % 16, count(*)
           FROM read_markers r JOIN comm_orders o ON o.id = r.comm_order_id
           WHERE o.merchant_talk_id > 0 AND o.merchant_talk_id <= r.message_id
           GROUP BY r.user_id, r.comm_order_id % 16"""
    )


_SIZES = """SELECT (SELECT count(*) FROM comm_orders) AS orders,
                   (SELECT count(*) FROM messages) AS messages,
                   (SELECT count(*) FROM read_markers) AS markers"""
# The merchant's unread orders as counting finds them (to check the kept total once).
_UNREAD_COUNTED = """
    SELECT count(*) FROM comm_orders o
    WHERE o.merchant_talk_id > coalesce((SELECT r.message_id FROM read_markers r
                                         WHERE r.user_id = ? AND r.comm_order_id = o.id), 0)"""


async def before(tx: Tx, page: Page) -> tuple[list[dict], int]:
    """The merchant's list as it was: its count and its page, nothing per reader."""
    total = await tx.value("SELECT count(*) FROM comm_orders WHERE 1 = 1")
    rows = await tx.all(
        f"SELECT {ORDER_COLUMNS} FROM comm_orders WHERE 1 = 1 ORDER BY id DESC LIMIT ? OFFSET ?",
        page.size,
        page.offset,
    )
    return [order_row(tx, row) for row in rows], total


async def measure(db: str, repeat: int) -> None:
    store = await open_store(db)
    page = Page(1, 100)
    deep = Page(50, 100)
    merchant = dict(owner_id=ANY_OWNER, reader=MERCHANT)
    cases = {
        "before: the merchant's list (page 1)": (before, (page,)),
        "now: sort=created": (operations.list_orders, (OrderFilter(**merchant), page)),
        "now: sort=activity": (
            operations.list_orders,
            (OrderFilter(**merchant, sort="activity"), page),
        ),
        "now: unread=1": (operations.list_orders, (OrderFilter(**merchant, unread=True), page)),
        "now: unread=1&sort=activity": (
            operations.list_orders,
            (OrderFilter(**merchant, unread=True, sort="activity"), page),
        ),
        "now: awaiting_reply=1": (
            operations.list_orders,
            (OrderFilter(**merchant, awaiting_reply=True), page),
        ),
        "now: sort=activity, page 50": (
            operations.list_orders,
            (OrderFilter(**merchant, sort="activity"), deep),
        ),
        "now: a customer's list, sort=activity": (
            operations.list_orders,
            (OrderFilter(owner_id=2, reader=2, sort="activity"), page),
        ),
    }
    try:
        sizes = await store.read(lambda tx: tx.row(_SIZES))
        print(f"{sizes['orders']:,} orders, {sizes['messages']:,} messages, "
              f"{sizes['markers']:,} read markers")  # fmt: skip
        kept = await store.read(operations.list_orders, OrderFilter(**merchant, unread=True), page)
        counted = await store.read(lambda tx: tx.value(_UNREAD_COUNTED, MERCHANT))
        if kept[1] != counted:
            raise SystemExit(f"the kept unread total {kept[1]} is not the counted {counted}")
        for name, (operation, args) in cases.items():
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                found, total = await store.read(operation, *args)  # type: ignore[arg-type]
                times.append((time.perf_counter() - started) * 1000)
            unread = sum(1 for order in found if order.get("unread"))
            print(
                f"{name:44} median {statistics.median(times):8.1f} ms   "
                f"p99 {statistics.quantiles(times, n=100)[98]:8.1f} ms   "
                f"({len(found)} of {total}; {unread} with unread)"
            )
    finally:
        await store.close()


async def prepare(db: str, orders: int, users: int) -> None:
    store = await open_store(db)
    try:
        seeded = await store.read(lambda tx: tx.value("SELECT count(*) FROM comm_orders"))
    finally:
        await store.close()
    if seeded:
        return
    await run.seed(db, users, orders)
    store = await open_store(db)
    try:
        await store.write(_talk)
    finally:
        await store.close()
    if db.startswith("postgresql://"):  # as autovacuum would, before measuring
        await run.run_sql(db, "VACUUM ANALYZE")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    started = time.perf_counter()
    asyncio.run(prepare(args.db, args.orders, args.users))
    print(f"database ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    asyncio.run(measure(args.db, args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
