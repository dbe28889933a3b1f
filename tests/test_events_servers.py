"""Live events with real server processes: the stop with open streams (both engines), two
app servers on one PostgreSQL database, and streams ending with their session wherever
it was revoked."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest

from tests.conftest import PASSWORD, postgres_database
from tests.faults import assert_no_faults_logged
from tests.live import LiveServer, repeating, run_cli
from tests.test_events import ADMIN_SEND, EVENTS, WAIT, Stream, ended_within

pytestmark = pytest.mark.slow  # several server processes

ORDER = {"archive_id": 1, "title": "t", "content": "c", "phone": "12345"}
SEND = "/api/communication/message/send"


async def open_stream(session: aiohttp.ClientSession, server: LiveServer, token: str) -> Stream:
    response = await session.get(server.url + EVENTS, headers={"Token": token})
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert (await response.content.readline()).startswith(b"retry: ")
    return Stream(response)


def start(db: str, tmp_path, name: str) -> LiveServer:
    return LiveServer(db, "--max-registrations-per-hour", "0", log=tmp_path / f"{name}.log")


@contextlib.asynccontextmanager
async def two_servers(tmp_path) -> AsyncIterator[tuple[str, LiveServer, LiveServer]]:
    """Two app servers on one new PostgreSQL database: its URL and the servers."""
    async with postgres_database() as url:
        first = await asyncio.to_thread(start, url, tmp_path, "a")
        second = await asyncio.to_thread(start, url, tmp_path, "b")
        with first, second:
            yield url, first, second


async def test_sigterm_with_open_streams_stops_at_once(db, tmp_path):
    server = await asyncio.to_thread(start, db, tmp_path, "server")
    with server:
        tokens = [await asyncio.to_thread(server.register, f"user{i}") for i in range(3)]
        async with aiohttp.ClientSession() as session:
            streams = [await open_stream(session, server, t) for t in tokens for _ in range(2)]
            started = time.monotonic()
            code = await asyncio.to_thread(server.stop, WAIT)
            stopped = time.monotonic() - started
            for stream in streams:
                assert await stream.next() is None
                stream.close()
        assert code == 0
        # Without ending the streams, runner.cleanup would wait its 30 s shutdown timeout.
        assert stopped < 5, stopped
        assert_no_faults_logged(server.log_path.read_text())


async def test_an_event_through_one_server_reaches_streams_on_the_other(tmp_path):
    async with two_servers(tmp_path) as (_, first, second):
        token = await asyncio.to_thread(first.register, "alice")
        other = await asyncio.to_thread(second.register, "bob")
        async with aiohttp.ClientSession() as session:
            on_second = await open_stream(session, second, token)
            bobs_on_first = await open_stream(session, first, other)
            created = await asyncio.to_thread(
                first.call, "POST", "/api/communication/order/create", ORDER, token
            )
            order_id = created["data"]["id"]
            assert (await on_second.next())["data"] == created["data"]
            for i in range(5):
                body = {"comm_order_id": order_id, "message_type": "text", "content": str(i)}
                via = (first, second)[i % 2]
                answer = await asyncio.to_thread(via.call, "POST", SEND, body, token)
                answered = time.monotonic()
                event = await on_second.next()
                delay = time.monotonic() - answered
                assert event["data"] == answer["data"]
                assert delay < 1.0, f"event {i} reached the other server after {delay:.2f}s"
            # Bob's stream on the first server carried none of Alice's events.
            theirs = await asyncio.to_thread(
                second.call, "POST", "/api/communication/order/create", ORDER, other
            )
            assert (await bobs_on_first.next())["data"] == theirs["data"]
            on_second.close()
            bobs_on_first.close()
        first.assert_no_faults()
        second.assert_no_faults()


async def test_an_event_whose_notification_was_lost_still_arrives(tmp_path):
    """The table is the truth: a row committed without NOTIFY (as if the notification was
    lost) reaches the stream through the broadcaster's regular look."""
    async with postgres_database() as url:
        server = await asyncio.to_thread(start, url, tmp_path, "server")
        with server:
            token = await asyncio.to_thread(server.register, "alice")
            created = await asyncio.to_thread(
                server.call, "POST", "/api/communication/order/create", ORDER, token
            )
            order = created["data"]
            async with aiohttp.ClientSession() as session:
                stream = await open_stream(session, server, token)
                conn = await asyncpg.connect(url)
                try:
                    await conn.execute(
                        """INSERT INTO events (type, comm_order_id, user_id, data, created_time)
                           VALUES ('order.updated', $1, $2, $3, $4)""",
                        order["id"],
                        order["user_id"],
                        '{"written": "without a notification"}',
                        int(time.time()),
                    )
                finally:
                    await conn.close()
                event = await stream.next()
                assert (event["event"], event["data"]) == (
                    "order.updated",
                    {"written": "without a notification"},
                )
                stream.close()
            server.assert_no_faults()


# ---------------------------------------------------------------- streams end with their session


