"""Live events: GET /api/events on both engines."""

import asyncio
import contextlib
import json
import socket
import struct
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestServer
from orderdesk import live, security
from orderdesk.app import SERVER_OPTIONS, create_app
from orderdesk.config import Config
from orderdesk.keys import BROADCASTER, CONFIG, STORE
from orderdesk.store import events

from tests.conftest import (
    PASSWORD,
    assert_fail,
    assert_ok,
    call,
    make_admin,
    make_order,
    query_rows,
    quote,
    register,
    update,
)
from tests.live import repeating

EVENTS = "/api/events"
SEND = "/api/communication/message/send"
ADMIN_SEND = "/api/admin/communication/message/send"
WAIT = 10  # seconds an expected event may take at most (a busy shared machine)


class Stream:
    """An open GET /api/events, read one event at a time."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.pings = 0

    async def next(self, timeout: float = WAIT) -> dict[str, Any] | None:
        """The next event as {id, event, data}; None when the stream ended."""
        fields: dict[str, str] = {}
        async with asyncio.timeout(timeout):
            while True:
                raw = await self.response.content.readline()
                if not raw:
                    return None
                line = raw.decode().rstrip("\n")
                if line == ": ping":
                    self.pings += 1
                elif line.startswith(("id: ", "event: ", "data: ")):
                    name, value = line.split(": ", 1)
                    fields[name] = value
                elif line == "" and "id" in fields:
                    return {"id": int(fields["id"]), "event": fields["event"],
                            "data": json.loads(fields["data"])}  # fmt: skip

    async def take(self, count: int) -> list[dict[str, Any]]:
        return [await self.next() for _ in range(count)]

    def close(self) -> None:
        self.response.close()


async def open_stream(client, token: str, last_id: int | None = None, **params: Any) -> Stream:
    headers = {"Token": token}
    if last_id is not None:
        headers["Last-Event-ID"] = str(last_id)
    response = await client.get(EVENTS, headers=headers, params=params)
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    # The headers are out before any event: a client knows it is connected.
    assert (await response.content.readline()).startswith(b"retry: ")
    assert await response.content.readline() == b"\n"
    return Stream(response)


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [e["event"] for e in events]


async def send(client, token, order_id, content, path=SEND) -> dict[str, Any]:
    body = {"comm_order_id": order_id, "message_type": "text", "content": content}
    return assert_ok(await call(client, "POST", path, token=token, json=body))


async def post(client, token: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = await call(client, "POST", path, token=token, json=body)
    assert_ok(answer)
    return answer


async def count_events(client) -> int:
    return (await query_rows(client.server.app[CONFIG].db, "SELECT count(*) FROM events"))[0][0]


async def test_every_kind_of_change_sends_its_events_with_the_api_answers(client):
    admin = await make_admin(client)
    token, _ = await register(client)
    stream = await open_stream(client, token)

    created = await make_order(client, token)
    event = await stream.next()
    assert (event["event"], event["data"]) == ("order.created", created)
    order_id = created["id"]

    said = await send(client, token, order_id, "hello")
    assert await stream.next() == {"id": event["id"] + 1, "event": "message.created", "data": said}

    # A merchant message on a pending order moves it to 1: the order changes too.
    reply = await send(client, admin, order_id, "hi", ADMIN_SEND)
    moved, message = await stream.take(2)
    assert kinds([moved, message]) == ["order.updated", "message.created"]
    assert (moved["data"]["status"], moved["data"]["version"]) == (1, 2)
    assert message["data"] == reply

    def changed(answer: dict[str, Any]):
        async def check(expected_note: str) -> None:
            order, note = await stream.take(2)
            assert (order["event"], order["data"]) == ("order.updated", answer["data"])
            assert note["event"] == "message.created"
            assert note["data"]["content"].startswith(expected_note)
            assert note["data"]["comm_order_id"] == answer["data"]["id"]

        return check

    answer = await update(client, token, id=order_id, title="New title")
    await changed(answer)("order updated: title")
    answer = {"data": await quote(client, admin, order_id)}
    await changed(answer)("quote: 12000.00")
    images = {"id": order_id, "sketch_images": ["https://example.com/a.png"]}
    answer = await post(client, admin, "/api/admin/communication/order/images", images)
    await changed(answer)("images updated: sketch_images")
    body = {"id": order_id, "reason": "too dear"}
    answer = await post(client, token, "/api/communication/order/reject", body)
    await changed(answer)("quote rejected")
    body = {"id": order_id, "status": 1}
    answer = await post(client, admin, "/api/admin/communication/order/status", body)
    await changed(answer)("status changed by merchant")
    await quote(client, admin, order_id)
    await stream.take(2)
    body = {"id": order_id}
    answer = await post(client, token, "/api/communication/order/accept", body)
    assert answer["data"]["order_id"] > 0
    await changed(answer)("quote accepted")
    purchase = await stream.next()
    assert purchase["event"] == "purchase_order.updated"
    assert (purchase["data"]["id"], purchase["data"]["status"]) == (answer["data"]["order_id"], 0)

    other = await make_order(client, token)
    await stream.next()
    answer = await post(client, token, "/api/communication/order/cancel", {"id": other["id"]})
    await changed(answer)("order cancelled")
    stream.close()


async def test_no_event_for_a_change_that_changed_nothing_or_rolled_back(client):
    token, _ = await register(client)
    order = await make_order(client, token, order_extra={"a": "x" * 9000})
    stream = await open_stream(client, token)
    # Nothing changes: the same title, the same order_extra value.
    assert_ok(await update(client, token, id=order["id"], title=order["title"]))
    assert_ok(await update(client, token, id=order["id"], order_extra={"a": "x" * 9000}))
    # Refused inside the transaction, after the row was written: rolled back.
    assert_fail(
        await update(client, token, id=order["id"], order_extra={"b": "y" * 9000}),
        msg="order_extra must be at most 16384 bytes as JSON",
    )
    assert_fail(
        await call(client, "POST", "/api/communication/order/reject", token=token,
                   json={"id": order["id"]}),
        msg="only a quoted order can be rejected",
    )  # fmt: skip
    assert_ok(await post(client, token, "/api/communication/order/cancel", {"id": order["id"]}))
    assert_fail(
        await call(client, "POST", SEND, token=token,
                   json={"comm_order_id": order["id"], "message_type": "text", "content": "x"}),
        msg="messages are closed on a cancelled order",
    )  # fmt: skip
    cancelled, note = await stream.take(2)
    assert kinds([cancelled, note]) == ["order.updated", "message.created"]
    assert (cancelled["data"]["status"], cancelled["data"]["version"]) == (-1, 2)
    assert await count_events(client) == 3  # created, cancelled and its note: no other


async def test_a_customer_sees_only_their_own_orders_and_the_admin_sees_all(client):
    admin = await make_admin(client)
    alice, _ = await register(client, "alice")
    bob, _ = await register(client, "bob")
    alice_stream = await open_stream(client, alice)
    bob_stream = await open_stream(client, bob)
    admin_stream = await open_stream(client, admin)

    bobs = await make_order(client, bob)
    await send(client, bob, bobs["id"], "bob's secret")
    await send(client, admin, bobs["id"], "to bob", ADMIN_SEND)
    alices = await make_order(client, alice)

    # Alice's first event is her own order: none of Bob's four came before it.
    first = await alice_stream.next()
    assert (first["event"], first["data"]["id"]) == ("order.created", alices["id"])
    bob_events = await bob_stream.take(4)
    assert {e["data"].get("comm_order_id", e["data"]["id"]) for e in bob_events} == {bobs["id"]}
    admin_events = await admin_stream.take(5)
    assert [e["id"] for e in admin_events] == [e["id"] for e in bob_events] + [first["id"]]
    for stream in (alice_stream, bob_stream, admin_stream):
        stream.close()


async def test_comm_order_id_narrows_to_one_visible_order(client):
    admin = await make_admin(client)
    alice, _ = await register(client, "alice")
    bob, _ = await register(client, "bob")
    first = await make_order(client, alice)
    second = await make_order(client, alice)
    bobs = await make_order(client, bob)
    narrowed = await open_stream(client, alice, comm_order_id=second["id"])
    merchant = await open_stream(client, admin, comm_order_id=str(bobs["id"]))

    await send(client, alice, first["id"], "about the first")
    await send(client, bob, bobs["id"], "bob's")
    said = await send(client, alice, second["id"], "about the second")
    assert (await narrowed.next())["data"] == said
    assert (await merchant.next())["data"]["content"] == "bob's"

    # Another customer's order, a missing one, a malformed id: refused as envelopes.
    for value, message in [
        (bobs["id"], "order not found"),
        (999, "order not found"),
        ("x", "comm_order_id must be a positive integer"),
        ("0", "comm_order_id must be a positive integer"),
        (
            "9" * 20,
            "comm_order_id must be an integer of at most 19 digits, no larger than "
            "9223372036854775807",
        ),
    ]:
        body = await call(client, "GET", EVENTS, token=alice, params={"comm_order_id": value})
        assert_fail(body, msg=message)
    narrowed.close()
    merchant.close()


async def test_without_a_valid_session_the_answer_is_the_1001_envelope(client, clock):
    expired, _ = await register(client, "late")
    clock.advance(10 * 86400 + 1)
    revoked, _ = await register(client, "gone")
    assert_ok(await call(client, "POST", "/api/logout", token=revoked))
    for token in (None, "nope", expired, revoked):
        assert_fail(await call(client, "GET", EVENTS, token=token), 1001, "not logged in")


async def test_ids_increase_in_commit_order_under_concurrent_writers(client):
    token, _ = await register(client)
    orders = [await make_order(client, token) for _ in range(4)]
    stream = await open_stream(client, token)
    # Concurrent commits, while the stream reads: an id taken early but committed late
    # (PostgreSQL, without the event lock) would be skipped, and take() would time out.
    for burst in range(4):
        await asyncio.gather(
            *(send(client, token, orders[i % 4]["id"], f"{burst}.{i}") for i in range(40))
        )
    events = await stream.take(160)
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == 160
    # Per order, the stream's order is the thread's order.
    for order in orders:
        thread = await call(client, "GET", "/api/communication/messages", token=token,
                            params={"comm_order_id": order["id"], "page_size": 100})  # fmt: skip
        assert thread["total"] == 40
        mine = [e["data"]["id"] for e in events if e["data"]["comm_order_id"] == order["id"]]
        assert mine == [m["id"] for m in thread["data"]]
    stream.close()


async def test_resume_replays_what_was_missed_then_goes_on_live(client):
    token, _ = await register(client)
    bob, _ = await register(client, "bob")
    order = await make_order(client, token)
    stream = await open_stream(client, token)
    for i in range(3):
        await send(client, token, order["id"], f"seen {i}")
    seen = await stream.take(3)
    stream.close()
    for i in range(3):
        await send(client, token, order["id"], f"missed {i}")
        await make_order(client, bob)  # not Alice's: never replayed to her

    resumed = await open_stream(client, token, last_id=seen[1]["id"])
    await send(client, token, order["id"], "live")
    events = await resumed.take(5)
    assert [e["data"]["content"] for e in events] == [
        "seen 2", "missed 0", "missed 1", "missed 2", "live",
    ]  # fmt: skip
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and ids[0] == seen[2]["id"]
    resumed.close()


async def test_resume_while_changes_keep_coming_has_no_gap_and_no_repeat(client):
    token, _ = await register(client)
    order = await make_order(client, token)
    stream = await open_stream(client, token, last_id=0)
    created = await stream.next()
    assert created["event"] == "order.created"

    async def keep_writing() -> None:
        for i in range(60):
            await send(client, token, order["id"], str(i))

    writer = asyncio.create_task(keep_writing())
    received: list[dict[str, Any]] = []
    while len(received) < 60:  # reconnect every few events, resuming each time
        received += await stream.take(7 if 60 - len(received) >= 7 else 60 - len(received))
        stream.close()
        stream = await open_stream(client, token, last_id=received[-1]["id"])
    await writer
    assert [e["data"]["content"] for e in received] == [str(i) for i in range(60)]
    stream.close()


async def test_events_are_kept_a_day_then_pruned(client, clock):
    token, _ = await register(client)
    old = await make_order(client, token)
    clock.advance(86400)
    await client.server.app[STORE].write(events.prune)
    newer = await make_order(client, token)  # the day-old one is still kept
    clock.advance(1)
    await client.server.app[STORE].write(events.prune)
    stream = await open_stream(client, token, last_id=0)
    replayed = await stream.next()
    assert (replayed["event"], replayed["data"]["id"]) == ("order.created", newer["id"])
    assert old["id"] != newer["id"] and await count_events(client) == 1
    stream.close()


async def test_an_eleventh_stream_closes_the_users_oldest(client):
    token, _ = await register(client)
    other, _ = await register(client, "bob")
    streams = [await open_stream(client, token) for _ in range(10)]
    bobs = await open_stream(client, other)
    eleventh = await open_stream(client, token)
    assert await streams[0].next() is None  # ended by the server
    order = await make_order(client, token)
    for stream in [*streams[1:], eleventh]:
        assert (await stream.next())["data"]["id"] == order["id"]
    await make_order(client, other)
    assert (await bobs.next())["event"] == "order.created"  # another user's are untouched
    for stream in [*streams, bobs, eleventh]:
        stream.close()


@pytest.fixture
def config(db, clock) -> Config:
    # Sessions outlive the day that pruning waits for; pings come often.
    return Config(db=db, session_ttl=10 * 86400, clock=clock, ping_seconds=0.2)


async def test_an_idle_stream_gets_a_ping_at_the_configured_interval(client):
    token, _ = await register(client)
    stream = await open_stream(client, token)
    lines = [await stream.response.content.readline() for _ in range(4)]
    assert lines == [b": ping\n", b"\n"] * 2
    stream.close()


async def test_pings_keep_coming_while_events_flow(client):
    """At least every interval, events or not: a message every 50 ms for 1.5 s, and the
    0.2 s pings still come (the stream once pinged only after 0.2 s without events)."""
    token, _ = await register(client)
    order = await make_order(client, token)
    stream = await open_stream(client, token)
    loop = asyncio.get_running_loop()
    began = loop.time()
    sent = 0
    while loop.time() - began < 1.5:
        await send(client, token, order["id"], f"m{sent}")
        sent += 1
        await asyncio.sleep(0.05)
    events = await stream.take(sent)
    assert [e["data"]["content"] for e in events] == [f"m{n}" for n in range(sent)]
    assert stream.pings >= 3, (stream.pings, sent)
    stream.close()


def ping_timers() -> list[asyncio.TimerHandle]:
    """The streams' ping timers the (asyncio) event loop holds, not cancelled."""
    scheduled = asyncio.get_running_loop()._scheduled  # type: ignore[attr-defined]
    return [
        handle
        for handle in scheduled
        if "_set_ping" in getattr(handle._callback, "__qualname__", "") and not handle.cancelled()
    ]


