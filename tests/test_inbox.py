"""The merchant's desk, part 2, on both engines through the HTTP API: read markers and
what each order answer holds for its caller (unread, last_message,
last_activity_time), the inbox's sort and filters, and internal notes, which no
customer path ever shows (answers, counts, streams live and replayed, mail, export)."""

import asyncio
import json
import shutil
import sqlite3

import pytest
from orderdesk import security
from orderdesk.config import Config
from orderdesk.keys import OUTBOX, STORE
from orderdesk.store import accounts
from orderdesk.store import sqlite as sqlite_engine

from tests.conftest import (
    PASSWORD,
    assert_fail,
    assert_ok,
    call,
    mail_config,
    make_admin,
    make_order,
    make_staff,
    quote,
    register,
    update,
)
from tests.receivers import Receiver, eventually
from tests.test_events import count_events, open_stream

ORDERS, ADMIN_ORDERS = "/api/communication/orders", "/api/admin/communication/orders"
DETAIL, ADMIN_DETAIL = "/api/communication/order/detail", "/api/admin/communication/order/detail"
THREAD, ADMIN_THREAD = "/api/communication/messages", "/api/admin/communication/messages"
SEND, ADMIN_SEND = "/api/communication/message/send", "/api/admin/communication/message/send"
READ, ADMIN_READ = "/api/communication/order/read", "/api/admin/communication/order/read"
NOTE = "/api/admin/communication/order/note"
ADMIN_STATUS = "/api/admin/communication/order/status"
ASSIGN = "/api/admin/communication/order/assign"
BOSS, ALICE = "boss@shop.test", "alice@home.test"


@pytest.fixture
def config(db, clock, smtp) -> Config:
    return mail_config(
        db,
        clock,
        smtp,
        webhook_allow_private=True,
        public_url="",
    )


async def say(client, token: str, order_id: int, text: str, path: str = SEND) -> dict:
    body = {"comm_order_id": order_id, "message_type": "text", "content": text}
    return assert_ok(await call(client, "POST", path, token=token, json=body))


async def note(client, token: str, order_id: int, text: str) -> dict:
    body = await call(client, "POST", NOTE, token=token, json={"id": order_id, "content": text})
    assert body["msg"] == "note added"
    return assert_ok(body)


async def listed(client, token: str, path: str = ORDERS, **params) -> list[dict]:
    return assert_ok(await call(client, "GET", path, token=token, params=params))


async def one_listed(client, token: str, order_id: int, path: str = ORDERS) -> dict:
    (found,) = [o for o in await listed(client, token, path, page_size=100) if o["id"] == order_id]
    return found


async def read(client, token: str, order_id: int, path: str = READ, **more) -> dict:
    return await call(client, "POST", path, token=token, json={"id": order_id, **more})


def preview(message: dict) -> dict:
    keys = ("id", "sender_type", "sender_name", "message_type", "content", "created_time")
    return {key: message[key] for key in keys}


# ---------------------------------------------------------------- read state


