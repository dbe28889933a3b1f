"""The merchant's list answers its total from counts the database keeps (migration 12:
triggers in the transaction of every change) instead of counting every order: on both
engines, whatever changes an order's status, the totals stay exactly the orders'."""

import asyncio

from orderdesk.keys import CONFIG
from orderdesk.store import open_store
from orderdesk.workflow import STATUSES

from tests.conftest import (
    PASSWORD,
    assert_ok,
    call,
    make_admin,
    make_order,
    query_rows,
    quote,
    register,
)

LIST = "/api/admin/communication/orders"


async def assert_totals_are_the_orders(client, admin: str) -> None:
    db = client.server.app[CONFIG].db
    counted = dict(await query_rows(db, "SELECT status, count(*) FROM comm_orders GROUP BY status"))
    every = await call(client, "GET", LIST, token=admin)
    assert every["total"] == sum(counted.values())
    for status in STATUSES:
        one = await call(client, "GET", LIST, token=admin, params={"status": int(status)})
        assert one["total"] == counted.get(int(status), 0), status
        assert len(assert_ok(one)) == min(one["total"], 10)


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


async def test_the_migration_counts_the_orders_already_there(db):
    """Migration 12 on a database that holds orders: its counts are theirs."""
    store = await open_store(db)
    await store.close()
    await query_rows(
        db, "INSERT INTO users (id, user_name, password_hash, created_time) VALUES (1, 'a', 'x', 0)"
    )
    for order_id, status in ((1, 0), (2, 0), (17, 0), (3, 2), (4, -1), (33, 3)):
        await query_rows(
            db,
            f"""INSERT INTO comm_orders (id, user_id, archive_id, title, content, phone, status,
                                         created_time, updated_time)
                VALUES ({order_id}, 1, 1, 't', 'c', '12345', {status}, 0, 0)""",
        )
    postgres = db.startswith("postgresql://")
    for sql in (
        "DELETE FROM schema_migrations WHERE version >= 12"
        if postgres
        else "PRAGMA user_version = 11",
        "UPDATE order_counts SET n = 0",
    ):
        await query_rows(db, sql)
    store = await open_store(db)
    await store.close()
    rows = await query_rows(
        db, "SELECT status, shard, n FROM order_counts WHERE n <> 0 ORDER BY 1, 2"
    )
    assert rows == [(-1, 4, 1), (0, 1, 2), (0, 2, 1), (2, 3, 1), (3, 1, 1)]
    # A row per declared status and shard: a status added without its rows fails here.
    shards = await query_rows(db, "SELECT status, count(*) FROM order_counts GROUP BY status")
    assert sorted(shards) == sorted((int(status), 16) for status in STATUSES)