async def test_a_stream_whose_client_left_keeps_no_ping_timer(client):
    """Clients that vanish while events come: their handlers leave on a broken
    connection, and each stream's timer, which sets itself again, goes with it."""
    token, _ = await register(client)
    order = await make_order(client, token)
    streams = [await open_stream(client, token) for _ in range(3)]
    await asyncio.sleep(0.3)  # a ping or two each: the timers run
    assert len(ping_timers()) == 3
    for stream in streams:
        stream.response.connection.transport.abort()
    for n in range(5):
        await send(client, token, order["id"], f"into the void {n}")
    await asyncio.sleep(1.0)
    assert ping_timers() == []


async def test_stopping_the_app_ends_open_streams_at_once(config, server_log, aiohttp_client):
    client = await aiohttp_client(create_app(config), cookie_jar=aiohttp.DummyCookieJar())
    token, _ = await register(client)
    streams = [await open_stream(client, token) for _ in range(3)]
    started = asyncio.get_running_loop().time()
    await client.server.runner.shutdown()  # on_shutdown: what runner.cleanup calls first
    for stream in streams:
        assert await stream.next() is None
    assert asyncio.get_running_loop().time() - started < 5


async def test_revoking_the_session_ends_its_streams(client):
    token, _ = await register(client)
    other_login = await call(
        client, "POST", "/api/login", json={"user_name": "alice", "password": PASSWORD}
    )
    second = assert_ok(other_login)["token"]
    stream = await open_stream(client, token)
    assert_ok(await call(client, "POST", "/api/logout", token=second, json={"all": True}))
    assert await stream.next() is None  # ended by the server, before anything else
    stream.close()