async def test_unread_last_message_and_the_read_marker_on_both_sides(client, clock):
    admin = await make_admin(client)
    alice, _ = await register(client)
    order = await make_order(client, alice)
    order_id = order["id"]

    fresh = await one_listed(client, alice, order_id)
    assert (fresh["unread"], fresh["last_message"]) == (0, None)
    assert fresh["last_activity_time"] == order["updated_time"]

    mine = await say(client, alice, order_id, "hello")  # her own: never unread for her
    clock.advance(5)
    first = await say(client, admin, order_id, "first reply", ADMIN_SEND)
    clock.advance(5)
    second = await say(client, admin, order_id, "x" * 300, ADMIN_SEND)
    seen = await one_listed(client, alice, order_id)
    assert seen["unread"] == 2
    assert seen["last_message"] == preview(second) | {"content": "x" * 200}
    assert seen["last_activity_time"] == second["created_time"] > order["updated_time"]
    detail = assert_ok(await call(client, "GET", DETAIL, token=alice, params={"id": order_id}))
    assert (detail["unread"], detail["last_message"]["id"]) == (2, second["id"])

    # The merchant's side: the customer's message unread until the merchant wrote after it.
    merchant = await one_listed(client, admin, order_id, ADMIN_ORDERS)
    assert merchant["unread"] == 0  # the admin's replies moved the admin's marker
    staff, _ = await make_staff(client, admin)
    assert (await one_listed(client, staff, order_id, ADMIN_ORDERS))["unread"] == 3

    # Reading: up to a message, never back, and by default the latest.
    events_before = await count_events(client)
    version = seen["version"]
    body = await read(client, alice, order_id, message_id=first["id"])
    assert body["msg"] == "marked as read" and assert_ok(body) == {"unread": 1}
    assert assert_ok(await read(client, alice, order_id, message_id=mine["id"])) == {"unread": 1}
    assert assert_ok(await read(client, alice, order_id)) == {"unread": 0}
    assert (await one_listed(client, alice, order_id))["unread"] == 0
    assert assert_ok(await read(client, staff, order_id, ADMIN_READ)) == {"unread": 0}
    # Reading changes nothing else.
    assert await count_events(client) == events_before
    assert (await one_listed(client, alice, order_id))["version"] == version

    # A message of another order, or an order that is not hers.
    other = await make_order(client, alice)
    other_message = await say(client, alice, other["id"], "elsewhere")
    assert_fail(
        await read(client, alice, order_id, message_id=other_message["id"]),
        msg="message_id is not a message of this order",
    )
    bob, _ = await register(client, "bob")
    assert_fail(await read(client, bob, order_id), msg="order not found")

    # System messages are the last message but never unread.
    assert (await update(client, alice, id=order_id, title="New title"))["code"] == 0
    after = await one_listed(client, admin, order_id, ADMIN_ORDERS)
    assert after["last_message"]["sender_type"] == "system"
    assert after["unread"] == 0  # the update's system message is not counted
    assert (await one_listed(client, alice, order_id))["unread"] == 0


async def test_every_message_the_caller_writes_moves_their_marker(client):
    admin = await make_admin(client)
    alice, _ = await register(client)
    order_id = (await make_order(client, alice))["id"]
    await say(client, alice, order_id, "one")
    await say(client, alice, order_id, "two")
    staff, _ = await make_staff(client, admin)
    assert (await one_listed(client, staff, order_id, ADMIN_ORDERS))["unread"] == 2
    await quote(client, staff, order_id)
    assert (await one_listed(client, staff, order_id, ADMIN_ORDERS))["unread"] == 0
    await say(client, alice, order_id, "three")
    await note(client, staff, order_id, "she wants blue")
    assert (await one_listed(client, staff, order_id, ADMIN_ORDERS))["unread"] == 0
    # The admin did not write: the customer's three and the staff's quote and note.
    assert (await one_listed(client, admin, order_id, ADMIN_ORDERS))["unread"] == 5
    # Her own message moved her marker past the quote; the note is never hers to read.
    assert (await one_listed(client, alice, order_id))["unread"] == 0
    await say(client, staff, order_id, "see the quote", ADMIN_SEND)
    assert (await one_listed(client, alice, order_id))["unread"] == 1
    # A change's system message is nobody's message: it moves no marker, so what she
    # had not read stays unread, on her side and on the merchant's.
    rejected = await call(
        client, "POST", "/api/communication/order/reject", token=alice, json={"id": order_id}
    )
    assert_ok(rejected)
    assert (await one_listed(client, alice, order_id))["unread"] == 1
    assert_ok(await update(client, alice, id=order_id, title="Bluer"))
    assert (await one_listed(client, alice, order_id))["unread"] == 1
    await say(client, alice, order_id, "four")
    assert (await one_listed(client, staff, order_id, ADMIN_ORDERS))["unread"] == 1
    cancelled = {"id": order_id, "status": -1}
    assert_ok(await call(client, "POST", ADMIN_STATUS, token=staff, json=cancelled))
    assert (await one_listed(client, staff, order_id, ADMIN_ORDERS))["unread"] == 1


# ---------------------------------------------------------------- the inbox


