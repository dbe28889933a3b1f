"""Live events (spec 8): GET /api/events on both engines."""

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from orderdesk.app import create_app
from orderdesk.config import Config
from orderdesk.keys import CONFIG, STORE
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


async def test_a_session_revoked_or_expired_elsewhere_ends_at_the_next_ping(client, db, clock):
    """Revoked past this process (another app server, the create-admin command): the
    stream notices at its next ping; so does one whose session expired."""
    token, _ = await register(client)
    bob, _ = await register(client, "bob")
    revoked, expiring = await open_stream(client, token), await open_stream(client, bob)
    alices = "SELECT id FROM users WHERE user_name = 'alice'"
    await query_rows(db, f"DELETE FROM sessions WHERE user_id = ({alices})")
    assert await revoked.next() is None
    clock.advance(10 * 86400 + 1)  # past the session's TTL
    assert await expiring.next() is None
    for stream in (revoked, expiring):
        stream.close()