# ---------------------------------------------------------------- the stream's session

ENDS_WITHIN = 2.0  # seconds: a stream ends this soon after its session does


async def ended_within(stream: Stream, started: float, limit: float = ENDS_WITHIN) -> float:
    """Read the stream (events may still come) until it ends; how long after `started`
    (loop time) it did. Fails if it has not ended `limit` seconds after `started`, plus
    a margin for reading what was already on its way."""
    loop = asyncio.get_running_loop()
    # A connection cut mid-event is an end too.
    with contextlib.suppress(aiohttp.ClientPayloadError, aiohttp.ClientConnectionError):
        async with asyncio.timeout(limit + 3 - (loop.time() - started)):
            while await stream.next() is not None:
                pass
    took = loop.time() - started
    assert took < limit, f"the stream ended {took:.2f}s after its session"
    return took


def events_flowing(
    client, token: str, order_id: int, path: str = SEND
) -> contextlib.AbstractAsyncContextManager[None]:
    """Messages sent to the order every few milliseconds while the block runs."""
    return repeating(lambda i: send(client, token, order_id, f"flowing {i}", path))


async def login(client, user_name: str, **extra: Any) -> str:
    body = {"user_name": user_name, "password": PASSWORD, **extra}
    return assert_ok(await call(client, "POST", "/api/login", json=body))["token"]


