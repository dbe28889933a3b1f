"""The merchant side: the negotiation, admin endpoints, field definitions."""

import pytest
from orderdesk.routes import ROUTES

from tests.conftest import (
    PASSWORD,
    admin_detail,
    assert_fail,
    assert_ok,
    call,
    detail,
    make_admin,
    make_order,
    quote,
    register,
    update,
)
from tests.live import run_cli

ADMIN_SEND = "/api/admin/communication/message/send"
QUOTE = "/api/admin/communication/order/quote"
STATUS = "/api/admin/communication/order/status"
IMAGES = "/api/admin/communication/order/images"
FIELDS = "/api/admin/communication/fields"


async def admin_says(client, admin, order_id, content="Hello, let us talk"):
    body = {"comm_order_id": order_id, "message_type": "text", "content": content}
    return await call(client, "POST", ADMIN_SEND, token=admin, json=body)


async def customer_action(client, token, action, order_id, **extra):
    return await call(
        client,
        "POST",
        f"/api/communication/order/{action}",
        token=token,
        json={"id": order_id, **extra},
    )


async def test_the_whole_negotiation(client, config):
    customer, user = await register(client)
    admin = await make_admin(client)
    order = await make_order(client, customer)

    message = assert_ok(await admin_says(client, admin, order["id"]))
    assert (message["sender_type"], message["sender_name"]) == ("admin", "merchant")
    talking = await detail(client, customer, order["id"])
    assert talking["status"] == 1 and talking["admin_id"] == message["sender_id"]
    assert talking["version"] == 2

    quoted = await quote(client, admin, order["id"], price="12000")
    assert (quoted["status"], quoted["quote_price"]) == (2, "12000.00")
    assert quoted["admin_id"] == message["sender_id"]

    edited = assert_ok(await update(client, customer, id=order["id"], title="Bigger theme"))
    assert edited["status"] == 1
    assert_fail(
        await customer_action(client, customer, "accept", order["id"]),
        msg="only a quoted order can be accepted",
    )

    requoted = await quote(client, admin, order["id"], price=15000.5)
    assert (requoted["status"], requoted["quote_price"]) == (2, "15000.50")
    accepted = assert_ok(await customer_action(client, customer, "accept", order["id"]))
    assert accepted["status"] == 3 and accepted["order_id"] > 0

    # Messages stay open for fulfilment; fields and status are final.
    assert_ok(await admin_says(client, admin, order["id"], "Work starts Monday"))
    assert_fail(
        await update(client, customer, id=order["id"], title="x"),
        msg="order can no longer be modified",
    )
    assert_fail(
        await call(client, "POST", STATUS, token=admin, json={"id": order["id"], "status": -1}),
        msg="order can no longer be modified",
    )

    thread = (await admin_detail(client, admin, order["id"]))["messages"]
    assert [(m["sender_type"], m["message_type"]) for m in thread] == [
        ("admin", "text"),
        ("admin", "quote"),
        ("system", "text"),
        ("admin", "quote"),
        ("system", "text"),
        ("admin", "text"),
    ]
    assert thread[1]["content"] == "quote: 12000.00\nTwo weeks, two revisions"
    assert thread[2]["content"] == "order updated: title"
    assert (await detail(client, customer, order["id"]))["user"]["id"] == user["id"]


async def test_admin_message_moves_only_a_pending_order(client):
    customer, _ = await register(client)
    admin = await make_admin(client)
    order = await make_order(client, customer)
    await quote(client, admin, order["id"])
    assert_ok(await admin_says(client, admin, order["id"]))
    shown = await detail(client, customer, order["id"])
    assert shown["status"] == 2 and shown["version"] == 2


QUOTE_PRICES = [
    ("12000", "12000.00"),
    ("0.5", "0.50"),
    (" 7.25 ", "7.25"),
    (99, "99.00"),
    (12.5, "12.50"),
    ("999999999.99", "999999999.99"),
]


@pytest.mark.parametrize("price, stored", QUOTE_PRICES)
async def test_quote_prices_are_stored_with_two_decimals(client, price, stored):
    customer, _ = await register(client)
    admin = await make_admin(client)
    order = await make_order(client, customer)
    assert (await quote(client, admin, order["id"], price=price))["quote_price"] == stored


