"""The merchant's list answers its total from counts the database keeps instead of
counting every order: per status (migration 12: triggers in the transaction of every
change), and for the unread filter the orders with messages less those the reader has
caught up with (migration 13: kept by the statements that write messages and move
read markers); and each order keeps its thread's size (migration 14: written with every
message). On both engines, whatever changes an order, the totals stay exactly what
counting would give."""

import asyncio

from orderdesk.keys import CONFIG
from orderdesk.store import open_store
from orderdesk.workflow import STATUSES, Status

from tests.conftest import (
    PASSWORD,
    assert_ok,
    call,
    make_admin,
    make_order,
    make_staff,
    query_rows,
    quote,
    register,
    update,
)
from tests.test_inbox import ADMIN_READ, ADMIN_SEND, SEND, read, say

LIST = "/api/admin/communication/orders"
# Each order's thread size, as kept and as counting finds it: all its messages, and its notes.
KEPT_THREAD_SIZES = "SELECT id, message_count, note_count FROM comm_orders ORDER BY id"
COUNTED_THREAD_SIZES = """
    SELECT o.id, count(m.id), count(m.id) FILTER (WHERE m.message_type = 'note')
    FROM comm_orders o LEFT JOIN messages m ON m.comm_order_id = o.id
    GROUP BY o.id ORDER BY o.id"""


async def assert_thread_sizes_are_counted(db: str) -> None:
    assert await query_rows(db, KEPT_THREAD_SIZES) == await query_rows(db, COUNTED_THREAD_SIZES)


async def assert_totals_are_the_orders(client, admin: str) -> None:
    db = client.server.app[CONFIG].db
    counted = dict(await query_rows(db, "SELECT status, count(*) FROM comm_orders GROUP BY status"))
    every = await call(client, "GET", LIST, token=admin)
    assert every["total"] == sum(counted.values())
    for status in STATUSES:
        one = await call(client, "GET", LIST, token=admin, params={"status": int(status)})
        assert one["total"] == counted.get(int(status), 0), status
        assert len(assert_ok(one)) == min(one["total"], 10)
    awaiting = dict(
        await query_rows(
            db,
            f"""SELECT status, count(*) FROM comm_orders
                WHERE awaiting_reply = 1 AND status <> {int(Status.CANCELLED)} GROUP BY status""",
        )
    )
    body = await call(client, "GET", LIST, token=admin, params={"awaiting_reply": 1})
    assert body["total"] == sum(awaiting.values())
    assert len(assert_ok(body)) == min(body["total"], 10)
    for status in STATUSES:
        params = {"awaiting_reply": 1, "status": int(status)}
        body = await call(client, "GET", LIST, token=admin, params=params)
        assert body["total"] == awaiting.get(int(status), 0), status


async def test_the_totals_follow_every_change_of_status(client):
    admin = await make_admin(client)
    alice, _ = await register(client, "alice")
    bob, _ = await register(client, "bob")
    await assert_totals_are_the_orders(client, admin)
    made = [await make_order(client, who) for who in (alice, alice, bob, bob, bob)]
    await assert_totals_are_the_orders(client, admin)
    first, second, third, fourth, fifth = (order["id"] for order in made)
    steps = [
        (admin, "/api/admin/communication/message/send",
         {"comm_order_id": first, "message_type": "text", "content": "hi"}),  # 0 → 1
        (alice, "/api/communication/order/cancel", {"id": second}),  # 0 → -1
        (admin, "/api/admin/communication/order/status", {"id": third, "status": -1}),
        (admin, "/api/admin/communication/order/status", {"id": fourth, "status": 1}),
        (admin, "/api/admin/communication/order/status", {"id": fourth, "status": 1}),  # same
        (bob, "/api/communication/order/update", {"id": fourth, "title": "Same status"}),
    ]  # fmt: skip
    for token, path, body in steps:
        assert_ok(await call(client, "POST", path, token=token, json=body))
        await assert_totals_are_the_orders(client, admin)
    await quote(client, admin, first)
    await quote(client, admin, fifth)
    await assert_totals_are_the_orders(client, admin)
    assert_ok(await call(client, "POST", "/api/communication/order/accept", token=alice,
                         json={"id": first}))  # fmt: skip
    assert_ok(await call(client, "POST", "/api/communication/order/reject", token=bob,
                         json={"id": fifth}))  # fmt: skip
    await assert_totals_are_the_orders(client, admin)
    # Erasing an account cancels its open orders.
    assert_ok(await call(client, "POST", "/api/user/delete", token=bob,
                         json={"password": PASSWORD}))  # fmt: skip
    await assert_totals_are_the_orders(client, admin)


