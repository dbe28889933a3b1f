"""Customer order endpoints: create, list, detail, accept, reject, cancel, fields."""

import pytest
from orderdesk.keys import CONFIG

from tests.conftest import (
    ORDER,
    assert_fail,
    assert_ok,
    call,
    detail,
    make_admin,
    make_order,
    query_rows,
    quote,
    register,
)

CREATE = "/api/communication/order/create"
LIST = "/api/communication/orders"


async def count_orders(client, token: str) -> int:
    return (await call(client, "GET", LIST, token=token))["total"]


async def test_create_answers_the_new_pending_order(client):
    token, user = await register(client)
    order = await make_order(
        client,
        token,
        archive_id="12",
        title="  Theme  ",
        images=["https://x.test/ref.png"],
        event_date="before June",
        order_extra={"budget": "10000-20000"},
    )
    assert order["user_id"] == user["id"] and order["archive_id"] == 12
    assert order["title"] == "Theme"
    assert (order["status"], order["version"], order["order_id"], order["admin_id"]) == (0, 1, 0, 0)
    assert (order["quote_price"], order["quote_content"]) == ("", "")
    assert order["images"] == ["https://x.test/ref.png"]
    assert order["sketch_images"] == order["finished_images"] == []
    assert order["order_extra"] == {"budget": "10000-20000"}
    assert order["created_time"] == order["updated_time"]
    assert (await detail(client, token, order["id"]))["messages_total"] == 0


BAD_CREATES = [
    ({"archive_id": None}, "archive_id is required"),
    ({"archive_id": 0}, "archive_id must be a positive integer"),
    ({"archive_id": 1.5}, "archive_id must be a positive integer"),
    ({"title": None}, "title is required"),
    ({"title": ""}, "title must not be empty"),
    ({"title": "x" * 251}, "title must be 1-250 characters"),
    ({"content": None}, "content is required"),
    ({"content": 7}, "content must be a string"),
    ({"content": "x" * 20001}, "content must be 1-20000 characters"),
    ({"phone": None}, "phone is required"),
    ({"phone": "12"}, "phone must be 5-32 characters"),
    ({"phone": "1" * 33}, "phone must be 5-32 characters"),
    ({"phone": "call me"}, "phone may contain only digits, spaces and + - ( )"),
    ({"images": ["https://x.test/a.png", ""]}, "each of images must be 1-1000 characters"),
    ({"event_date": 20231231}, "event_date must be a string"),
    ({"order_extra": [1]}, "order_extra must be a JSON object"),
    ({"order_extra": {"a": {"b": {"c": {"d": {}}}}}}, "order_extra may nest at most 4 levels"),
]


@pytest.mark.parametrize("override, message", BAD_CREATES)
async def test_bad_creates_are_refused_and_create_nothing(client, override, message):
    token, _ = await register(client)
    body = await call(client, "POST", CREATE, token=token, json={**ORDER, **override})
    assert_fail(body, msg=message)
    assert await count_orders(client, token) == 0


async def test_create_needs_a_session(client):
    assert_fail(await call(client, "POST", CREATE, json=ORDER), code=1001)


async def test_list_is_the_callers_own_orders_newest_first_and_paginated(client):
    alice, _ = await register(client, "alice")
    bob, _ = await register(client, "bob")
    ids = [(await make_order(client, alice, title=f"order {i}"))["id"] for i in range(12)]
    await make_order(client, bob)

    first = await call(client, "GET", LIST, token=alice)
    assert first["total"] == 12
    assert [o["id"] for o in first["data"]] == ids[::-1][:10]
    second = await call(client, "GET", LIST, token=alice, params={"current": 2, "pageSize": 5})
    assert [o["id"] for o in second["data"]] == ids[::-1][5:10]
    beyond = await call(client, "GET", LIST, token=alice, params={"current": 9})
    assert beyond["data"] == [] and beyond["total"] == 12
    capped = await call(client, "GET", LIST, token=alice, params={"page_size": 1000})
    assert len(capped["data"]) == 12


async def test_list_filters_by_status(client):
    token, _ = await register(client)
    kept = await make_order(client, token)
    cancelled = await make_order(client, token)
    await call(
        client, "POST", "/api/communication/order/cancel", token=token, json={"id": cancelled["id"]}
    )
    pending = await call(client, "GET", LIST, token=token, params={"status": "0"})
    assert [o["id"] for o in pending["data"]] == [kept["id"]] and pending["total"] == 1
    gone = await call(client, "GET", LIST, token=token, params={"status": "-1"})
    assert [o["id"] for o in gone["data"]] == [cancelled["id"]]
    everything = await call(client, "GET", LIST, token=token, params={"status": ""})
    assert everything["total"] == 2


