"""Input that used to reach an internal error or slip past a check: NUL characters, IDs and
page numbers of any length, tokens that are not UTF-8, clients that disconnect mid-body.
Both engines."""

import asyncio
import contextlib
import socket
import time

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
    postgres_database_for_live_server,
    query_rows,
    register,
)
from tests.faults import assert_no_faults_logged
from tests.live import LiveServer

NUL_MSG = "{} must not contain the NUL character (U+0000)"
TOO_LARGE = "{} must be an integer of at most 19 digits, no larger than 9223372036854775807"
CREATE = "/api/communication/order/create"
UPDATE = "/api/communication/order/update"


async def test_the_right_password_followed_by_nul_does_not_log_in(client):
    await register(client, "alice")
    for password in (PASSWORD + "\x00", PASSWORD + "\x00\x00x"):
        body = await call(
            client, "POST", "/api/login", json={"user_name": "alice", "password": password}
        )
        assert body == {"code": -1, "msg": NUL_MSG.format("password")}
    logged_in = await call(
        client, "POST", "/api/login", json={"user_name": "alice", "password": PASSWORD}
    )
    assert_ok(logged_in)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"user_name": "a\x00b", "password": PASSWORD}, "user_name"),
        ({"user_name": "nul", "password": PASSWORD + "\x00"}, "password"),
        ({"user_name": "nul", "password": PASSWORD, "email": "n\x00@x.org"}, "email"),
        ({"user_name": "nul", "password": PASSWORD, "nickname\x00": "x"}, "nickname\\u0000"),
    ],
)
async def test_registration_with_nul_is_refused(client, db, body, field):
    assert await call(client, "POST", "/api/register", json=body) == {
        "code": -1,
        "msg": NUL_MSG.format(field),
    }
    assert await query_rows(db, "SELECT COUNT(*) FROM users") == [(0,)]


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"title": "Theme\x00"}, "title"),
        ({"content": "\x00"}, "content"),
        ({"phone": "12345\x00"}, "phone"),
        ({"event_date": "2030-01-01\x00"}, "event_date"),
        ({"images": ["https://img.example/a.png\x00"]}, "images"),
        ({"order_extra": {"size\x00": "L"}}, "order_extra"),
        ({"order_extra": {"a": {"b": {"c\x00": 1}}}}, "order_extra"),
        ({"order_extra": {"a": [{"b": "x\x00y"}]}}, "order_extra"),
        ({"order_extra": {"a": ["\x00"]}}, "order_extra"),
    ],
)
async def test_nul_in_any_order_field_is_refused_on_create_and_update(client, db, changes, field):
    token, _ = await register(client)
    order = await make_order(client, token)
    expected = {"code": -1, "msg": NUL_MSG.format(field)}
    assert await call(client, "POST", CREATE, token=token, json={**ORDER, **changes}) == expected
    body = await call(client, "POST", UPDATE, token=token, json={"id": order["id"], **changes})
    assert body == expected
    assert (await detail(client, token, order["id"]))["version"] == 1
    assert await query_rows(db, "SELECT COUNT(*) FROM comm_orders") == [(1,)]


async def test_nul_in_messages_quotes_and_field_definitions_is_refused(client, db):
    token, _ = await register(client)
    admin = await make_admin(client)
    order = await make_order(client, token)
    cases = [
        (token, "/api/communication/message/send",
         {"comm_order_id": order["id"], "message_type": "text", "content": "hi\x00"}, "content"),
        (token, "/api/communication/message/send",
         {"comm_order_id": order["id"], "message_type": "text", "content": "hi",
          "sender_name": "\x00"}, "sender_name"),
        (admin, "/api/admin/communication/order/quote",
         {"id": order["id"], "quote_price": "10", "quote_content": "ok\x00"}, "quote_content"),
        (admin, "/api/admin/communication/fields",
         {"fields": [{"field_name": "size", "type": "select", "options": ["S", "M\x00"]}]},
         "fields"),
        (admin, "/api/admin/communication/fields",
         {"fields": [{"field_name": "si\x00ze", "type": "text"}]}, "fields"),
        (token, "/api/communication/order/cancel", {"id": order["id"], "reason": "\x00"},
         "reason"),
    ]  # fmt: skip
    for who, path, body, field in cases:
        answer = await call(client, "POST", path, token=who, json=body)
        assert answer == {"code": -1, "msg": NUL_MSG.format(field)}, path
    assert await query_rows(db, "SELECT COUNT(*) FROM messages") == [(0,)]
    assert assert_ok(await call(client, "GET", "/api/communication/fields")) == []
    assert (await detail(client, token, order["id"]))["status"] == 0


