"""Purchase orders (§12) on both engines, through the API: the one an accepted quote
makes, the customer's and the merchant's endpoints, every move and every refusal, the
thread's system messages, events, webhook deliveries and mail, and moves that race."""

import asyncio
import time
from typing import Any

import orjson
import pytest
from orderdesk.config import Config
from orderdesk.keys import CONFIG

from tests.conftest import (
    assert_fail,
    assert_ok,
    call,
    detail,
    mail_config,
    make_admin,
    make_order,
    make_staff,
    query_rows,
    quote,
    register,
)
from tests.receivers import Receiver, eventually
from tests.test_events import open_stream

INSTRUCTIONS = "Transfer to IBAN DE00 1234 5678; quote your order number"
NOT_FOUND = "order not found"


@pytest.fixture
def config(db, clock, smtp) -> Config:
    return mail_config(
        db, clock, smtp, payment_instructions=INSTRUCTIONS, webhook_allow_private=True
    )


async def post(client, token: str, path: str, **body: Any) -> dict[str, Any]:
    return await call(client, "POST", path, token=token, json=body)


async def get(client, token: str, path: str, **params: Any) -> dict[str, Any]:
    return await call(client, "GET", path, token=token, params=params)


async def accepted_order(client, admin: str, token: str, price: str = "12000.5", **accept: Any):
    """A communication order quoted at `price` and accepted: (the order, its purchase order)."""
    order = await make_order(client, token)
    await quote(client, admin, order["id"], price=price)
    done = assert_ok(
        await post(client, token, "/api/communication/order/accept", id=order["id"], **accept)
    )
    (purchase,) = assert_ok(await get(client, token, "/api/orders", comm_order_id=order["id"]))
    assert purchase["id"] == done["order_id"]
    return done, purchase


async def mailed(smtp, subject: str) -> list[str]:
    """The recipients of the mail with this subject, once it has arrived."""
    return await eventually(
        lambda: [rcpt for (rcpt,), mail in smtp.mails() if mail["Subject"] == subject]
    )


def _db(client) -> str:
    return client.server.app[CONFIG].db


async def thread(client, token: str, order_id: int) -> list[str]:
    return [m["content"] for m in (await detail(client, token, order_id))["messages"]]


async def test_an_accepted_quote_is_a_purchase_order_awaiting_payment(client, config, clock):
    admin = await make_admin(client)
    token, user = await register(client)
    order, purchase = await accepted_order(client, admin, token, remark="by transfer")
    created = purchase["created_time"]
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(created))
    assert purchase == {
        "id": order["order_id"],
        "order_id": f"{stamp}{purchase['id'] % 10000:04d}",
        "comm_order_id": order["id"],
        "user_id": user["id"],
        "amount": 1200050,
        "status": 0,
        "pay_way": "",
        "payment_reference": "",
        "remark": "by transfer",
        "refund_reason": "",
        "express_company": "",
        "tracking_number": "",
        "created_time": created,
        "updated_time": created,
        "paid_time": 0,
        "deliver_time": 0,
        "finished_time": 0,
    }
    assert abs(created - clock()) < 5
    number = purchase["order_id"]
    assert assert_ok(await get(client, token, "/api/order/detail", order_id=number)) == purchase
    assert (
        assert_ok(await get(client, admin, "/api/admin/order/detail", order_id=number)) == purchase
    )
    listed = await get(client, admin, "/api/admin/orders", user_id=user["id"])
    assert (assert_ok(listed), listed["total"]) == ([purchase], 1)