async def session_expiry(db: str, token: str) -> int:
    rows = await query_rows(
        db, "SELECT expires_at FROM sessions WHERE token_hash = ?", security.token_hash(token)
    )
    return rows[0][0]


async def test_a_stream_ends_when_its_session_expires_even_while_events_flow(client, db, clock):
    """Expiry is seen in memory, events or not, and holding a stream open does not renew
    its session (the request that opened it renewed it, as any request would)."""
    await make_admin(client)
    admin = await login(client, "merchant", remember=True)  # outlives alice's session
    token, _ = await register(client)
    order, quiet = await make_order(client, token), await make_order(client, token)
    busy = await open_stream(client, token)
    idle = await open_stream(client, token, comm_order_id=quiet["id"])
    opened_expiry = await session_expiry(db, token)
    async with events_flowing(client, admin, order["id"], ADMIN_SEND):
        assert (await busy.next())["event"] in ("order.updated", "message.created")
        clock.advance(6 * 86400)  # less than half of the 10-day TTL left: due for renewal
        await asyncio.sleep(2 * live.CHECK_SECONDS + 0.2)  # two looks at the sessions
        assert await session_expiry(db, token) == opened_expiry  # the streams renewed nothing
        clock.advance(4 * 86400)  # the session's last second has passed
        started = asyncio.get_running_loop().time()
        for stream in (busy, idle):
            await ended_within(stream, started)
    assert_fail(await call(client, "GET", "/api/user/detail", token=token), 1001)
    busy.close()
    idle.close()


