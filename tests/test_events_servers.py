"""Live events with real server processes: the stop with open streams (both engines), and
two app servers on one PostgreSQL database."""

import asyncio
import time

import aiohttp
import asyncpg
import pytest

from tests.conftest import postgres_database
from tests.faults import assert_no_faults_logged
from tests.live import LiveServer
from tests.test_events import EVENTS, WAIT, Stream

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
    async with postgres_database() as url:
        first = await asyncio.to_thread(start, url, tmp_path, "a")
        second = await asyncio.to_thread(start, url, tmp_path, "b")
        with first, second:
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