BAD_PRICE = "quote_price must be a number greater than 0 with at most 2 decimals"
BAD_QUOTES = [
    ({"quote_price": None}, "quote_price is required"),
    ({"quote_price": "0"}, "quote_price must be greater than 0 and at most 999999999.99"),
    ({"quote_price": 0}, "quote_price must be greater than 0 and at most 999999999.99"),
    ({"quote_price": "1000000000"}, "quote_price must be greater than 0 and at most 999999999.99"),
    ({"quote_price": "1.234"}, BAD_PRICE),
    ({"quote_price": 1.234}, BAD_PRICE),
    ({"quote_price": "1e3"}, BAD_PRICE),
    ({"quote_price": 1e20}, BAD_PRICE),
    ({"quote_price": "-5"}, BAD_PRICE),
    ({"quote_price": "12."}, BAD_PRICE),
    ({"quote_price": ""}, BAD_PRICE),
    ({"quote_price": True}, BAD_PRICE),
    ({"quote_price": "1,000"}, BAD_PRICE),
    ({"quote_content": None}, "quote_content is required"),
    ({"quote_content": " "}, "quote_content must not be empty"),
    ({"quote_content": "x" * 10001}, "quote_content must be 1-10000 characters"),
]


@pytest.mark.parametrize("override, message", BAD_QUOTES)
async def test_bad_quotes_are_refused_and_change_nothing(client, override, message):
    customer, _ = await register(client)
    admin = await make_admin(client)
    order = await make_order(client, customer)
    body = {"id": order["id"], "quote_price": "100", "quote_content": "ok", **override}
    assert_fail(await call(client, "POST", QUOTE, token=admin, json=body), msg=message)
    shown = await detail(client, customer, order["id"])
    assert (shown["status"], shown["version"], shown["messages_total"]) == (0, 1, 0)


async def test_quotes_are_refused_on_final_orders(client):
    customer, _ = await register(client)
    admin = await make_admin(client)
    order = await make_order(client, customer)
    await customer_action(client, customer, "cancel", order["id"])
    body = {"id": order["id"], "quote_price": "100", "quote_content": "ok"}
    assert_fail(
        await call(client, "POST", QUOTE, token=admin, json=body),
        msg="this order can no longer be quoted",
    )


async def test_status_moves_by_the_merchant(client):
    customer, _ = await register(client)
    admin = await make_admin(client)
    order = await make_order(client, customer)
    moved = assert_ok(
        await call(client, "POST", STATUS, token=admin, json={"id": order["id"], "status": 1})
    )
    assert moved["status"] == 1 and moved["version"] == 2 and moved["admin_id"] > 0
    for bad in (2, 3, 0, "1", 1.0, True, None):
        body = await call(
            client, "POST", STATUS, token=admin, json={"id": order["id"], "status": bad}
        )
        assert_fail(body, msg="status must be 1 or -1")
    cancelled = assert_ok(
        await call(client, "POST", STATUS, token=admin, json={"id": order["id"], "status": -1})
    )
    assert cancelled["status"] == -1
    thread = (await admin_detail(client, admin, order["id"]))["messages"]
    assert [m["content"] for m in thread] == [
        "status changed by merchant: pending → in communication",
        "status changed by merchant: in communication → cancelled",
    ]


async def test_images_by_the_merchant(client):
    customer, _ = await register(client)
    admin = await make_admin(client)
    order = await make_order(client, customer)
    body = {"id": order["id"], "sketch_images": ["https://x.test/s1.png"]}
    changed = assert_ok(await call(client, "POST", IMAGES, token=admin, json=body))
    assert (
        changed["sketch_images"] == ["https://x.test/s1.png"] and changed["finished_images"] == []
    )
    assert changed["version"] == 2
    bad = {"id": order["id"], "finished_images": ["x"] * 21}
    assert_fail(
        await call(client, "POST", IMAGES, token=admin, json=bad),
        msg="finished_images may hold at most 20 items",
    )
    await customer_action(client, customer, "cancel", order["id"])
    final = {"id": order["id"], "finished_images": ["https://x.test/f.png"]}
    assert_fail(
        await call(client, "POST", IMAGES, token=admin, json=final),
        msg="order can no longer be modified",
    )
    shown = await detail(client, customer, order["id"])
    assert shown["finished_images"] == [] and shown["messages"][0]["content"] == (
        "images updated: sketch_images"
    )