async def test_another_customers_or_an_unknown_purchase_order_is_not_found(client):
    admin = await make_admin(client)
    alice, _ = await register(client, "alice")
    bob, _ = await register(client, "bob")
    _, purchase = await accepted_order(client, admin, alice)
    number = purchase["order_id"]
    assert_fail(await get(client, bob, "/api/order/detail", order_id=number), msg=NOT_FOUND)
    assert_fail(await get(client, alice, "/api/order/detail", order_id="1" + number), msg=NOT_FOUND)
    for path, extra in (
        ("/api/order/payment", {"pay_way": "offline"}),
        ("/api/order/cancel", {}),
        ("/api/order/finish", {}),
        ("/api/order/refund", {"reason": "broken"}),
    ):
        assert_fail(await post(client, bob, path, order_id=number, **extra), msg=NOT_FOUND)
    assert_fail(await post(client, admin, "/api/admin/order/paid", order_id="x"), msg=NOT_FOUND)
    answer = await get(client, bob, "/api/orders")
    assert (assert_ok(answer), answer["total"]) == ([], 0)
    still = assert_ok(await get(client, alice, "/api/order/detail", order_id=number))
    assert still == purchase


async def test_offline_payment_answers_the_instructions_and_the_merchant_confirms(client, smtp):
    admin = await make_admin(client)
    token, _ = await register(client, email="alice@shop.test")
    order, purchase = await accepted_order(client, admin, token)
    number = purchase["order_id"]

    refused = await post(client, token, "/api/order/payment", order_id=number, pay_way="wechat")
    assert_fail(refused, msg="payment method not available")
    chosen = await post(client, token, "/api/order/payment", order_id=number, pay_way="offline")
    assert assert_ok(chosen) == {
        "order_id": number,
        "pay_way": "offline",
        "instructions": INSTRUCTIONS,
    }
    # Chosen, not paid: pay_way stays "" until the merchant confirms.
    unpaid = assert_ok(await get(client, token, "/api/order/detail", order_id=number))
    assert (unpaid["status"], unpaid["pay_way"], unpaid["paid_time"]) == (0, "", 0)
    assert (await thread(client, token, order["id"]))[-1] == (
        f"purchase order {number}: the customer chose to pay offline"
    )

    body = {"order_id": number, "payment_reference": "BANK-2026-0042"}
    paid = assert_ok(await call(client, "POST", "/api/admin/order/paid", token=admin, json=body))
    assert (paid["status"], paid["pay_way"], paid["payment_reference"]) == (
        1,
        "offline",
        "BANK-2026-0042",
    )
    assert paid["paid_time"] == paid["updated_time"] > 0
    assert (await thread(client, token, order["id"]))[-1] == (
        f"purchase order {number} paid: offline, reference BANK-2026-0042"
    )
    subject = f"Your payment for order #{order['id']} was received: {order['title']}"
    assert await mailed(smtp, subject) == ["alice@shop.test"]


async def test_the_whole_way_paid_delivered_completed(client, smtp):
    admin = await make_admin(client)
    token, _ = await register(client, email="alice@shop.test")
    order, purchase = await accepted_order(client, admin, token)
    number = purchase["order_id"]
    assert_ok(await post(client, admin, "/api/admin/order/paid", order_id=number))
    delivered = assert_ok(
        await post(
            client, admin, "/api/admin/order/deliver",
            order_id=number, express_company="SF Express", tracking_number="SF123",
        )
    )  # fmt: skip
    assert (delivered["status"], delivered["express_company"], delivered["tracking_number"]) == (
        2, "SF Express", "SF123",
    )  # fmt: skip
    assert delivered["deliver_time"] > 0
    finished = assert_ok(await post(client, token, "/api/order/finish", order_id=number))
    assert (finished["status"], finished["finished_time"] > 0) == (3, True)
    assert (await thread(client, token, order["id"]))[-3:] == [
        f"purchase order {number} paid: offline",
        f"purchase order {number} delivered; carrier: SF Express; tracking number: SF123",
        f"purchase order {number} completed: the customer confirmed receipt",
    ]
    title, n = order["title"], order["id"]
    await mailed(smtp, f"Your order #{n} was shipped: {title}")
    await mailed(smtp, f"Your payment for order #{n} was received: {title}")
    # Completed is final: nothing moves it.
    for path, extra, refusal in (
        ("/api/order/refund", {"reason": "late"}, "only a paid or delivered order can be refunded"),
        ("/api/order/cancel", {}, "only an order awaiting payment can be cancelled"),
    ):
        assert_fail(await post(client, token, path, order_id=number, **extra), msg=refusal)
    assert assert_ok(await get(client, token, "/api/order/detail", order_id=number)) == finished