@pytest.mark.parametrize(
    "params, message",
    [
        ({"current": "0"}, "current must be a positive integer"),
        ({"current": "x"}, "current must be a positive integer"),
        ({"current": "1.5"}, "current must be a positive integer"),
        ({"page_size": "0"}, "page_size must be a positive integer"),
        ({"pageSize": "-3"}, "pageSize must be a positive integer"),
        # Blank is "no filter" for filters only: a page number or size sent blank, or
        # with a sign or spaces, is not an integer.
        ({"current": ""}, "current must be a positive integer"),
        ({"current": " 2"}, "current must be a positive integer"),
        ({"current": "+2"}, "current must be a positive integer"),
        ({"page_size": ""}, "page_size must be a positive integer"),
        ({"page_size": "", "pageSize": "5"}, "page_size must be a positive integer"),
        ({"pageSize": " "}, "pageSize must be a positive integer"),
        ({"status": "7"}, "status must be one of -1, 0, 1, 2, 3, 4"),
        ({"status": "pending"}, "status must be one of -1, 0, 1, 2, 3, 4"),
    ],
)
async def test_bad_list_parameters(client, params, message):
    token, _ = await register(client)
    assert_fail(await call(client, "GET", LIST, token=token, params=params), msg=message)


async def test_list_needs_a_session(client):
    assert_fail(await call(client, "GET", LIST), code=1001)


async def test_detail_carries_user_messages_and_fields(client):
    token, user = await register(client)
    order = await make_order(client, token)
    shown = await detail(client, token, order["id"])
    assert shown["user"] == {"id": user["id"], "user_name": "alice"}
    assert shown["order_fields"] == [] and shown["messages"] == []
    assert shown["messages_total"] == 0
    assert {k: v for k, v in shown.items() if k in order} == order


async def test_detail_shows_the_last_hundred_messages_oldest_first(client):
    token, _ = await register(client)
    order = await make_order(client, token)
    for i in range(105):
        await call(
            client,
            "POST",
            "/api/communication/message/send",
            token=token,
            json={"comm_order_id": order["id"], "message_type": "text", "content": f"m{i}"},
        )
    shown = await detail(client, token, order["id"])
    assert shown["messages_total"] == 105
    assert [m["content"] for m in shown["messages"]] == [f"m{i}" for i in range(5, 105)]


async def test_a_clock_stepping_back_does_not_hide_the_newest_message(client, db):
    """Threads sort by id: 100 messages written while the clock was an hour ahead, then
    one written after it stepped back, which must still be the last one shown."""
    token, _ = await register(client)
    order = await make_order(client, token)
    ahead = int(client.server.app[CONFIG].clock()) + 3600
    await query_rows(
        db,
        f"""WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
            INSERT INTO messages (comm_order_id, sender_id, sender_type, sender_name,
                                  message_type, content, created_time)
            SELECT {order["id"]}, 0, 'system', 'system', 'text', 'early ' || i, {ahead}
            FROM n""",
    )
    # (Written here directly, so their order's thread size is kept here too.)
    await query_rows(
        db, f"UPDATE comm_orders SET message_count = message_count + 100 WHERE id = {order['id']}"
    )
    await call(
        client,
        "POST",
        "/api/communication/message/send",
        token=token,
        json={"comm_order_id": order["id"], "message_type": "text", "content": "newest"},
    )
    shown = await detail(client, token, order["id"])
    assert shown["messages_total"] == 101
    assert shown["messages"][-1]["content"] == "newest"
    assert shown["messages"][-1]["created_time"] < shown["messages"][0]["created_time"]
    assert [m["content"] for m in shown["messages"][:-1]] == [f"early {i}" for i in range(2, 101)]
    last_page = await call(
        client,
        "GET",
        "/api/communication/messages",
        token=token,
        params={"comm_order_id": order["id"], "current": 11, "page_size": 10},
    )
    assert [m["content"] for m in assert_ok(last_page)] == ["newest"]