async def test_admin_lists_every_order_with_filters(client):
    alice, alice_user = await register(client, "alice")
    bob, _ = await register(client, "bob")
    admin = await make_admin(client)
    a1 = await make_order(client, alice, title="Blue 100% cotton shirt")
    a2 = await make_order(client, alice, title="Logo", content="vector_art please")
    b1 = await make_order(client, bob, title="Website")
    await quote(client, admin, b1["id"])
    path = "/api/admin/communication/orders"

    async def ids(**params):
        body = await call(client, "GET", path, token=admin, params=params)
        assert body["total"] == len(body["data"])
        return [o["id"] for o in body["data"]]

    assert await ids() == [b1["id"], a2["id"], a1["id"]]
    assert await ids(user_id=alice_user["id"]) == [a2["id"], a1["id"]]
    assert await ids(status=2) == [b1["id"]]
    assert await ids(q="100%") == [a1["id"]]
    assert await ids(q="vector_art") == [a2["id"]]
    assert await ids(q="_") == [a2["id"]]
    assert await ids(q="") == [b1["id"], a2["id"], a1["id"]]
    assert_fail(
        await call(client, "GET", path, token=admin, params={"user_id": "x"}),
        msg="user_id must be a positive integer",
    )


async def test_admin_thread_and_detail_reach_any_order(client):
    customer, _ = await register(client)
    admin = await make_admin(client)
    order = await make_order(client, customer)
    await admin_says(client, admin, order["id"])
    thread = await call(
        client,
        "GET",
        "/api/admin/communication/messages",
        token=admin,
        params={"comm_order_id": order["id"]},
    )
    assert thread["total"] == 1
    assert (await admin_detail(client, admin, order["id"]))["id"] == order["id"]
    missing = await call(
        client, "GET", "/api/admin/communication/order/detail", token=admin, params={"id": 999}
    )
    assert_fail(missing, msg="order not found")


ADMIN_ROUTES = [(m, p) for m, p, _, access in ROUTES if access.merchant]


@pytest.mark.parametrize("method, path", ADMIN_ROUTES)
async def test_every_admin_route_with_each_kind_of_caller(client, method, path):
    customer, _ = await register(client)
    admin = await make_admin(client)
    assert_fail(await call(client, method, path), code=1001)
    assert_fail(await call(client, method, path, token=customer), code=1002)
    assert (await call(client, method, path, token=admin))["code"] in (0, -1)


# ---------------------------------------------------------------- field definitions

DEFINITIONS = [
    {"field_name": "budget", "name": "Budget", "type": "number", "required": True},
    {"field_name": "size", "name": "Size", "type": "select", "options": ["S", "M", "L"]},
    {"field_name": "finish", "type": "radio", "options": ["matte", "gloss"]},
    {"field_name": "extras", "type": "checkbox", "options": ["gift", "rush"]},
    {"field_name": "due", "type": "date"},
    {"field_name": "notes", "type": "textarea", "required": True},
    {"field_name": "nick", "type": "text"},
]


async def define_fields(client, admin, fields=DEFINITIONS):
    return await call(client, "POST", FIELDS, token=admin, json={"fields": fields})


async def test_field_definitions_replace_and_read(client):
    admin = await make_admin(client)
    saved = assert_ok(await define_fields(client, admin))
    assert saved[0] == {
        "field_name": "budget", "name": "Budget", "type": "number", "required": True, "options": [],
    }  # fmt: skip
    assert saved[2]["name"] == "finish" and saved[2]["required"] is False
    assert assert_ok(await call(client, "GET", "/api/communication/fields")) == saved
    assert assert_ok(await call(client, "GET", FIELDS, token=admin)) == saved
    assert_ok(await define_fields(client, admin, []))
    assert assert_ok(await call(client, "GET", "/api/communication/fields")) == []


