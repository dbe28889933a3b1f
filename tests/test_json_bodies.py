"""JSON bodies: nested at most 64 levels (arrays and objects, the body itself level 1)
on every JSON endpoint, and parsed once: a price sent as a JSON number is judged by its
text, read from the body as sent, never by parsing the body a second time. Both
engines."""

import time

import pytest
from orderdesk.access import Access
from orderdesk.routes import ROUTES

from tests.conftest import (
    assert_fail,
    assert_ok,
    call,
    detail,
    make_admin,
    make_order,
    quote,
    register,
)

TOO_DEEP = "request body may nest arrays and objects at most 64 levels deep"
NOT_JSON = "request body is not valid JSON"
BAD_PRICE = "quote_price must be a number greater than 0 with at most 2 decimals"
QUOTE_CHANGED = "the quote has changed: check the current price before accepting"
ACCEPT = "/api/communication/order/accept"
QUOTE = "/api/admin/communication/order/quote"
JSON_TYPE = {"Content-Type": "application/json"}
# Every route that reads a JSON body (the upload reads multipart).
JSON_ROUTES = [
    (path, access)
    for method, path, _, access in ROUTES
    if method == "POST" and path.startswith("/api/") and path != "/api/attachment/upload"
]


def nesting(levels: int) -> bytes:
    """A JSON value of `levels` levels, arrays and objects taking turns."""
    text = b"1"
    for level in range(levels):
        text = b"[" + text + b"]" if level % 2 else b'{"n": ' + text + b"}"
    return text


def body_nesting(depth: int, **fields: int) -> bytes:
    """An object (level 1) with `fields` and an unknown field nested to `depth` in all."""
    head = b"".join(b'"%s": %d, ' % (k.encode(), v) for k, v in fields.items())
    return b"{" + head + b'"unknown": ' + nesting(depth - 1) + b"}"


async def post_raw(client, path: str, raw: bytes, token: str | None = None) -> dict:
    return await call(client, "POST", path, token=token, data=raw, headers=JSON_TYPE)


@pytest.fixture
async def parties(client):
    """A customer with a quoted order (price 12000), and the merchant."""
    token, _ = await register(client)
    admin = await make_admin(client)
    order = await make_order(client, token)
    await quote(client, admin, order["id"], "12000")
    return token, admin, order["id"]


async def test_every_json_endpoint_refuses_a_body_nested_past_64_levels(client, parties):
    token, admin, order_id = parties
    callers = {
        Access.PUBLIC: None,
        Access.CUSTOMER: token,
        Access.STAFF: admin,
        Access.ADMIN: admin,
    }
    for path, access in JSON_ROUTES:
        for raw in (
            body_nesting(65, id=order_id),
            b"[" * 65 + b"]" * 65,  # not an object, but first too deep
            b'{"a": [' + nesting(100) + b', "x"], "b": {}}',
        ):
            answer = await post_raw(client, path, raw, callers[access])
            assert answer == {"code": -1, "msg": TOO_DEEP}, (path, raw[:40])
    # 64 levels are fine: the unknown field is ignored.
    answer = await post_raw(client, "/api/logout", body_nesting(64), token)
    assert_ok(answer)
    assert_fail(await call(client, "GET", "/api/user/detail", token=token), 1001)


@pytest.mark.parametrize("depth", [65, 990, 1000, 1023, 1100, 5000])
async def test_accept_and_quote_refuse_deep_bodies_and_change_nothing(client, parties, depth):
    """990-1023 levels passed orjson (its own limit is 1024) and failed the second
    parse the price used to need with a RecursionError."""
    token, admin, order_id = parties
    for path, caller in ((ACCEPT, token), (QUOTE, admin)):
        raw = body_nesting(depth, id=order_id, quote_price=12000)
        answer = await post_raw(client, path, raw, caller)
        assert answer == {"code": -1, "msg": TOO_DEEP}
        # The deep value as the price itself, and brackets that do not close.
        raw = b'{"id": %d, "quote_price": %s}' % (order_id, nesting(depth))
        assert await post_raw(client, path, raw, caller) == {"code": -1, "msg": TOO_DEEP}
        raw = b'{"id": %d, "x": %s' % (order_id, b"[" * depth)
        assert await post_raw(client, path, raw, caller) == {"code": -1, "msg": NOT_JSON}
    shown = await detail(client, token, order_id)
    assert (shown["status"], shown["version"], shown["quote_price"]) == (2, 2, "12000.00")