async def test_a_stream_ends_when_any_commit_revokes_its_session_even_while_events_flow(client, db):
    """Revoked past this process's own paths (another app server or process, or a
    future path that revokes sessions without telling the streams): the regular look
    at the streams' sessions ends them, events or not."""
    admin = await make_admin(client)
    token, user = await register(client)
    order, quiet = await make_order(client, token), await make_order(client, token)
    busy = await open_stream(client, token)
    idle = await open_stream(client, token, comm_order_id=quiet["id"])
    async with events_flowing(client, admin, order["id"], ADMIN_SEND):
        assert (await busy.next())["event"] in ("order.updated", "message.created")
        await query_rows(db, "DELETE FROM sessions WHERE user_id = ?", user["id"])
        started = asyncio.get_running_loop().time()
        for stream in (busy, idle):
            await ended_within(stream, started)
    busy.close()
    idle.close()


async def test_opening_a_stream_renews_its_session_like_any_request(client, db, clock):
    """The request that opens a stream is an ordinary one: past half its life, the
    session is renewed and a browser's cookie follows (before the stream's headers)."""
    token, _ = await register(client)
    clock.advance(6 * 86400)  # less than half of the 10-day TTL left
    response = await client.get(EVENTS, headers={"Cookie": f"token={token}"})
    assert response.status == 200
    cookie = response.cookies["token"]
    assert (cookie.value, cookie["max-age"]) == (token, str(10 * 86400))
    assert await session_expiry(db, token) == clock() + 10 * 86400
    response.close()


