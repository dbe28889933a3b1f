"""The inbox at scale: a page of 100 orders with each order's unread count, last message
and last activity, against the list as it was before (the page and its count, no
reader keys), timed through the store operation on a seeded database.

    .venv/bin/python bench/inbox.py --db /tmp/inbox.db --orders 1000000
    .venv/bin/python bench/inbox.py --db postgresql://... --orders 1000000

Seeds (when the database is new) N orders with run.py's seed, then gives every third
order a customer message, every sixth a merchant reply and every twelfth a note (as
set-based SQL, then the order columns the messages keep, as the migration computes
them), and read markers for the merchant on every ninth order. Prints the median and
the 90th percentile of each list over --repeat runs.
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
    # (every nth order, sender id (0: the order's customer), type, kind, content, seconds)
    (3, 0, "user", "text", "Is it ready yet? I would like it in blue.", 1),
    (6, MERCHANT, "admin", "text", "Working on it, blue it is.", 2),
    (12, MERCHANT, "admin", "note", "Customer pays late: ask for a deposit.", 3),
]

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
                                   AND sender_type <> 'system' AND message_type <> 'note'), 0)
WHERE id % 3 = 0"""
_KEEP_TIMES = """
UPDATE comm_orders SET
    last_message_time = (SELECT created_time FROM messages WHERE id = last_message_id),
    customer_message_time = (SELECT created_time FROM messages WHERE id = customer_message_id),
    awaiting_reply = CASE WHEN (SELECT sender_type FROM messages
                                WHERE id = customer_talk_id) = 'user' THEN 1 ELSE 0 END
WHERE id % 3 = 0"""


async def _talk(tx: Tx) -> None:
    for every, sender, sender_type, kind, content, later in MESSAGES:
        sender_sql = "user_id" if sender == 0 else str(sender)
        await tx.run(
            f"""INSERT INTO messages (comm_order_id, sender_id, sender_type, sender_name,
                                      message_type, content, created_time)
                SELECT id, {sender_sql}, '{sender_type}', 'someone', '{kind}', ?,
                       created_time + {later}
                FROM comm_orders WHERE id % {every} = 0 ORDER BY id""",
            content,
        )
    await tx.run(_KEEP)
    await tx.run(_KEEP_TIMES)
    await tx.run(
        f"""INSERT INTO read_markers (user_id, comm_order_id, message_id)
            SELECT {MERCHANT}, id, last_message_id FROM comm_orders
            WHERE id % 9 = 0 AND last_message_id > 0"""
    )


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
        for name, (operation, args) in cases.items():
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                found, total = await store.read(operation, *args)  # type: ignore[arg-type]
                times.append((time.perf_counter() - started) * 1000)
            unread = sum(1 for order in found if order.get("unread"))
            print(
                f"{name:44} median {statistics.median(times):8.1f} ms   "
                f"p90 {sorted(times)[int(len(times) * 0.9) - 1]:8.1f} ms   "
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
        if db.startswith("postgresql://"):
            await store.write(lambda tx: tx.run("ANALYZE"))
    finally:
        await store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    started = time.perf_counter()
    asyncio.run(prepare(args.db, args.orders, args.users))
    print(f"database ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    asyncio.run(measure(args.db, args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