@pytest.mark.parametrize(
    "path, params, field",
    [
        ("/api/admin/communication/orders", {"q": "theme\x00"}, "q"),
        ("/api/admin/communication/orders", {"status": "\x00"}, "status"),
        ("/api/admin/communication/orders", {"anything\x00": "1"}, "anything\\u0000"),
        ("/api/admin/communication/order/detail", {"id": "1\x00"}, "id"),
        ("/api/admin/communication/messages", {"comm_order_id": "1", "current": "\x001"},
         "current"),
    ],
)  # fmt: skip
async def test_nul_in_a_query_is_refused(client, path, params, field):
    admin = await make_admin(client)
    body = await call(client, "GET", path, token=admin, params=params)
    assert body == {"code": -1, "msg": NUL_MSG.format(field)}


async def test_a_nul_query_still_answers_route_and_session_first(client):
    unknown = await call(client, "GET", "/api/nothing", params={"q": "\x00"})
    assert unknown == {"code": -1, "msg": "not found"}
    anonymous = await call(client, "GET", "/api/communication/orders", params={"q": "\x00"})
    assert anonymous == {"code": 1001, "msg": "not logged in"}


# ---------------------------------------------------------------- long numbers

# 60,000 digits: a request line of about 60 KiB, past aiohttp's default 8 KiB.
LONG = ["9" * 20, "9" * 5000, "9" * 60_000, "0" * 19 + "1", "9223372036854775808", "9" * 19]


@pytest.mark.parametrize("number", LONG)
async def test_long_ids_in_a_body_are_refused_naming_the_field(client, number):
    token, _ = await register(client)
    order = await make_order(client, token)
    for body, field in [
        ({"id": number, "title": "x"}, "id"),
        ({"id": order["id"], "title": "x", "version": number}, "version"),
    ]:
        answer = await call(client, "POST", UPDATE, token=token, json=body)
        assert answer == {"code": -1, "msg": TOO_LARGE.format(field)}
    answer = await call(client, "POST", CREATE, token=token, json={**ORDER, "archive_id": number})
    assert answer == {"code": -1, "msg": TOO_LARGE.format("archive_id")}
    assert (await detail(client, token, order["id"]))["version"] == 1


@pytest.mark.parametrize("number", LONG)
async def test_long_numbers_in_a_query_are_refused_naming_the_field(client, number):
    token, _ = await register(client)
    order = await make_order(client, token)
    orders, thread = "/api/communication/orders", "/api/communication/messages"
    cases = [
        ("/api/communication/order/detail", {"id": number}, "id"),
        (thread, {"comm_order_id": number}, "comm_order_id"),
        (thread, {"comm_order_id": order["id"], "current": number}, "current"),
        (orders, {"current": number}, "current"),
        (orders, {"page_size": number}, "page_size"),
        (orders, {"pageSize": number}, "pageSize"),
    ]
    for path, params, field in cases:
        answer = await call(client, "GET", path, token=token, params=params)
        assert answer == {"code": -1, "msg": TOO_LARGE.format(field)}, params
    status = await call(client, "GET", orders, token=token, params={"status": number})
    assert status == {"code": -1, "msg": "status must be one of -1, 0, 1, 2, 3, 4"}


async def test_the_largest_id_and_19_digit_zero_padding_are_still_ids(client):
    token, _ = await register(client)
    order = await make_order(client, token)
    padded = str(order["id"]).zfill(19)
    shown = await call(
        client, "GET", "/api/communication/order/detail", token=token, params={"id": padded}
    )
    assert assert_ok(shown)["id"] == order["id"]
    biggest = await call(
        client,
        "GET",
        "/api/communication/order/detail",
        token=token,
        params={"id": "9223372036854775807"},
    )
    assert_fail(biggest, msg="order not found")
    page = await call(
        client, "GET", "/api/communication/orders", token=token, params={"current": "9" * 18}
    )
    assert (page["data"], page["total"]) == ([], 1)