@pytest.mark.parametrize("how", ["logout", "logout all", "password"])
async def test_revoking_a_session_in_this_process_ends_its_streams_at_once(client, how):
    token, _ = await register(client)
    other = await login(client, "alice")
    order, quiet = await make_order(client, token), await make_order(client, other)
    busy = await open_stream(client, token)
    idle = await open_stream(client, token, comm_order_id=quiet["id"])
    untouched = await open_stream(client, other)
    async with events_flowing(client, other, order["id"]):
        assert (await busy.next())["event"] == "message.created"
        if how == "logout":
            await post(client, token, "/api/logout", {})
        elif how == "logout all":
            await post(client, other, "/api/logout", {"all": True})
        else:
            body = {"old_password": PASSWORD, "password": "another horse battery"}
            await post(client, other, "/api/user/password", body)
        started = asyncio.get_running_loop().time()
        for stream in (busy, idle):
            await ended_within(stream, started, 0.5)  # no need to wait for a look
    if how != "logout all":  # the calling session stays, and so do its streams
        assert (await untouched.next())["event"] in ("order.created", "message.created")
    for stream in (busy, idle, untouched):
        stream.close()


async def test_postgres_revocations_notify_every_app_server_at_commit(client, db):
    if not db.startswith("postgresql://"):
        pytest.skip("PostgreSQL: app servers are told of revocations by NOTIFY")
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(db)
    try:
        await listener.add_listener("orderdesk_sessions", lambda *args: heard.put_nowait(args[2]))
        token, _ = await register(client)
        await login(client, "alice")
        await post(client, token, "/api/logout", {"all": True})
        # (Channels are shared by every database on the server: other test runs may
        # be heard too, so only the arrival is checked.)
        async with asyncio.timeout(WAIT):
            assert await heard.get() == "orderdesk_sessions"
    finally:
        await listener.close()


# ---------------------------------------------------------------- a client that reads nothing


class ServedTestServer(TestServer):
    """The app as `orderdesk` serves it: a handler carries on when its client goes away
    (aiohttp's test server cancels it instead, which would hide what happens then)."""

    async def _make_runner(self, **kwargs: Any):
        return await super()._make_runner(**{**kwargs, "handler_cancellation": False})


@pytest.fixture
async def served(config, server_log, aiohttp_client):
    """As the `client` fixture, on a ServedTestServer."""
    server = ServedTestServer(create_app(config))
    await server.start_server(**SERVER_OPTIONS)
    return await aiohttp_client(server, cookie_jar=aiohttp.DummyCookieJar())


# An update whose order.updated event is about 77 KB (20,000 characters of 3 bytes each,
# and a 16 KB order_extra).
LARGE = {"content": "内" * 19990, "order_extra": {"k": "x" * 16000}}


async def large_update(client, token: str, order_id: int, i: int) -> None:
    body = {"id": order_id, **LARGE, "content": LARGE["content"] + str(i)}
    assert_ok(await update(client, token, **body))