@pytest.mark.parametrize(
    "fields, message",
    [
        (None, "fields must be a list of field definitions"),
        ([1], "fields[0] must be an object"),
        ([{"type": "text"}], "field_name is required"),
        (
            [{"field_name": "a", "type": "color"}],
            "fields[0].type must be one of checkbox, date, number, radio, select, text, textarea",
        ),
        (
            [{"field_name": "a", "type": "text"}, {"field_name": "a", "type": "date"}],
            "fields[1].field_name 'a' is used twice",
        ),
        (
            [{"field_name": "a", "type": "select"}],
            "fields[0].options must be a non-empty list of strings for select",
        ),
        (
            [{"field_name": "a", "type": "radio", "options": ["x", "x"]}],
            "fields[0].options must be distinct",
        ),
        (
            [{"field_name": "a", "type": "text", "required": "yes"}],
            "fields[0].required must be true or false",
        ),
    ],
)
async def test_bad_field_definitions_are_refused(client, fields, message):
    admin = await make_admin(client)
    assert_ok(await define_fields(client, admin, DEFINITIONS[:1]))
    assert_fail(await define_fields(client, admin, fields), msg=message)
    assert len(assert_ok(await call(client, "GET", FIELDS, token=admin))) == 1


GOOD_EXTRA = {
    "budget": 5000,
    "size": "M",
    "finish": "gloss",
    "extras": ["gift", "rush"],
    "due": "2024-02-29",
    "notes": "please hurry",
    "free_form": {"anything": [1, 2]},
}


async def test_order_extra_is_checked_against_the_definitions(client):
    customer, _ = await register(client)
    admin = await make_admin(client)
    await define_fields(client, admin)
    order = await make_order(client, customer, order_extra=GOOD_EXTRA)
    shown = await detail(client, customer, order["id"])
    assert [(f["field_name"], f["value"]) for f in shown["order_fields"]] == [
        ("budget", 5000), ("size", "M"), ("finish", "gloss"), ("extras", ["gift", "rush"]),
        ("due", "2024-02-29"), ("notes", "please hurry"), ("nick", None),
    ]  # fmt: skip


BAD_EXTRA = [
    ({"budget": None}, "order_extra.budget is required"),
    ({"notes": "   "}, "order_extra.notes is required"),
    ({"budget": "5000"}, "order_extra.budget must be a number"),
    ({"budget": True}, "order_extra.budget must be a number"),
    ({"size": "XL"}, "order_extra.size must be one of the field's options"),
    ({"finish": 1}, "order_extra.finish must be a string"),
    ({"extras": "gift"}, "order_extra.extras must be a list of the field's options"),
    (
        {"extras": ["gift", "gift"]},
        "order_extra.extras must be a list of distinct options of the field",
    ),
    ({"extras": ["cake"]}, "order_extra.extras must be a list of distinct options of the field"),
    ({"due": "2023-02-29"}, "order_extra.due must be a date as YYYY-MM-DD"),
    ({"due": "2023-2-1"}, "order_extra.due must be a date as YYYY-MM-DD"),
    ({"nick": ["x"]}, "order_extra.nick must be a string"),
]


@pytest.mark.parametrize("override, message", BAD_EXTRA)
async def test_bad_values_for_defined_fields_on_create(client, override, message):
    customer, _ = await register(client)
    admin = await make_admin(client)
    await define_fields(client, admin)
    extra = {k: v for k, v in {**GOOD_EXTRA, **override}.items() if v is not None}
    body = await call(
        client,
        "POST",
        "/api/communication/order/create",
        token=customer,
        json={
            "archive_id": 1,
            "title": "t",
            "content": "c",
            "phone": "12345",
            "order_extra": extra,
        },
    )
    assert_fail(body, msg=message)