# ---------------------------------------------------------------- raw HTTP


async def raw_request(client, head: bytes, body: bytes = b"", *, close: bool = False) -> bytes:
    """Bytes on a socket of the test server: what an HTTP client library would not send."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(head + b"\r\n\r\n" + body)
    await writer.drain()
    if close:
        writer.close()
        await writer.wait_closed()
        return b""
    answer = await reader.read()
    writer.close()
    return answer


@pytest.mark.parametrize(
    "header", [b"Token: \xff\xfe\x80", b"Cookie: token=\xff\xfe\x80", b"Token: caf\xe9"]
)
async def test_a_token_that_is_not_utf8_is_no_session(client, header):
    for method, path, answer in [
        (b"GET", b"/api/user/detail", b'{"code":1001,"msg":"not logged in"}'),
        (b"POST", b"/api/logout", b'{"code":0,"msg":"logged out"}'),
    ]:
        head = method + b" " + path + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" + header
        response = await raw_request(client, head + b"\r\nContent-Length: 0")
        assert response.startswith(b"HTTP/1.1 200 OK"), response
        assert response.endswith(answer), response


@pytest.mark.slow  # a real server process
@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_a_client_gone_mid_body_is_one_info_line(tmp_path, engine):
    """On the real server (the test server cancels handlers whose client is gone)."""
    with contextlib.ExitStack() as stack:
        db = tmp_path / "gone.db"
        if engine == "postgres":
            db = stack.enter_context(postgres_database_for_live_server())
        live = stack.enter_context(LiveServer(db, log=tmp_path / "gone.log"))
        with socket.create_connection(("127.0.0.1", live.port)) as sock:
            sock.sendall(
                b"POST /api/register HTTP/1.1\r\nHost: t\r\nContent-Type: application/json"
                b'\r\nContent-Length: 1000\r\n\r\n{"user_name": "half'
            )
        live.register("after")  # served after the disconnect was handled
        assert live.stop() == 0
    log = (tmp_path / "gone.log").read_text()
    assert_no_faults_logged(log)
    gone = [line for line in log.splitlines() if "disconnected" in line]
    assert len(gone) == 1, log
    assert " INFO orderdesk request " in gone[0]
    assert gone[0].endswith(
        "POST /api/register: the client disconnected before sending the whole body"
    )


MULTIPART = b"multipart/form-data; boundary=XyZ"
PART = (
    b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
    b"Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n" + b"p" * 3000
)
# (path, content type, part of the body): JSON and multipart, public and with a session.
HALF_BODIES = [
    (b"/api/register", b"application/json", b'{"user_name": "half'),
    (b"/api/communication/order/create", b"application/json", b'{"title": "' + b"t" * 3000),
    (b"/api/communication/order/accept", b"application/json", b'{"id": 1, "quote_price": 1'),
    (b"/api/attachment/upload", MULTIPART, PART),
    (b"/api/attachment/upload", MULTIPART, b""),
]


def leave_mid_body(port: int, token: str, path: bytes, kind: bytes, part: bytes, expect: bool):
    """Headers promising 100 000 bytes, part of them, and the connection closed. With
    `Expect: 100-continue` the client leaves before the server's 100 Continue."""
    head = (
        b"POST " + path + b" HTTP/1.1\r\nHost: t\r\nContent-Type: " + kind
        + b"\r\nContent-Length: 100000\r\nToken: " + token.encode()
        + (b"\r\nExpect: 100-continue" if expect else b"") + b"\r\n\r\n"
    )  # fmt: skip
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head + part)


@pytest.mark.slow  # a real server process
@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_clients_gone_mid_body_are_never_an_error(tmp_path, engine):
    """JSON bodies and multipart uploads, with and without `Expect: 100-continue`, and
    paths no route serves: INFO lines at most, on the real server."""
    with contextlib.ExitStack() as stack:
        db = tmp_path / "gone.db"
        if engine == "postgres":
            db = stack.enter_context(postgres_database_for_live_server())
        live = stack.enter_context(LiveServer(db, log=tmp_path / "gone.log"))
        token = live.register("alice")
        unrouted = [(b"/api/nowhere", b"application/json", b"{"), (b"/api/user/detail", b"", b"")]
        for expect in (True, False):
            for path, kind, part in HALF_BODIES + unrouted:
                leave_mid_body(live.port, token, path, kind, part, expect)
        time.sleep(0.5)
        live.register("after")  # served after the disconnects were handled
        assert live.stop() == 0
    log = (tmp_path / "gone.log").read_text()
    assert_no_faults_logged(log)
    gone = [line for line in log.splitlines() if "disconnected" in line]
    assert gone and all(" INFO " in line for line in gone), log