async def test_the_inbox_sorts_by_activity_and_filters(client, clock):
    admin = await make_admin(client)
    staff, staff_user = await make_staff(client, admin)
    alice, alice_user = await register(client, "alice", email="Alice@Home.test")
    bob, _ = await register(client, "bob", phone="+1 555 0100")
    a1 = (await make_order(client, alice, title="Logo"))["id"]
    clock.advance(10)
    b1 = (await make_order(client, bob, title="Theme"))["id"]
    clock.advance(10)
    a2 = (await make_order(client, alice, title="Banner"))["id"]
    clock.advance(10)
    await say(client, alice, a1, "any news?")  # a1 is now the latest activity
    clock.advance(10)
    await say(client, admin, b1, "we are on it", ADMIN_SEND)

    ids = lambda orders: [o["id"] for o in orders]  # noqa: E731
    assert ids(await listed(client, admin, ADMIN_ORDERS)) == [a2, b1, a1]
    assert ids(await listed(client, admin, ADMIN_ORDERS, sort="activity")) == [b1, a1, a2]
    assert ids(await listed(client, alice, sort="activity")) == [a1, a2]
    assert ids(await listed(client, alice, sort="created")) == [a2, a1]
    # Ties by the higher id.
    clock.advance(10)
    await say(client, bob, b1, "thanks")
    await say(client, alice, a2, "hi")
    assert ids(await listed(client, admin, ADMIN_ORDERS, sort="activity"))[:2] == [a2, b1]

    # awaiting_reply: the latest message neither system nor a note is the customer's.
    assert ids(await listed(client, admin, ADMIN_ORDERS, awaiting_reply=1)) == [a2, b1, a1]
    await say(client, admin, a1, "soon", ADMIN_SEND)
    await note(client, admin, a2, "internal")  # a note is no reply
    assert ids(await listed(client, admin, ADMIN_ORDERS, awaiting_reply=1)) == [a2, b1]
    await call(client, "POST", "/api/communication/order/cancel", token=bob, json={"id": b1})
    assert ids(await listed(client, admin, ADMIN_ORDERS, awaiting_reply=1)) == [a2]
    body = await call(client, "GET", ADMIN_ORDERS, token=admin, params={"awaiting_reply": "1"})
    assert body["total"] == 1

    # unread=1, for the caller only.
    assert ids(await listed(client, staff, ADMIN_ORDERS, unread=1)) == [a2, b1, a1]
    assert_ok(await read(client, staff, b1, ADMIN_READ))
    assert ids(await listed(client, staff, ADMIN_ORDERS, unread=1, sort="activity")) == [a2, a1]
    assert ids(await listed(client, alice, unread=1)) == [a1]
    assert ids(await listed(client, alice, unread=0)) == [a2, a1]

    # assignee_id: a user, or 0 for nobody.
    assert_ok(await call(client, "POST", ASSIGN, token=admin, json={"id": a1, "assignee_id": 2}))
    assert staff_user["id"] == 2
    assert ids(await listed(client, admin, ADMIN_ORDERS, assignee_id=2)) == [a1]
    assert ids(await listed(client, admin, ADMIN_ORDERS, assignee_id=0)) == [a2, b1]

    # q: title and content, and the customer's name, email and phone, ignoring case.
    assert ids(await listed(client, admin, ADMIN_ORDERS, q="banner")) == [a2]
    assert ids(await listed(client, admin, ADMIN_ORDERS, q="ALICE@home")) == [a2, a1]
    assert ids(await listed(client, admin, ADMIN_ORDERS, q="BO")) == [b1]
    assert ids(await listed(client, admin, ADMIN_ORDERS, q="555 01")) == [b1]
    assert ids(await listed(client, alice, q="bob")) == [a2, a1]  # the customer has no q

    # The merchant's items carry the customer.
    item = await one_listed(client, admin, a2, ADMIN_ORDERS)
    assert item["user"] == {
        "id": alice_user["id"],
        "user_name": "alice",
        "email": "Alice@Home.test",
        "phone": "",
    }
    assert "user" not in await one_listed(client, alice, a2)

    for bad in ({"sort": "newest"}, {"unread": "2"}, {"awaiting_reply": "yes"}):
        assert_fail(await call(client, "GET", ADMIN_ORDERS, token=admin, params=bad))
    assert_fail(await call(client, "GET", ADMIN_ORDERS, token=admin, params={"assignee_id": "-1"}))