@pytest.mark.parametrize(
    "params, message",
    [
        ({}, "id is required"),
        ({"id": "abc"}, "id must be a positive integer"),
        ({"id": "-2"}, "id must be a positive integer"),
    ],
)
async def test_bad_detail_parameters(client, params, message):
    token, _ = await register(client)
    body = await call(client, "GET", "/api/communication/order/detail", token=token, params=params)
    assert_fail(body, msg=message)


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("GET", "/api/communication/order/detail", None),
        ("POST", "/api/communication/order/update", {"title": "x"}),
        ("POST", "/api/communication/order/accept", {}),
        ("POST", "/api/communication/order/reject", {}),
        ("POST", "/api/communication/order/cancel", {}),
        ("GET", "/api/communication/messages", None),
        ("POST", "/api/communication/message/send", {"message_type": "text", "content": "hi"}),
    ],
)
async def test_another_users_order_looks_missing(client, method, path, body):
    owner, _ = await register(client, "owner")
    intruder, _ = await register(client, "intruder")
    admin = await make_admin(client)
    order = await make_order(client, owner)
    await quote(client, admin, order["id"])
    before = await detail(client, owner, order["id"])
    id_field = "comm_order_id" if "message" in path else "id"

    async def attempt(order_id: int) -> dict:
        if method == "GET":
            return await call(client, method, path, token=intruder, params={id_field: order_id})
        return await call(client, method, path, token=intruder, json={**body, id_field: order_id})

    foreign, missing = await attempt(order["id"]), await attempt(order["id"] + 99)
    assert foreign == missing == {"code": -1, "msg": "order not found"}
    assert await detail(client, owner, order["id"]) == before
    assert_fail(await call(client, method, path), code=1001)


async def accept(client, token, order_id, **extra):
    return await call(
        client,
        "POST",
        "/api/communication/order/accept",
        token=token,
        json={"id": order_id, **extra},
    )


async def test_accept_creates_the_purchase_order(client, config):
    token, user = await register(client)
    admin = await make_admin(client)
    order = await make_order(client, token)
    await quote(client, admin, order["id"], price="12000.5")
    body = await accept(client, token, order["id"], remark="pay by transfer")
    assert body["msg"] == "quote accepted"
    accepted = assert_ok(body)
    assert accepted["status"] == 3 and accepted["order_id"] > 0
    assert accepted["quote_price"] == "12000.50"
    assert accepted["version"] == 3
    purchase = await query_rows(
        config.db,
        "SELECT user_id, comm_order_id, amount, status, remark FROM purchase_orders WHERE id = ?",
        accepted["order_id"],
    )
    assert purchase == [(user["id"], order["id"], 1200050, 0, "pay by transfer")]
    shown = await detail(client, token, order["id"])
    assert shown["order_id"] == accepted["order_id"]
    assert shown["messages"][-1]["content"] == "quote accepted; remark: pay by transfer"
    assert_fail(await accept(client, token, order["id"]), msg="only a quoted order can be accepted")


async def test_accept_and_reject_need_a_quote(client):
    token, _ = await register(client)
    order = await make_order(client, token)
    assert_fail(await accept(client, token, order["id"]), msg="only a quoted order can be accepted")
    body = await call(
        client, "POST", "/api/communication/order/reject", token=token, json={"id": order["id"]}
    )
    assert_fail(body, msg="only a quoted order can be rejected")
    assert (await detail(client, token, order["id"]))["version"] == 1


async def test_reject_then_requote_then_cancel(client):
    token, _ = await register(client)
    admin = await make_admin(client)
    order = await make_order(client, token)
    await quote(client, admin, order["id"])
    rejected = await call(
        client,
        "POST",
        "/api/communication/order/reject",
        token=token,
        json={"id": order["id"], "reason": "too expensive"},
    )
    assert assert_ok(rejected)["status"] == 4
    assert (await quote(client, admin, order["id"], price=9000))["status"] == 2
    cancelled = await call(
        client,
        "POST",
        "/api/communication/order/cancel",
        token=token,
        json={"id": order["id"], "reason": "found another shop"},
    )
    assert assert_ok(cancelled)["status"] == -1
    contents = [m["content"] for m in (await detail(client, token, order["id"]))["messages"]]
    assert contents[1] == "quote rejected; reason: too expensive"
    assert contents[-1] == "order cancelled; reason: found another shop"
    again = await call(
        client, "POST", "/api/communication/order/cancel", token=token, json={"id": order["id"]}
    )
    assert_fail(again, msg="this order can no longer be cancelled")


@pytest.mark.parametrize("action", ["accept", "reject", "cancel"])
async def test_bad_notes_are_refused(client, action):
    token, _ = await register(client)
    order = await make_order(client, token)
    note = "remark" if action == "accept" else "reason"
    body = await call(
        client,
        "POST",
        f"/api/communication/order/{action}",
        token=token,
        json={"id": order["id"], note: "x" * 1001},
    )
    assert_fail(body, msg=f"{note} must be at most 1000 characters")
    assert_fail(
        await call(client, "POST", f"/api/communication/order/{action}", token=token, json={}),
        msg="id is required",
    )
    assert (await detail(client, token, order["id"]))["version"] == 1


async def test_fields_are_public_and_empty_on_a_fresh_database(client):
    assert assert_ok(await call(client, "GET", "/api/communication/fields")) == []