@pytest.mark.parametrize("path, kind, part", HALF_BODIES)
async def test_a_client_gone_before_the_100_continue_is_no_fault(client, path, kind, part):
    """In process too (the `client` fixture fails a test that logs an ERROR)."""
    token, _ = await register(client)
    await asyncio.to_thread(leave_mid_body, client.server.port, token, path, kind, part, True)
    await asyncio.sleep(0.3)
    assert assert_ok(await call(client, "GET", "/api/user/detail", token=token))


@pytest.mark.slow  # a real server process
@pytest.mark.parametrize(
    "head",
    [
        b"GET /api/communication/orders?current=" + b"9" * 70_000 + b" HTTP/1.1\r\nHost: t",
        b"GET / HTTP/1.1\r\nHost: t\r\nX-Long: " + b"x" * 9000,
        b"GET / HTTP/1.1\r\nHost: t\r\nBad Header Name: x",
    ],
)
def test_a_request_the_http_parser_refuses_is_one_info_line(tmp_path, head):
    """aiohttp's own 400 (before any application code) is the client's mistake."""
    with LiveServer(tmp_path / "bad.db") as live:
        with socket.create_connection(("127.0.0.1", live.port)) as sock:
            sock.sendall(head + b"\r\n\r\n")
            answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.") and b" 400 " in answer.split(b"\r\n")[0]
        assert live.stop() == 0
    log = (tmp_path / "bad.log").read_text()
    assert_no_faults_logged(log)
    refused = [line for line in log.splitlines() if "malformed HTTP request" in line]
    assert len(refused) == 1, log
    assert " INFO aiohttp.server refused a malformed HTTP request from 127.0.0.1: " in refused[0]


@pytest.mark.parametrize("digits", [400, 5000])
async def test_json_integers_too_long_for_any_number_type_name_the_field(client, digits):
    """orjson cannot hold them (they overflow a double); the answer still names the ID."""
    token, _ = await register(client)
    order = await make_order(client, token)
    number = "9" * digits
    for raw, field in [
        (f'{{"id": {number}, "title": "x"}}', "id"),
        (f'{{"id": {order["id"]}, "title": "x", "version": {number}}}', "version"),
        (f'{{"id": {order["id"]}, "title": "x", "version": -{number}}}', "version"),
    ]:
        answer = await call(
            client, "POST", UPDATE, token=token, data=raw.encode(),
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        assert answer == {"code": -1, "msg": TOO_LARGE.format(field)}
    # Anywhere else such a number is simply not JSON that orderdesk reads.
    raw = f'{{"id": {order["id"]}, "order_extra": {{"n": {number}}}}}'.encode()
    answer = await call(
        client, "POST", UPDATE, token=token, data=raw, headers={"Content-Type": "application/json"}
    )
    assert answer == {"code": -1, "msg": "request body is not valid JSON"}
    assert (await detail(client, token, order["id"]))["version"] == 1


@pytest.mark.parametrize("expect", ["W*", "100-continue, x", "something-else"])
async def test_an_unknown_expectation_is_ignored_and_the_request_answered(client, expect):
    """Only `100-continue` means something; any other `Expect` is ignored, and the API
    still answers in its envelope (aiohttp's own 417 would answer before it)."""
    token, user = await register(client)
    resp = await client.get("/api/user/detail", headers={"Token": token, "Expect": expect})
    assert resp.status == 200
    assert assert_ok(await resp.json())["id"] == user["id"]
    resp = await client.post("/api/login", json={"user_name": "nobody", "password": "x" * 8},
                             headers={"Expect": expect})  # fmt: skip
    assert resp.status == 200 and (await resp.json())["code"] == -1