# ---------------------------------------------------------------- internal notes


async def test_a_note_reaches_the_merchants_side_only(client, smtp):
    await client.server.app[STORE].write(
        accounts.save_admin, "merchant", BOSS, security.hash_password(PASSWORD)
    )
    admin = assert_ok(
        await call(
            client, "POST", "/api/login", json={"user_name": "merchant", "password": PASSWORD}
        )
    )["token"]
    with Receiver() as receiver:
        hook = {"url": receiver.url, "events": ["message.created"]}
        assert_ok(await call(client, "POST", "/api/admin/webhooks", token=admin, json=hook))
        alice, _ = await register(client, "alice", email=ALICE)
        order = await make_order(client, alice)
        order_id = order["id"]
        await eventually(lambda: len(smtp.mails()) == 1)  # the merchant's new-order mail
        live_customer = await open_stream(client, alice)
        live_merchant = await open_stream(client, admin)
        said = await say(client, alice, order_id, "hello")
        first = await live_customer.next()
        assert first["data"] == said

        secret = "SECRET-NOTE: the customer pays late"
        written = await note(client, admin, order_id, secret)
        assert (written["sender_type"], written["message_type"]) == ("admin", "note")
        reply = await say(client, admin, order_id, "thanks, on it", ADMIN_SEND)

        # The customer's live stream: the reply (and the order it moved to 1) follow her
        # message, the note never came. Replayed by Last-Event-ID: the same.
        replayed = await open_stream(client, alice, last_id=first["id"])
        for stream in (live_customer, replayed):
            moved, message = await stream.take(2)
            assert (moved["event"], moved["data"]["status"]) == ("order.updated", 1)
            assert (message["event"], message["data"]) == ("message.created", reply)
        # The merchant's stream has it, in its order, and so do the webhooks.
        merchant_events = [e["data"] for e in await live_merchant.take(4)]
        assert merchant_events[:2] == [said, written] and merchant_events[3] == reply
        merchant_replay = await open_stream(client, admin, last_id=first["id"])
        replayed_data = [e["data"] for e in await merchant_replay.take(3)]
        assert replayed_data[0] == written and replayed_data[2] == reply
        client.server.app[OUTBOX].wake()
        receipts = await eventually(lambda: len(receiver.receipts) >= 3 and receiver.receipts)
        hooked = [json.loads(r.body)["data"] for r in receipts]
        assert written in hooked
        for stream in (live_customer, live_merchant, replayed, merchant_replay):
            stream.close()

    # Only the reply's move (0 -> 1) bumped the version.
    after = assert_ok(await call(client, "GET", ADMIN_DETAIL, token=admin, params={"id": order_id}))
    assert (after["version"], after["status"]) == (order["version"] + 1, 1)
    assert written in after["messages"] and after["messages_total"] == 3
    thread = await call(
        client, "GET", ADMIN_THREAD, token=admin, params={"comm_order_id": order_id}
    )
    assert written in assert_ok(thread) and thread["total"] == 3
    assert (await one_listed(client, admin, order_id, ADMIN_ORDERS))["last_message"]["id"] == (
        reply["id"]
    )

    # The customer's answers: detail, thread, list, counts.
    mine = assert_ok(await call(client, "GET", DETAIL, token=alice, params={"id": order_id}))
    assert [m["id"] for m in mine["messages"]] == [said["id"], reply["id"]]
    assert mine["messages_total"] == 2 and mine["unread"] == 1
    thread = await call(client, "GET", THREAD, token=alice, params={"comm_order_id": order_id})
    assert [m["id"] for m in assert_ok(thread)] == [said["id"], reply["id"]]
    assert thread["total"] == 2
    await note(client, admin, order_id, secret)  # the latest message is a note now
    item = await one_listed(client, alice, order_id)
    assert (item["version"], item["status"], item["updated_time"]) == (
        after["version"],
        after["status"],
        after["updated_time"],
    )
    assert item["last_message"]["id"] == reply["id"] and item["unread"] == 1
    assert item["last_activity_time"] == reply["created_time"]
    assert_fail(await read(client, alice, order_id, message_id=written["id"]))
    assert assert_ok(await read(client, alice, order_id)) == {"unread": 0}
    export = assert_ok(await call(client, "GET", "/api/user/export", token=alice))
    (exported,) = export["orders"]
    assert [m["id"] for m in exported["messages"]] == [said["id"], reply["id"]]

    # Mail: the customer gets the reply's, never the note's; nobody gets the note's.
    mails = await eventually(lambda: len(smtp.mails()) >= 3 and smtp.mails())
    await asyncio.sleep(0.5)
    mails = smtp.mails()
    assert len(mails) == 3  # new order, her message, the reply
    for _, mail in mails:
        assert "SECRET-NOTE" not in mail.as_string()