async def test_orders_made_at_once_are_all_counted(client):
    admin = await make_admin(client)
    customers = [(await register(client, f"buyer{n}"))[0] for n in range(4)]
    await asyncio.gather(*(make_order(client, token) for token in customers for _ in range(5)))
    await assert_totals_are_the_orders(client, admin)
    assert (await call(client, "GET", LIST, token=admin))["total"] == 20


async def rewind(db: str, version: int) -> None:
    """The database as migration `version` left it: what the later migrations made is
    dropped (SQLite) or left for them to count afresh (PostgreSQL's are written to run
    again over what is there)."""
    if db.startswith("postgresql://"):
        steps = [
            f"DELETE FROM schema_migrations WHERE version > {version}",
            # Counts gone wrong: the migrations must count everything afresh.
            "UPDATE order_counts SET n = n + 99, talked = talked + 99, awaiting = awaiting + 99",
            "INSERT INTO caught_up_counts (user_id, shard, n) SELECT id, 5, 99 FROM users",
            "UPDATE comm_orders SET message_count = message_count + 99, note_count = 99",
        ]
    else:
        steps = [f"PRAGMA user_version = {version}", "DROP TABLE caught_up_counts",
                 "DROP INDEX read_markers_order",
                 "ALTER TABLE comm_orders DROP COLUMN message_count",
                 "ALTER TABLE comm_orders DROP COLUMN note_count",
                 "ALTER TABLE sessions DROP COLUMN last_used_time"]  # fmt: skip
        # (The triggers as either migration made them: both remake them.)
        steps += [f"DROP TRIGGER {name}" for name in
                  ("order_counted", "order_recounted", "order_uncounted")]  # fmt: skip
        if version < 12:
            steps.append("DROP TABLE order_counts")
        else:
            steps += [
                f"ALTER TABLE order_counts DROP COLUMN {name}" for name in ("talked", "awaiting")
            ]
    for sql in steps:
        await query_rows(db, sql)


async def _an_order(db: str, order_id: int, status: int, talk: int = 0) -> None:
    """An order whose latest message that is not a system message is `talk` (0: none),
    awaiting a reply when that is odd."""
    await query_rows(
        db,
        f"""INSERT INTO comm_orders (id, user_id, archive_id, title, content, phone, status,
                                     created_time, updated_time, merchant_talk_id, awaiting_reply)
            VALUES ({order_id}, 1, 1, 't', 'c', '12345', {status}, 0, 0, {talk}, {talk % 2})""",
    )


async def test_the_migration_counts_the_orders_already_there(db):
    """Migrations 12 and 13 on a database that holds orders: their counts are theirs."""
    store = await open_store(db)
    await store.close()
    await query_rows(
        db, "INSERT INTO users (id, user_name, password_hash, created_time) VALUES (1, 'a', 'x', 0)"
    )
    for order_id, status, talk in (
        (1, 0, 5),
        (2, 0, 0),
        (17, 0, 9),
        (3, 2, 0),
        (4, -1, 7),
        (33, 3, 0),
    ):
        await _an_order(db, order_id, status, talk)
    await rewind(db, 11)
    store = await open_store(db)
    await store.close()
    rows = await query_rows(
        db, "SELECT status, shard, n, talked, awaiting FROM order_counts WHERE n <> 0 ORDER BY 1, 2"
    )
    assert rows == [
        (-1, 4, 1, 1, 1),
        (0, 1, 2, 2, 2),
        (0, 2, 1, 0, 0),
        (2, 3, 1, 0, 0),
        (3, 1, 1, 0, 0),
    ]
    # A row per declared status and shard: a status added without its rows fails here.
    shards = await query_rows(db, "SELECT status, count(*) FROM order_counts GROUP BY status")
    assert sorted(shards) == sorted((int(status), 16) for status in STATUSES)