async def test_paid_is_idempotent_per_payment_reference(client):
    admin = await make_admin(client)
    token, _ = await register(client)
    order, purchase = await accepted_order(client, admin, token)
    number = purchase["order_id"]
    callback = {"order_id": number, "pay_way": "stripe", "payment_reference": "pi_3Nf"}
    first = assert_ok(
        await call(client, "POST", "/api/admin/order/paid", token=admin, json=callback)
    )
    messages = await thread(client, token, order["id"])
    events = await query_rows(_db(client), "SELECT count(*) FROM events")
    for _ in range(2):
        again = await call(client, "POST", "/api/admin/order/paid", token=admin, json=callback)
        assert assert_ok(again) == first
    assert await thread(client, token, order["id"]) == messages
    assert await query_rows(_db(client), "SELECT count(*) FROM events") == events
    other = {**callback, "payment_reference": "pi_OTHER"}
    assert_fail(
        await call(client, "POST", "/api/admin/order/paid", token=admin, json=other),
        msg="this order was already paid with another payment reference",
    )
    assert assert_ok(await get(client, token, "/api/order/detail", order_id=number)) == first


async def test_a_refund_is_asked_then_approved_or_refused_back_to_where_it_was(client, smtp):
    admin = await make_admin(client)
    token, _ = await register(client, email="alice@shop.test")
    order, purchase = await accepted_order(client, admin, token)
    number = purchase["order_id"]
    assert_ok(await post(client, admin, "/api/admin/order/paid", order_id=number))
    assert_ok(await post(client, admin, "/api/admin/order/deliver", order_id=number))
    assert_fail(
        await post(client, token, "/api/order/refund", order_id=number, reason=" "),
        msg="reason must not be empty",
    )
    asked = assert_ok(
        await post(client, token, "/api/order/refund", order_id=number, reason="Broken")
    )
    assert (asked["status"], asked["refund_reason"]) == (8, "Broken")
    refused = assert_ok(
        await post(client, admin, "/api/admin/order/refund", order_id=number, approve=False)
    )
    assert refused["status"] == 2  # delivered, as before the request
    asked = assert_ok(
        await post(client, token, "/api/order/refund", order_id=number, reason="Still broken")
    )
    approved = assert_ok(
        await post(client, admin, "/api/admin/order/refund", order_id=number, approve=True)
    )
    assert (approved["status"], approved["refund_reason"]) == (9, "Still broken")
    assert (await thread(client, token, order["id"]))[-4:] == [
        f"purchase order {number}: refund requested; reason: Broken",
        f"purchase order {number}: refund refused, back to delivered",
        f"purchase order {number}: refund requested; reason: Still broken",
        f"purchase order {number} refunded",
    ]
    await mailed(smtp, f"Your order #{order['id']} was refunded: {order['title']}")
    # Refunded is final.
    assert_fail(
        await post(client, admin, "/api/admin/order/refund", order_id=number, approve=True),
        msg="no refund was requested for this order",
    )


async def test_a_refund_asked_when_paid_goes_back_to_paid(client):
    admin = await make_admin(client)
    token, _ = await register(client)
    _, purchase = await accepted_order(client, admin, token)
    number = purchase["order_id"]
    assert_ok(await post(client, admin, "/api/admin/order/paid", order_id=number))
    assert_ok(
        await post(client, token, "/api/order/refund", order_id=number, reason="Changed my mind")
    )
    back = assert_ok(
        await post(client, admin, "/api/admin/order/refund", order_id=number, approve=False)
    )
    assert back["status"] == 1