async def test_note_is_not_a_message_type_anyone_may_send(client):
    admin = await make_admin(client)
    alice, _ = await register(client)
    order_id = (await make_order(client, alice))["id"]
    for token, path in ((alice, SEND), (admin, ADMIN_SEND)):
        body = {"comm_order_id": order_id, "message_type": "note", "content": "x"}
        assert_fail(await call(client, "POST", path, token=token, json=body))
    # Notes are the merchant's: a customer calling the endpoint is refused.
    refused = await call(client, "POST", NOTE, token=alice, json={"id": order_id, "content": "x"})
    assert_fail(refused, 1002)
    for content in ("", "x" * 10001):
        body = await call(
            client, "POST", NOTE, token=admin, json={"id": order_id, "content": content}
        )
        assert_fail(body)
    # Any status, even cancelled.
    await call(
        client, "POST", "/api/communication/order/cancel", token=alice, json={"id": order_id}
    )
    assert (await note(client, admin, order_id, "closed for good"))["message_type"] == "note"
    missing = await call(client, "POST", NOTE, token=admin, json={"id": 999, "content": "x"})
    assert_fail(missing, msg="order not found")


# ---------------------------------------------------------------- the migration


def test_the_migration_fills_in_the_latest_messages_of_existing_orders(tmp_path):
    """A database made before the inbox: each order's latest messages on each side, and
    whether it awaits a reply, are computed from its thread."""
    steps = tmp_path / "before"
    steps.mkdir()
    for path in sqlite_engine.MIGRATIONS.glob("*.sql"):
        if int(path.name[:4]) < 10:
            shutil.copy(path, steps)
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    sqlite_engine._migrate(conn, steps)
    conn.execute(
        "INSERT INTO users (id, user_name, password_hash, created_time) VALUES (1, 'a', 'x', 0)"
    )
    for order_id in (1, 2, 3):
        conn.execute(
            """INSERT INTO comm_orders (id, user_id, archive_id, title, content, phone,
                                        created_time, updated_time)
               VALUES (?, 1, 1, 't', 'c', '12345', 0, 0)""",
            (order_id,),
        )
    thread = [  # (order, sender id, sender type, time)
        (1, 1, "user", 10),
        (1, 0, "system", 20),  # the latest, but not who talked last
        (2, 1, "user", 30),
        (2, 9, "admin", 40),
    ]
    for order_id, sender, kind, at in thread:
        conn.execute(
            """INSERT INTO messages (comm_order_id, sender_id, sender_type, sender_name,
                                     message_type, content, created_time)
               VALUES (?, ?, ?, 'n', 'text', 'x', ?)""",
            (order_id, sender, kind, at),
        )
    sqlite_engine._migrate(conn)
    rows = conn.execute(
        """SELECT id, last_message_id, last_message_time, customer_message_id,
                  customer_message_time, merchant_talk_id, customer_talk_id, awaiting_reply
           FROM comm_orders ORDER BY id"""
    ).fetchall()
    assert rows == [
        (1, 2, 20, 2, 20, 1, 1, 1),
        (2, 4, 40, 4, 40, 4, 4, 0),
        (3, 0, 0, 0, 0, 0, 0, 0),
    ]
    # Who wrote has read up to their own latest message.
    markers = conn.execute("SELECT * FROM read_markers ORDER BY comm_order_id").fetchall()
    assert markers == [(1, 1, 1), (1, 2, 3)]