async def test_brackets_inside_strings_do_not_count(client, parties):
    token, _, order_id = parties
    text = "[{" * 400
    raw = b'{"id": %d, "reason": "%s", "x": [[["]]]"]]]}' % (order_id, text.encode())
    assert_ok(await post_raw(client, "/api/communication/order/reject", raw, token))
    assert (await detail(client, token, order_id))["status"] == 4


# Where the price's text has to be found: the top-level key, whichever way it is
# written, never one nested inside another value or inside a string; the last of
# duplicate keys, as the parsed body keeps the last.
PLACED_PRICES = [
    (b'"x": {"quote_price": 12000}, "quote_price": 12000.000', BAD_PRICE),
    (b'"x": [{"quote_price": 1.000}], "quote_price": 12000.00', None),
    (b'"quote_price": 12000, "quote_price": 1.2e4', BAD_PRICE),
    (b'"quote_price": 1.2e4, "quote_price": 12000', None),
    (b'"quote_price": "1e4", "quote_price": 12000.0', None),
    (b'"quote\\u005fprice": 12000.001', BAD_PRICE),
    (b'"quote_price": 1.000, "\\u0071uote_price": 12000', None),
    (b'"r": "\\"quote_price\\": 1.000", "quote_price": 12000', None),
    (b'"a\\"quote_price": 1.000, "quote_price": 12000', None),
    (b'"quote_price": 12000.5', QUOTE_CHANGED),
]


@pytest.mark.parametrize("members, message", PLACED_PRICES)
async def test_the_price_text_is_that_of_the_top_level_key(client, parties, members, message):
    token, _, order_id = parties
    raw = b'{"id": %d, %s}' % (order_id, members)
    answer = await post_raw(client, ACCEPT, raw, token)
    if message is None:
        assert assert_ok(answer)["status"] == 3
    else:
        assert_fail(answer, msg=message)
        assert (await detail(client, token, order_id))["status"] == 2


@pytest.mark.parametrize("members, message", PLACED_PRICES[:7])
async def test_the_quote_reads_the_price_text_the_same_way(client, parties, members, message):
    _, admin, order_id = parties
    raw = b'{"id": %d, "quote_content": "again", %s}' % (order_id, members)
    answer = await post_raw(client, QUOTE, raw, admin)
    if message is None:
        assert assert_ok(answer)["quote_price"] == "12000.00"
    else:
        assert_fail(answer, msg=message)


def numbers_body(order_id: int, price: bytes) -> bytes:
    """Just under 1 MiB: the price, and half a million numbers in an unknown field."""
    head = b'{"id": %d, "quote_price": %s, "x": [' % (order_id, price)
    count = (1024 * 1024 - len(head) - 2) // 2
    return head + b",".join([b"1"] * count) + b"]}"


async def cpu_seconds(client, raw: bytes, token: str) -> float:
    """The least process CPU time of three identical requests (the server runs in this
    process), each answered that the quote has changed."""
    spent = []
    for _ in range(3):
        started = time.process_time()
        answer = await post_raw(client, ACCEPT, raw, token)
        spent.append(time.process_time() - started)
        assert answer["msg"] == QUOTE_CHANGED
    return min(spent)


async def test_a_number_is_parsed_once_however_the_price_is_sent(client, parties):
    """The same 1 MiB body costs about the same whether the price is a JSON string or a
    JSON number: its text is not found by parsing the body again (which cost ~0.3 s of
    CPU here, ~0.9 s on the machine that found it)."""
    token, _, order_id = parties
    as_string = await cpu_seconds(client, numbers_body(order_id, b'"12001"'), token)
    as_number = await cpu_seconds(client, numbers_body(order_id, b"12001"), token)
    assert as_number < as_string + 0.1, (as_string, as_number)


@pytest.mark.parametrize(
    "raw",
    [
        # Past 64 brackets the depth check drops strings: an open string of escaped
        # quotes once made each quote start a scan to the end (minutes for 60 KB).
        b'{"x": [' + b"[]," * 80 + b'[]], "s": "' + b'\\"' * 30000,
        # A number out of range: the ID fields are looked for in the text as sent.
        b'{"id": 1e999, "s": "' + b'\\"' * 30000 + b"}",
        b'{"id": 1e999, ' + b'"quote_price": -x, ' * 30000 + b"}",
    ],
)
async def test_hostile_bodies_cost_little(client, parties, raw):
    token, _, _ = parties
    started = time.process_time()
    answer = await post_raw(client, ACCEPT, raw, token)
    assert answer["code"] == -1
    assert time.process_time() - started < 2.0