async def test_cancel_and_close_end_an_unpaid_order(client):
    admin = await make_admin(client)
    token, _ = await register(client)
    order, purchase = await accepted_order(client, admin, token)
    cancelled = assert_ok(
        await post(client, token, "/api/order/cancel", order_id=purchase["order_id"])
    )
    assert cancelled["status"] == -1
    other, second = await accepted_order(client, admin, token)
    closed = assert_ok(
        await post(
            client,
            admin,
            "/api/admin/order/close",
            order_id=second["order_id"],
            reason="No payment",
        )
    )
    assert closed["status"] == -1
    assert (await thread(client, token, other["id"]))[-1] == (
        f"purchase order {second['order_id']} closed by the merchant; reason: No payment"
    )
    assert (await thread(client, token, order["id"]))[-1] == (
        f"purchase order {purchase['order_id']} cancelled by the customer"
    )
    shown = await get(client, token, "/api/orders", status=-1)
    assert ([p["id"] for p in assert_ok(shown)], shown["total"]) == (
        [second["id"], purchase["id"]],
        2,
    )


# Every move, and the refusal it gets from each status it is not allowed in.
CUSTOMER_MOVES = {
    "/api/order/payment": (
        {"pay_way": "offline"},
        {0},
        "only an order awaiting payment can be paid",
    ),
    "/api/order/cancel": ({}, {0}, "only an order awaiting payment can be cancelled"),
    "/api/order/finish": ({}, {2}, "only a delivered order can be confirmed as received"),
    "/api/order/refund": (
        {"reason": "x"},
        {1, 2},
        "only a paid or delivered order can be refunded",
    ),
}
MERCHANT_MOVES = {
    "/api/admin/order/deliver": ({}, {1}, "only a paid order can be delivered"),
    "/api/admin/order/refund": ({"approve": True}, {8}, "no refund was requested for this order"),
    "/api/admin/order/close": ({}, {0}, "only an order awaiting payment can be closed"),
}
# How to bring a purchase order to each status: (who, path, body) in turn.
WAY_TO = {
    0: [],
    1: [("admin", "/api/admin/order/paid", {})],
    2: [("admin", "/api/admin/order/paid", {}), ("admin", "/api/admin/order/deliver", {})],
    3: [
        ("admin", "/api/admin/order/paid", {}),
        ("admin", "/api/admin/order/deliver", {}),
        ("customer", "/api/order/finish", {}),
    ],
    8: [("admin", "/api/admin/order/paid", {}), ("customer", "/api/order/refund", {"reason": "r"})],
    9: [
        ("admin", "/api/admin/order/paid", {}),
        ("customer", "/api/order/refund", {"reason": "r"}),
        ("admin", "/api/admin/order/refund", {"approve": True}),
    ],
    -1: [("customer", "/api/order/cancel", {})],
}


async def test_every_move_not_listed_is_refused_and_changes_nothing(client):
    admin = await make_admin(client)
    token, _ = await register(client)
    callers = {"admin": admin, "customer": token}
    for status, steps in WAY_TO.items():
        order, purchase = await accepted_order(client, admin, token)
        number = purchase["order_id"]
        for who, path, extra in steps:
            assert_ok(await post(client, callers[who], path, order_id=number, **extra))
        before = assert_ok(await get(client, token, "/api/order/detail", order_id=number))
        assert before["status"] == status
        messages = await thread(client, token, order["id"])
        moves = [(token, CUSTOMER_MOVES), (admin, MERCHANT_MOVES)]
        for caller, table in moves:
            for path, (extra, sources, refusal) in table.items():
                if status in sources:
                    continue
                answer = await post(client, caller, path, order_id=number, **extra)
                assert_fail(answer, msg=refusal)
        if status not in (0,):
            # Paid before, or never: an order not awaiting payment cannot be marked paid
            # (one paid before answers as paid with the reference "" it was paid with).
            answer = await post(client, admin, "/api/admin/order/paid", order_id=number)
            if before["paid_time"]:
                assert assert_ok(answer) == before
            else:
                assert_fail(answer, msg="only an order awaiting payment can be marked paid")
        assert assert_ok(await get(client, token, "/api/order/detail", order_id=number)) == before
        assert await thread(client, token, order["id"]) == messages


