"""A customer accepts exactly the quote they saw (`version`, `quote_price`)."""

import pytest

from tests.conftest import (
    assert_ok,
    call,
    detail,
    make_admin,
    make_order,
    query_rows,
    quote,
    register,
)

ACCEPT = "/api/communication/order/accept"
QUOTE_CHANGED = "the quote has changed: check the current price before accepting"
PRICE_FORMAT = "quote_price must be a number greater than 0 with at most 2 decimals"
VERSION_CONFLICT = "version conflict: the order was changed by someone else"


async def quoted_twice(client):
    """Quote 1000, then re-quote 5000: what the customer saw first is stale."""
    token, _ = await register(client)
    admin = await make_admin(client)
    order = await make_order(client, token)
    first = await quote(client, admin, order["id"], "1000")
    second = await quote(client, admin, order["id"], "5000")
    return token, first, second


async def assert_nothing_accepted(client, db, token, order):
    shown = await detail(client, token, order["id"])
    assert (shown["status"], shown["version"], shown["order_id"]) == (2, order["version"], 0)
    assert shown["messages_total"] == 2  # the two quotes, no acceptance
    assert await query_rows(db, "SELECT COUNT(*) FROM purchase_orders") == [(0,)]


@pytest.mark.parametrize("seen", ["1000", "1000.00", 1000, 1000.0, "4999.99"])
async def test_a_changed_price_is_not_accepted(client, db, seen):
    token, _, current = await quoted_twice(client)
    body = await call(
        client, "POST", ACCEPT, token=token, json={"id": current["id"], "quote_price": seen}
    )
    assert body == {"code": -1, "msg": QUOTE_CHANGED, "data": {"quote_price": "5000.00"}}
    await assert_nothing_accepted(client, db, token, current)


async def test_a_stale_version_is_not_accepted(client, db):
    token, first, current = await quoted_twice(client)
    body = await call(
        client, "POST", ACCEPT, token=token, json={"id": current["id"], "version": first["version"]}
    )
    assert body == {"code": -1, "msg": VERSION_CONFLICT, "data": {"version": current["version"]}}
    # The version is checked before the price.
    both = {"id": current["id"], "version": str(first["version"]), "quote_price": "1"}
    body = await call(client, "POST", ACCEPT, token=token, json=both)
    assert body == {"code": -1, "msg": VERSION_CONFLICT, "data": {"version": current["version"]}}
    await assert_nothing_accepted(client, db, token, current)


@pytest.mark.parametrize("seen", ["5000", "5000.0", "5000.00", 5000, 5000.0, " 5000 "])
async def test_the_quote_seen_is_accepted(client, db, seen):
    token, _, current = await quoted_twice(client)
    guards = {"id": current["id"], "version": current["version"], "quote_price": seen}
    accepted = assert_ok(await call(client, "POST", ACCEPT, token=token, json=guards))
    assert (accepted["status"], accepted["version"]) == (3, current["version"] + 1)
    assert await query_rows(db, "SELECT amount FROM purchase_orders") == [(500000,)]


async def test_without_guards_accept_works_as_before(client):
    token, _, current = await quoted_twice(client)
    accepted = assert_ok(
        await call(client, "POST", ACCEPT, token=token, json={"id": current["id"]})
    )
    assert accepted["quote_price"] == "5000.00" and accepted["status"] == 3


@pytest.mark.parametrize(
    "guards, msg",
    [
        ({"quote_price": "abc"}, PRICE_FORMAT),
        ({"quote_price": True}, PRICE_FORMAT),
        ({"quote_price": "0"}, "quote_price must be greater than 0 and at most 999999999.99"),
        ({"version": "x"}, "version must be a positive integer"),
        ({"version": "9" * 5000},
         "version must be an integer of at most 19 digits, no larger than 9223372036854775807"),
    ],
)  # fmt: skip
async def test_malformed_guards_are_refused(client, db, guards, msg):
    token, _, current = await quoted_twice(client)
    body = await call(client, "POST", ACCEPT, token=token, json={"id": current["id"], **guards})
    assert body == {"code": -1, "msg": msg}
    await assert_nothing_accepted(client, db, token, current)


async def test_status_is_checked_before_the_guards(client):
    token, _ = await register(client)
    order = await make_order(client, token)
    guards = {"id": order["id"], "version": 99, "quote_price": "1"}
    body = await call(client, "POST", ACCEPT, token=token, json=guards)
    assert body == {"code": -1, "msg": "only a quoted order can be accepted"}


async def test_the_guard_message_in_chinese(client):
    token, _, current = await quoted_twice(client)
    body = await call(
        client,
        "POST",
        ACCEPT,
        token=token,
        json={"id": current["id"], "quote_price": "1000"},
        headers={"Accept-Language": "zh-CN"},
    )
    assert body == {
        "code": -1,
        "msg": "报价已变更：请确认当前价格后再接受",
        "data": {"quote_price": "5000.00"},
    }


async def test_the_guards_are_described(client):
    described = await (await client.get("/api/openapi.json")).json()
    accept = described["paths"][ACCEPT]["post"]["requestBody"]["content"]["application/json"]
    properties = accept["schema"]["properties"]
    assert set(properties) == {"id", "remark", "version", "quote_price"}
    assert '{"quote_price": "<current>"}' in properties["quote_price"]["description"]
    assert '{"version": <current>}' in properties["version"]["description"]