@pytest.mark.parametrize(
    "patch, message",
    [
        ({"budget": None}, "order_extra.budget is required"),
        ({"notes": ""}, "order_extra.notes is required"),
        ({"extras": []}, None),  # not required: may be emptied
        ({"size": "XS"}, "order_extra.size must be one of the field's options"),
        ({"due": None, "nick": "bo"}, None),  # optional fields may be removed
    ],
)
async def test_update_keeps_required_fields_and_checks_types(client, patch, message):
    customer, _ = await register(client)
    admin = await make_admin(client)
    await define_fields(client, admin)
    order = await make_order(client, customer, order_extra=GOOD_EXTRA)
    body = await update(client, customer, id=order["id"], order_extra=patch)
    if message is None:
        assert_ok(body)
    else:
        assert_fail(body, msg=message)
        assert (await detail(client, customer, order["id"]))["order_extra"] == GOOD_EXTRA


# ---------------------------------------------------------------- create-admin


async def test_create_admin_creates_and_promotes(tmp_path, aiohttp_client):
    from aiohttp import DummyCookieJar
    from orderdesk.app import create_app
    from orderdesk.config import Config

    db = str(tmp_path / "cli.db")
    created = run_cli("create-admin", "--db", db, "--username", "boss", "--password", PASSWORD)
    assert created.returncode == 0, created.stderr
    client = await aiohttp_client(create_app(Config(db=db)), cookie_jar=DummyCookieJar())
    token, _ = await register(client, "clerk")
    login = await call(
        client, "POST", "/api/login", json={"user_name": "boss", "password": PASSWORD}
    )
    assert assert_ok(login)["role"] == "admin"

    promoted = run_cli(
        "create-admin",
        "--db",
        db,
        "--username",
        "CLERK",
        "--password-stdin",
        stdin="new password 1\n",
    )
    assert promoted.returncode == 0, promoted.stderr
    login = await call(
        client, "POST", "/api/login", json={"user_name": "clerk", "password": "new password 1"}
    )
    assert (assert_ok(login)["role"], assert_ok(login)["user_name"]) == ("admin", "clerk")
    assert_fail(
        await call(client, "POST", "/api/login", json={"user_name": "clerk", "password": PASSWORD})
    )


def test_create_admin_refuses_a_short_password(tmp_path):
    result = run_cli(
        "create-admin", "--db", str(tmp_path / "x.db"), "--username", "boss", "--password", "short"
    )
    assert result.returncode == 2 and "password must be 8-128 characters" in result.stderr


async def test_replaced_definitions_apply_at_once(client):
    customer, _ = await register(client)
    admin = await make_admin(client)
    order = await make_order(client, customer)
    assert_ok(await update(client, customer, id=order["id"], order_extra={"budget": "cheap"}))
    await define_fields(client, admin)
    assert_fail(
        await update(client, customer, id=order["id"], order_extra={"budget": "cheap"}),
        msg="order_extra.budget must be a number",
    )
    await define_fields(client, admin, [])
    assert_ok(await update(client, customer, id=order["id"], order_extra={"budget": "free"}))


# A JSON number is judged by its text as sent ("no exponent", "≤ 2 decimals"),
# which orjson's parsed value no longer shows: 1e3 would be 1000.0, 100.000 just 100.0.
RAW_PRICES = [
    ("1e3", BAD_PRICE),
    ("1E2", BAD_PRICE),
    ("0.1e1", BAD_PRICE),
    ("100.000", BAD_PRICE),
    ("100", None),
    ("100.5", None),
    ("0.01", None),
]


@pytest.mark.parametrize("literal, message", RAW_PRICES)
async def test_a_price_sent_as_a_json_number_is_judged_by_its_text(client, literal, message):
    customer, _ = await register(client)
    admin = await make_admin(client)
    order = await make_order(client, customer)
    raw = f'{{"id": {order["id"]}, "quote_price": {literal}, "quote_content": "ok"}}'
    body = await call(
        client, "POST", QUOTE, token=admin, data=raw.encode(),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    if message is None:
        assert assert_ok(body)["quote_price"] == f"{float(literal):.2f}"
        accept = f'{{"id": {order["id"]}, "quote_price": {literal}}}'
        accepted = await call(
            client, "POST", "/api/communication/order/accept", token=customer,
            data=accept.encode(), headers={"Content-Type": "application/json"},
        )  # fmt: skip
        assert assert_ok(accepted)["status"] == 3
    else:
        assert_fail(body, msg=message)
        assert (await detail(client, customer, order["id"]))["version"] == 1