def events_flowing(
    server: LiveServer, token: str, order_id: int, path: str = SEND
) -> contextlib.AbstractAsyncContextManager[None]:
    """Messages sent to the order, one after another, while the block runs."""

    async def send(i: int) -> None:
        body = {"comm_order_id": order_id, "message_type": "text", "content": f"m{i}"}
        answer = await asyncio.to_thread(server.call, "POST", path, body, token)
        assert answer["code"] == 0, answer

    return repeating(send)


def login(server: LiveServer, name: str, password: str = PASSWORD) -> str:
    answer = server.call("POST", "/api/login", {"user_name": name, "password": password})
    assert answer["code"] == 0, answer
    return answer["data"]["token"]


async def busy_and_idle_streams(
    session: aiohttp.ClientSession, server: LiveServer, token: str, quiet_order_id: int
) -> tuple[Stream, Stream]:
    """Two streams of the session: one with every event of its user, one narrowed to an
    order that stays quiet (it only gets pings: every 15 s on a real server)."""
    busy = await open_stream(session, server, token)
    response = await session.get(
        server.url + EVENTS, headers={"Token": token}, params={"comm_order_id": quiet_order_id}
    )
    assert (await response.content.readline()).startswith(b"retry: ")
    return busy, Stream(response)


@contextlib.asynccontextmanager
async def streams_ending(
    server: LiveServer,
    token: str,
    *,
    orders_by: str,
    sent_by: tuple[LiveServer, str],
    path: str = SEND,
    first_events: tuple[str, ...] = ("message.created",),
) -> AsyncIterator[None]:
    """The block revokes the session `token`. Around it: two orders of `orders_by` (one
    quiet), a busy and an idle stream of the session on `server`, and messages flowing
    to the other order (sent by `sent_by`, a server and a token, to `path`) from the
    first event the busy stream carries (one of `first_events`) until both streams have
    ended within the bound of the block's end; then no server involved logged a fault."""
    sender, sender_token = sent_by
    order = await asyncio.to_thread(
        server.call, "POST", "/api/communication/order/create", ORDER, orders_by
    )
    quiet = await asyncio.to_thread(
        server.call, "POST", "/api/communication/order/create", ORDER, orders_by
    )
    async with aiohttp.ClientSession() as session:
        busy, idle = await busy_and_idle_streams(session, server, token, quiet["data"]["id"])
        async with events_flowing(sender, sender_token, order["data"]["id"], path):
            assert (await busy.next())["event"] in first_events
            yield
            started = asyncio.get_running_loop().time()
            for stream in (busy, idle):
                await ended_within(stream, started)
        busy.close()
        idle.close()
    for each in dict.fromkeys((server, sender)):
        each.assert_no_faults()


async def test_an_admins_stream_ends_when_it_logs_out_everywhere_on_another_server(tmp_path):
    async with two_servers(tmp_path) as (url, first, second):
        created = await asyncio.to_thread(
            run_cli, "create-admin", "--db", url, "--username", "boss", "--password", PASSWORD
        )
        assert created.returncode == 0, created.stderr
        admin = await asyncio.to_thread(login, first, "boss")
        bob = await asyncio.to_thread(first.register, "bob")
        async with streams_ending(first, admin, orders_by=bob, sent_by=(second, bob)):
            answer = await asyncio.to_thread(
                second.call, "POST", "/api/logout", {"all": True}, admin
            )
            assert answer["code"] == 0


async def test_a_stream_ends_when_its_password_is_changed_on_another_server(tmp_path):
    async with two_servers(tmp_path) as (_, first, second):
        token = await asyncio.to_thread(first.register, "alice")
        other = await asyncio.to_thread(login, second, "alice")
        # Her other session keeps writing, on the other server, and stays.
        async with streams_ending(first, token, orders_by=token, sent_by=(second, other)):
            body = {"old_password": PASSWORD, "password": "another horse battery"}
            answer = await asyncio.to_thread(second.call, "POST", "/api/user/password", body, other)
            assert answer["code"] == 0


async def test_a_stream_ends_when_create_admin_revokes_its_session(db, tmp_path):
    """create-admin runs in a process of its own while the server serves the database
    (SQLite: the same file)."""
    server = await asyncio.to_thread(start, db, tmp_path, "server")
    with server:
        merchant = ("create-admin", "--db", db, "--username", "merchant", "--password", PASSWORD)
        assert (await asyncio.to_thread(run_cli, *merchant)).returncode == 0
        admin = await asyncio.to_thread(login, server, "merchant")
        token = await asyncio.to_thread(server.register, "boss")
        async with streams_ending(
            server,
            token,
            orders_by=token,
            sent_by=(server, admin),
            path=ADMIN_SEND,
            first_events=("order.updated", "message.created"),
        ):
            promote = ("create-admin", "--db", db, "--username", "boss", "--password", PASSWORD)
            promoted = await asyncio.to_thread(run_cli, *promote)
            assert promoted.returncode == 0, promoted.stderr