async def test_the_lists_filter_and_page(client):
    admin = await make_admin(client)
    alice, a = await register(client, "alice")
    bob, b = await register(client, "bob")
    made = [(await accepted_order(client, admin, alice))[1] for _ in range(3)]
    _, bobs = await accepted_order(client, admin, bob)
    assert_ok(await post(client, admin, "/api/admin/order/paid", order_id=made[0]["order_id"]))
    page = await get(client, alice, "/api/orders", current=1, pageSize=2)
    assert ([p["id"] for p in assert_ok(page)], page["total"]) == (
        [made[2]["id"], made[1]["id"]],
        3,
    )
    page = await get(client, alice, "/api/orders", current=2, page_size=2)
    assert [p["id"] for p in assert_ok(page)] == [made[0]["id"]]
    paid = await get(client, alice, "/api/orders", status=1)
    assert ([p["id"] for p in assert_ok(paid)], paid["total"]) == ([made[0]["id"]], 1)
    every = await get(client, admin, "/api/admin/orders")
    assert every["total"] == 4 and assert_ok(every)[0]["id"] == bobs["id"]
    just_bob = await get(client, admin, "/api/admin/orders", user_id=b["id"], status=0)
    assert [p["id"] for p in assert_ok(just_bob)] == [bobs["id"]]
    assert_fail(
        await get(client, alice, "/api/orders", status=4),
        msg="status must be one of -1, 0, 1, 2, 3, 8, 9, "
        "waiting, paid, delivery, finished, refunding, refunded, closed",
    )
    assert a["id"] != b["id"]


async def test_staff_move_purchase_orders_and_customers_cannot(client):
    admin = await make_admin(client)
    staff, _ = await make_staff(client, admin)
    token, _ = await register(client)
    _, purchase = await accepted_order(client, admin, token)
    number = purchase["order_id"]
    assert_fail(await post(client, token, "/api/admin/order/paid", order_id=number), code=1002)
    assert_fail(await get(client, token, "/api/admin/orders"), code=1002)
    assert (
        assert_ok(await post(client, staff, "/api/admin/order/paid", order_id=number))["status"]
        == 1
    )


async def test_every_change_is_an_event_for_both_sides_and_a_webhook_delivery(client):
    admin = await make_admin(client)
    token, _ = await register(client)
    receiver = Receiver().start()
    hook = {"url": receiver.url, "events": ["purchase_order.updated"]}
    assert_ok(await call(client, "POST", "/api/admin/webhooks", token=admin, json=hook))
    customer = await open_stream(client, token)
    merchant = await open_stream(client, admin)
    order, purchase = await accepted_order(client, admin, token)
    paid = assert_ok(
        await post(client, admin, "/api/admin/order/paid", order_id=purchase["order_id"])
    )
    for stream in (customer, merchant):
        seen = []
        while len([e for e in seen if e["event"] == "purchase_order.updated"]) < 2:
            seen.append(await stream.next())
        updates = [e["data"] for e in seen if e["event"] == "purchase_order.updated"]
        assert updates == [purchase, paid]
        # The update comes with its message in the thread.
        note = await stream.next()
        assert note is not None and note["event"] == "message.created"
        assert (note["data"]["sender_type"], note["data"]["comm_order_id"]) == (
            "system",
            order["id"],
        )
        stream.close()
    try:
        bodies = await eventually(
            lambda: len(receiver.got()) >= 2 and [orjson.loads(r.body) for r in receiver.got()]
        )
    finally:
        receiver.stop()
    assert [(b["type"], b["data"]) for b in bodies] == [
        ("purchase_order.updated", purchase),
        ("purchase_order.updated", paid),
    ]


