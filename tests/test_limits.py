"""Every limit of the spec: accepted at the limit, refused just past it, nothing changed."""

import pytest

from tests.conftest import (
    ORDER,
    PASSWORD,
    assert_fail,
    assert_ok,
    call,
    detail,
    make_admin,
    make_order,
    nested,
    register,
)


def extra_of_size(total_bytes: int) -> dict:
    """An order_extra whose compact JSON is exactly `total_bytes` long."""
    return {"big": "x" * (total_bytes - len('{"big":""}'))}


IMAGE = "https://x.test/a.png"


def url_of_length(length: int) -> str:
    return "https://x.test/" + "u" * (length - len("https://x.test/"))


# (field, value at the limit, value just past it, message past it)
ORDER_LIMITS = [
    ("title", "t" * 250, "t" * 251, "title must be 1-250 characters"),
    ("content", "c" * 20000, "c" * 20001, "content must be 1-20000 characters"),
    ("phone", "1" * 32, "1" * 33, "phone must be 5-32 characters"),
    ("phone", "12345", "1234", "phone must be 5-32 characters"),
    ("images", [IMAGE] * 20, [IMAGE] * 21, "images may hold at most 20 items"),
    (
        "images",
        [url_of_length(1000)],
        [url_of_length(1001)],
        "each of images must be 1-1000 characters",
    ),
    ("event_date", "e" * 64, "e" * 65, "event_date must be at most 64 characters"),
    (
        "order_extra",
        {f"k{i}": i for i in range(100)},
        {f"k{i}": i for i in range(101)},
        "order_extra may have at most 100 keys",
    ),
    ("order_extra", {"k" * 64: 1}, {"k" * 65: 1}, "order_extra keys must be 1-64 characters"),
    ("order_extra", nested(4), nested(5), "order_extra may nest at most 4 levels"),
    ("order_extra", {"a": [[[1]]]}, {"a": [[[[1]]]]}, "order_extra may nest at most 4 levels"),
    (
        "order_extra",
        extra_of_size(16384),
        extra_of_size(16385),
        "order_extra must be at most 16384 bytes as JSON",
    ),
]


@pytest.mark.parametrize("field, at_limit, past_limit, message", ORDER_LIMITS)
async def test_order_limits_on_create_and_update(client, field, at_limit, past_limit, message):
    token, _ = await register(client)
    created = await make_order(client, token, **{field: at_limit})
    assert created[field] == at_limit
    path = "/api/communication/order/create"
    assert_fail(
        await call(client, "POST", path, token=token, json={**ORDER, field: past_limit}),
        msg=message,
    )
    order = await make_order(client, token)
    before = await detail(client, token, order["id"])
    body = await call(
        client,
        "POST",
        "/api/communication/order/update",
        token=token,
        json={"id": order["id"], field: past_limit},
    )
    assert_fail(body, msg=message)
    assert await detail(client, token, order["id"]) == before
    listed = await call(client, "GET", "/api/communication/orders", token=token)
    assert listed["total"] == 2


@pytest.mark.parametrize(
    "field, at_limit, past_limit, message",
    [
        ("user_name", "u" * 64, "u" * 65, "user_name must be 2-64 characters"),
        ("user_name", "uu", "u", "user_name must be 2-64 characters"),
        ("password", "p" * 128, "p" * 129, "password must be 8-128 characters"),
        ("password", "p" * 8, "p" * 7, "password must be 8-128 characters"),
        (
            "email",
            "a@" + "x" * 247 + ".test",
            "a@" + "x" * 248 + ".test",
            "email must be at most 254 characters",
        ),
    ],
)
async def test_account_limits(client, field, at_limit, past_limit, message):
    base = {"user_name": "someone", "password": PASSWORD}
    assert_ok(await call(client, "POST", "/api/register", json={**base, field: at_limit}))
    other = {"user_name": "another", "password": PASSWORD, field: past_limit}
    assert_fail(await call(client, "POST", "/api/register", json=other), msg=message)


@pytest.mark.parametrize(
    "path, field, low, high",
    [
        ("/api/communication/message/send", "content", 1, 10000),
        ("/api/admin/communication/message/send", "content", 1, 10000),
    ],
)
async def test_message_limits(client, path, field, low, high):
    token, _ = await register(client)
    admin = await make_admin(client)
    order = await make_order(client, token)
    caller = admin if "admin" in path else token
    body = {"comm_order_id": order["id"], "message_type": "text"}
    assert_ok(await call(client, "POST", path, token=caller, json={**body, field: "m" * high}))
    assert_fail(
        await call(client, "POST", path, token=caller, json={**body, field: "m" * (high + 1)}),
        msg=f"{field} must be {low}-{high} characters",
    )
    assert (await detail(client, token, order["id"]))["messages_total"] == 1


async def test_notes_quote_content_and_quote_price_limits(client):
    token, _ = await register(client)
    admin = await make_admin(client)
    order = await make_order(client, token)
    quote_path = "/api/admin/communication/order/quote"
    quote = {"id": order["id"], "quote_price": "999999999.99", "quote_content": "q" * 10000}
    assert_ok(await call(client, "POST", quote_path, token=admin, json=quote))
    too_much = {**quote, "quote_price": "1000000000.00"}
    assert_fail(await call(client, "POST", quote_path, token=admin, json=too_much))
    reject_path = "/api/communication/order/reject"
    too_long = {"id": order["id"], "reason": "r" * 1001}
    assert_fail(await call(client, "POST", reject_path, token=token, json=too_long))
    assert (await detail(client, token, order["id"]))["status"] == 2
    at_limit = {"id": order["id"], "reason": "r" * 1000}
    assert_ok(await call(client, "POST", reject_path, token=token, json=at_limit))


async def test_page_size_is_capped_at_one_hundred(client):
    token, _ = await register(client)
    for _ in range(101):
        await make_order(client, token)
    for size in ("100", "101", "5000"):
        body = await call(
            client, "GET", "/api/communication/orders", token=token, params={"page_size": size}
        )
        assert len(body["data"]) == 100 and body["total"] == 101