async def test_the_migration_counts_what_each_reader_caught_up_with(db):
    """Migration 13 on a database with read markers: a reader is caught up on an order
    whose latest message that is not a system message is at or below their marker."""
    store = await open_store(db)
    await store.close()
    for user_id in (1, 2):
        await query_rows(
            db,
            f"""INSERT INTO users (id, user_name, password_hash, created_time)
                VALUES ({user_id}, 'u{user_id}', 'x', 0)""",
        )
    for order_id, status, talk in ((1, 0, 10), (17, 1, 20), (3, 2, 30), (2, 0, 0), (18, 3, 40)):
        await _an_order(db, order_id, status, talk)
    markers = [(1, 1, 10), (1, 17, 15), (1, 3, 35), (1, 2, 5), (1, 18, 40), (2, 17, 20)]
    for user_id, order_id, message_id in markers:
        await query_rows(
            db,
            f"""INSERT INTO read_markers (user_id, comm_order_id, message_id)
                VALUES ({user_id}, {order_id}, {message_id})""",
        )
    await rewind(db, 12)
    store = await open_store(db)
    await store.close()
    caught_up = await query_rows(
        db, "SELECT user_id, shard, n FROM caught_up_counts WHERE n <> 0 ORDER BY 1, 2"
    )
    assert caught_up == [(1, 1, 1), (1, 2, 1), (1, 3, 1), (2, 1, 1)]
    talked = await query_rows(
        db, "SELECT status, shard, talked FROM order_counts WHERE talked <> 0 ORDER BY 1, 2"
    )
    assert talked == [(0, 1, 1), (1, 1, 1), (2, 3, 1), (3, 2, 1)]


async def test_the_migration_counts_the_threads_already_there(db):
    """Migration 14 on a database with messages: each order's thread size and notes."""
    store = await open_store(db)
    await store.close()
    await query_rows(
        db, "INSERT INTO users (id, user_name, password_hash, created_time) VALUES (1, 'a', 'x', 0)"
    )
    for order_id in (1, 2, 3):
        await _an_order(db, order_id, 0)
    for order_id, kind in ((1, "text"), (1, "note"), (1, "quote"), (3, "note"), (1, "note")):
        await query_rows(
            db,
            f"""INSERT INTO messages (comm_order_id, sender_id, sender_type, sender_name,
                                      message_type, content, created_time)
                VALUES ({order_id}, 1, 'admin', 'a', '{kind}', 'hi', 0)""",
        )
    await rewind(db, 13)
    store = await open_store(db)
    await store.close()
    assert await query_rows(db, KEPT_THREAD_SIZES) == [(1, 4, 2), (2, 0, 0), (3, 1, 1)]


async def assert_unread_totals_are_the_orders(client, readers: list[tuple[str, int]]) -> None:
    """For each merchant-side reader (token, user id): the unread list's total is what
    counting the threads gives (the orders with a message that is not a system message
    after the reader's marker), and its page holds only such orders."""
    db = client.server.app[CONFIG].db
    for token, user_id in readers:
        ((counted,),) = await query_rows(
            db,
            f"""SELECT count(*) FROM comm_orders o WHERE EXISTS (
                    SELECT 1 FROM messages m
                    WHERE m.comm_order_id = o.id AND m.sender_type <> 'system'
                      AND m.id > coalesce((SELECT r.message_id FROM read_markers r
                                           WHERE r.user_id = {user_id}
                                             AND r.comm_order_id = o.id), 0))""",
        )
        body = await call(client, "GET", LIST, token=token, params={"unread": 1})
        page = assert_ok(body)
        assert body["total"] == counted, user_id
        assert len(page) == min(counted, 10) and all(order["unread"] > 0 for order in page)


async def _read(client, token: str, order_id: int, **more) -> None:
    body = await read(client, token, order_id, ADMIN_READ, **more)
    assert body["msg"] == "marked as read"


async def _post(client, token: str, path: str, **body) -> None:
    assert_ok(await call(client, "POST", path, token=token, json=body))