@pytest.mark.parametrize("round_", range(3))
async def test_a_paid_callback_racing_the_customers_cancel_has_one_winner(client, round_):
    """20 racers on one purchase order: 10 payment-provider callbacks (the same
    reference) and 10 cancels by the customer. The database decides: either it is paid
    (every callback answers 0, every cancel is refused) or cancelled (one cancel wins,
    every other call is refused); one message in the thread tells which."""
    admin = await make_admin(client)
    token, _ = await register(client)
    order, purchase = await accepted_order(client, admin, token)
    number = purchase["order_id"]
    messages = await thread(client, token, order["id"])
    paid = {"order_id": number, "payment_reference": f"psp-{round_}"}

    async def callback():
        return await call(client, "POST", "/api/admin/order/paid", token=admin, json=paid)

    async def cancel():
        return await post(client, token, "/api/order/cancel", order_id=number)

    racers = [callback() if n % 2 else cancel() for n in range(20)]
    answers = await asyncio.gather(*racers)
    callbacks, cancels = answers[1::2], answers[0::2]
    final = assert_ok(await get(client, token, "/api/order/detail", order_id=number))
    added = (await thread(client, token, order["id"]))[len(messages) :]
    if final["status"] == 1:
        assert all(a["code"] == 0 and a["data"] == final for a in callbacks)
        assert {a["msg"] for a in cancels} == {"only an order awaiting payment can be cancelled"}
        assert added == [f"purchase order {number} paid: offline, reference psp-{round_}"]
    else:
        assert final["status"] == -1 and final["paid_time"] == 0
        assert [a["code"] for a in cancels].count(0) == 1
        assert {a["msg"] for a in callbacks} == {
            "only an order awaiting payment can be marked paid"
        }
        assert added == [f"purchase order {number} cancelled by the customer"]
    updates = await query_rows(
        _db(client), "SELECT count(*) FROM events WHERE type = 'purchase_order.updated'"
    )
    assert updates == [(2,)]  # made, then the one winner


NEVER_BACK = {
    False: [
        """CREATE TRIGGER latest_never_back BEFORE UPDATE OF last_message_id ON comm_orders
           WHEN NEW.last_message_id < OLD.last_message_id
           BEGIN SELECT RAISE(ABORT, 'the latest message moved back'); END"""
    ],
    True: [
        """CREATE FUNCTION latest_never_back() RETURNS trigger AS $$
           BEGIN
               IF NEW.last_message_id < OLD.last_message_id THEN
                   RAISE EXCEPTION 'the latest message moved back';
               END IF;
               RETURN NEW;
           END $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER latest_never_back BEFORE UPDATE ON comm_orders
           FOR EACH ROW EXECUTE FUNCTION latest_never_back()""",
    ],
}


async def test_moves_racing_messages_keep_the_latest_message_the_latest(client):
    """A move's system message and the two sides' messages written at once: the order's
    latest message (last_message, the inbox's activity) is always the newest one. A
    trigger fails any write that would move it back to an older message."""
    for sql in NEVER_BACK[_db(client).startswith("postgresql://")]:
        await query_rows(_db(client), sql)
    admin = await make_admin(client)
    token, _ = await register(client)
    order, purchase = await accepted_order(client, admin, token)
    number = purchase["order_id"]
    assert_ok(await post(client, admin, "/api/admin/order/paid", order_id=number))

    async def talk(who: str, path: str) -> None:
        for n in range(8):
            body = {"comm_order_id": order["id"], "message_type": "text", "content": f"{n}"}
            assert_ok(await call(client, "POST", path, token=who, json=body))

    async def move() -> None:
        for _ in range(4):
            asked = await post(client, token, "/api/order/refund", order_id=number, reason="r")
            assert_ok(asked)
            body = {"order_id": number, "approve": False}
            assert_ok(await call(client, "POST", "/api/admin/order/refund", token=admin, json=body))

    for _ in range(5):
        await asyncio.gather(
            talk(token, "/api/communication/message/send"),
            talk(admin, "/api/admin/communication/message/send"),
            move(),
        )
        newest = await query_rows(
            _db(client), "SELECT max(id) FROM messages WHERE comm_order_id = ?", order["id"]
        )
        for path, who in (
            ("/api/communication/order/detail", token),
            ("/api/admin/communication/order/detail", admin),
        ):
            shown = assert_ok(await get(client, who, path, id=order["id"]))
            assert shown["last_message"]["id"] == newest[0][0]