@contextlib.asynccontextmanager
async def unread_stream(client, token: str) -> AsyncIterator[socket.socket]:
    """A GET /api/events whose client never reads; its small receive window makes the
    server's side fill up after little data. Open once the server has subscribed it."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, (client.server.host, client.server.port))
        request = f"GET {EVENTS} HTTP/1.1\r\nHost: test\r\nToken: {token}\r\n\r\n"
        await loop.sock_sendall(sock, request.encode())
        broadcaster = client.server.app[BROADCASTER]
        await wait_for(lambda: len(broadcaster.unsent_bytes()) == 1)
        yield sock


def held_by_transports(client) -> int:
    """What the server's connections buffer unsent (aiohttp's own view of them)."""
    handlers = client.server.runner.server.connections
    return max((h.transport.get_write_buffer_size() for h in handlers if h.transport), default=0)


async def read_to_end(sock: socket.socket, timeout: float = WAIT) -> int:
    """Read what the server sent until it ended the connection; how many bytes."""
    loop, total = asyncio.get_running_loop(), 0
    async with asyncio.timeout(timeout):
        with contextlib.suppress(ConnectionResetError):
            while data := await loop.sock_recv(sock, 1 << 16):
                total += len(data)
    return total


async def wait_for(condition, timeout: float = WAIT) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def test_a_stream_whose_client_reads_nothing_holds_at_most_1_mib(served):
    token, _ = await register(served)
    order = await make_order(served, token)
    broadcaster = served.server.app[BROADCASTER]
    async with unread_stream(served, token) as sock:
        # What the server holds, measured: everything but the test client's side (it
        # keeps every answer it received).
        leave_out = [tracemalloc.Filter(False, "*/aiohttp/client*")]
        tracemalloc.start()
        try:
            before = tracemalloc.take_snapshot().filter_traces(leave_out)
            held = []
            for i in range(80):  # about 6 MB of events
                await large_update(served, token, order["id"], i)
                await asyncio.sleep(0.01)  # the events reach the stream
                held.append(max(broadcaster.unsent_bytes(), default=0))
            after = tracemalloc.take_snapshot().filter_traces(leave_out)
        finally:
            tracemalloc.stop()
        grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
        # It filled up to the limit, never past it, and was cut there: nothing is held.
        assert live.MAX_UNSENT_BYTES // 2 < max(held) <= live.MAX_UNSENT_BYTES, held
        assert broadcaster.unsent_bytes() == []
        # (The answers still in flight and the database's buffers are in it too: ~1 MB.)
        assert grown < 2 * live.MAX_UNSENT_BYTES, f"{grown} bytes more held after the updates"
        sent = await read_to_end(sock)  # the connection was ended: what the kernel had
        assert sent < 80 * 77_000 // 2, sent


async def test_a_stream_that_sends_nothing_for_30_seconds_is_cut(served, monkeypatch):
    monkeypatch.setattr(live, "STALL_SECONDS", 1.0)
    token, _ = await register(served)
    order = await make_order(served, token)
    broadcaster = served.server.app[BROADCASTER]
    async with unread_stream(served, token) as sock:
        for i in range(200):  # until the kernel's buffers are full and the server holds some
            await large_update(served, token, order["id"], i)
            await asyncio.sleep(0.01)
            if held_by_transports(served):
                break
        assert 0 < held_by_transports(served) < live.MAX_UNSENT_BYTES  # not too much
        server = served.server.runner.server
        (connection,) = [c for c in server.connections if c.transport.get_write_buffer_size()]
        # Nothing read from here on: the server ends the connection by itself.
        started = asyncio.get_running_loop().time()
        limit = live.STALL_SECONDS + 2 * live.CHECK_SECONDS + 2
        await wait_for(lambda: connection not in server.connections, limit)
        took = asyncio.get_running_loop().time() - started
        assert took > live.STALL_SECONDS / 2, took
        assert broadcaster.unsent_bytes() == []
        await read_to_end(sock)


async def test_a_client_gone_while_the_server_waits_to_write_is_no_error(served):
    """The server waits for the client to take a write (its buffers are full) when the
    client goes away: the stream ends, and nothing is logged as an error (the
    server_log fixture fails the test if an ERROR or a traceback was logged)."""
    token, _ = await register(served)
    order = await make_order(served, token)
    broadcaster = served.server.app[BROADCASTER]
    async with unread_stream(served, token) as sock:
        for i in range(200):  # until the transport is past its high-water mark (64 KiB)
            await large_update(served, token, order["id"], i)
            await asyncio.sleep(0.01)
            if held_by_transports(served) > 64 * 1024:
                break
        assert 64 * 1024 < held_by_transports(served) < live.MAX_UNSENT_BYTES
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # Closed with a reset: the client is gone.
    await large_update(served, token, order["id"], -1)
    await wait_for(lambda: broadcaster.unsent_bytes() == [])