async def test_the_unread_total_follows_every_message_and_marker(client):
    admin = await make_admin(client)
    staff, first_staff = await make_staff(client, admin, "helper")
    other, second_staff = await make_staff(client, admin, "second")
    db = client.server.app[CONFIG].db
    ((admin_id,),) = await query_rows(db, "SELECT id FROM users WHERE user_name = 'merchant'")
    readers = [(admin, admin_id), (staff, first_staff["id"]), (other, second_staff["id"])]
    alice, alice_user = await register(client, "alice")
    bob, _ = await register(client, "bob")
    orders = [await make_order(client, alice) for _ in range(3)]
    orders += [await make_order(client, bob) for _ in range(2)]
    one, two, three, four, five = (order["id"] for order in orders)

    async def then(step) -> None:
        await step
        await assert_unread_totals_are_the_orders(client, readers)
        await assert_totals_are_the_orders(client, admin)  # awaiting a reply, too
        await assert_thread_sizes_are_counted(db)

    await assert_unread_totals_are_the_orders(client, readers)
    await then(say(client, alice, one, "hi", SEND))  # the first message: unread for all three
    bobs = await say(client, bob, four, "hi", SEND)
    await then(say(client, bob, four, "still there?", SEND))
    await then(say(client, admin, one, "hi", ADMIN_SEND))  # the first reply moves the status too
    await then(_read(client, staff, one))
    await then(_read(client, other, four, message_id=bobs["id"]))  # not up to the latest
    await then(_post(client, admin, "/api/admin/communication/order/note", id=two, content="call"))
    await then(update(client, alice, id=one, title="Bluer"))  # a system message
    await then(_post(client, admin, "/api/admin/communication/order/status", id=three, status=1))
    await then(say(client, alice, one, "and another thing", SEND))
    await then(_read(client, other, one))
    await then(say(client, staff, four, "hi", ADMIN_SEND))
    await then(quote(client, admin, one))
    await then(_post(client, alice, "/api/communication/order/accept", id=one))
    await then(_read(client, staff, two))
    await then(say(client, bob, five, "hi", SEND))
    await then(_post(client, bob, "/api/user/delete", password=PASSWORD))  # orders cancelled
    # A customer made staff reads the merchant's side, her markers as they are.
    await _post(client, admin, "/api/admin/users/update", id=alice_user["id"], role="staff")
    login = await call(
        client, "POST", "/api/login", json={"user_name": "alice", "password": PASSWORD}
    )
    await assert_unread_totals_are_the_orders(
        client, [(assert_ok(login)["token"], alice_user["id"])]
    )


async def test_the_unread_total_holds_when_messages_and_reads_race(client):
    """Several staff write and read the same orders at once while customers write: on
    PostgreSQL each writer of an order's markers holds the order's lock, so the counts
    each statement moves stay true."""
    admin = await make_admin(client)
    team = [await make_staff(client, admin, f"helper{n}") for n in range(3)]
    readers = [(token, user["id"]) for token, user in team]
    customers = [(await register(client, f"buyer{n}"))[0] for n in range(2)]
    orders = [
        (token, (await make_order(client, token))["id"]) for token in customers for _ in range(2)
    ]
    for round_ in range(3):
        work = []
        for token, order_id in orders:
            work.append(say(client, token, order_id, f"round {round_}", SEND))
            for staff_token, _ in readers:
                work.append(_read(client, staff_token, order_id))
            work.append(say(client, readers[round_][0], order_id, "hi", ADMIN_SEND))
        await asyncio.gather(*work)
        await assert_unread_totals_are_the_orders(client, readers)
        await assert_thread_sizes_are_counted(client.server.app[CONFIG].db)


async def test_writes_of_every_kind_at_once_never_deadlock(client, caplog):
    """Messages, replies, notes, updates, reads and new orders at once,
    on orders that share their counts' rows (the same shard): every writer takes the
    order's row, the events' turn and the counts' rows in that order, so PostgreSQL
    never has a deadlock to break (its retry would log it), and the counts stay exact."""
    admin = await make_admin(client)
    db = client.server.app[CONFIG].db
    ((admin_id,),) = await query_rows(db, "SELECT id FROM users WHERE user_name = 'merchant'")
    customers = [await register(client, f"buyer{n}") for n in range(6)]
    pairs = []
    for token, _ in customers:
        made = [await make_order(client, token) for _ in range(17)]
        first, last = made[0]["id"], made[16]["id"]  # 16 apart: the same shard
        for order_id in (first, last):
            await say(client, admin, order_id, "hi", ADMIN_SEND)
        pairs.append((token, first, last))
    for round_ in range(3):
        work = []
        for token, first, last in pairs:
            work += [
                say(client, admin, first, f"reply {round_}", ADMIN_SEND),
                say(client, token, first, f"question {round_}", SEND),
                update(client, token, id=last, title=f"Take {round_}"),
                say(client, admin, last, "hi", ADMIN_SEND),
                _read(client, admin, first),
                _post(client, admin, "/api/admin/communication/order/note", id=last, content="n"),
                make_order(client, token),
            ]
        await asyncio.gather(*work)
    assert "deadlock" not in caplog.text
    await assert_unread_totals_are_the_orders(client, [(admin, admin_id)])
    await assert_totals_are_the_orders(client, admin)
