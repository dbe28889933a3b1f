"""PostgreSQL round trips per request, counted on the wire between the app
server and the database, and the field definitions it keeps in memory staying right
when another app server changes them."""

import asyncio
import contextlib
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from orderdesk.app import create_app
from orderdesk.config import Config
from orderdesk.keys import BROADCASTER, OUTBOX
from orderdesk.store import open_store
from orderdesk.store.tx import Tx, one_statement

from tests.conftest import (
    assert_fail,
    assert_ok,
    call,
    make_admin,
    make_order,
    postgres_database,
    query_rows,
)

FIELDS = "/api/admin/communication/fields"


class RoundTripCounter:
    """A TCP relay in front of PostgreSQL. The protocol is request and answer, so each
    time the client starts sending again after the server has answered (or for the first
    time on a connection) is one round trip."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.round_trips = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task] = set()
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self._server.close()
        for pipe in self._pipes:
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        for writer in self._writers:
            writer.close()

    async def _relay(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter):
        server_in, server_out = await asyncio.open_connection(*self.upstream)
        self._writers += [client_out, server_out]
        turn = {"client": False}  # True while the client is sending

        async def pipe(source, sink, from_client: bool) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await source.read(65536):
                    if from_client and not turn["client"]:
                        self.round_trips += 1
                    turn["client"] = from_client
                    sink.write(data)
                    await sink.drain()
            sink.close()

        for source, sink, from_client in (
            (client_in, server_out, True),
            (server_in, client_out, False),
        ):
            task = asyncio.ensure_future(pipe(source, sink, from_client))
            self._pipes.add(task)


@contextlib.asynccontextmanager
async def counted_postgres():
    """A fresh PostgreSQL schema reached through a RoundTripCounter: (url, counter)."""
    async with postgres_database() as url:
        parts = urlsplit(url)
        counter = RoundTripCounter(parts.hostname, parts.port or 5432)
        port = await counter.start()
        user = f"{parts.username}@" if parts.username else ""
        relayed = urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{port}"))
        try:
            yield relayed, counter
        finally:
            await counter.close()


@contextlib.asynccontextmanager
async def app_client(db: str):
    """An app server on `db`, closed (its pool too) before the database goes."""
    server = TestServer(create_app(Config(db=db, session_ttl=3600)))
    client = TestClient(server, cookie_jar=aiohttp.DummyCookieJar())
    await client.start_server()
    # Only requests' own statements count: the background workers, which read and prune
    # on their own schedule (live events' broadcaster, the delivery worker), are stopped.
    await client.server.app[BROADCASTER].stop()
    await client.server.app[OUTBOX].stop()
    try:
        yield client
    finally:
        await client.close()


async def customer_token(client) -> str:
    body = await call(
        client, "POST", "/api/register", json={"user_name": "alice", "password": "pass word 1"}
    )
    return assert_ok(body)["token"]


async def update(client, token: str, order_id: int, extra: dict) -> dict:
    return await call(
        client,
        "POST",
        "/api/communication/order/update",
        token=token,
        json={"id": order_id, "order_extra": extra},
    )


# An authenticated update on PostgreSQL: the session (with the field definitions'
# version), BEGIN, the locked read, one statement writing the order, its system
# message, its events and their deliveries, COMMIT. Was about 14.
UPDATE_ROUND_TRIPS = 5


@pytest.mark.parametrize("subscribed", [False, True], ids=["no webhook", "a webhook"])
async def test_an_authenticated_update_takes_a_fixed_number_of_round_trips(server_log, subscribed):
    async with counted_postgres() as (db, counter), app_client(db) as client:
        token = await customer_token(client)
        if subscribed:  # the update's deliveries are written in the same statement
            admin = await make_admin(client)
            hook = {"url": "http://93.184.216.34/hook", "events": ["order.updated"]}
            assert_ok(await call(client, "POST", "/api/admin/webhooks", token=admin, json=hook))
        order = await make_order(client, token)
        # The first update prepares its statements and reads the field definitions.
        assert_ok(await update(client, token, order["id"], {"size": "M"}))
        counter.round_trips = 0
        updated = assert_ok(await update(client, token, order["id"], {"size": "L"}))
        assert counter.round_trips <= UPDATE_ROUND_TRIPS, counter.round_trips
        assert (updated["order_extra"]["size"], updated["version"]) == ("L", 3)
        thread = assert_ok(
            await call(
                client,
                "GET",
                "/api/communication/order/detail",
                token=token,
                params={"id": order["id"]},
            )
        )["messages"]
        assert [m["content"] for m in thread][-1] == "order updated: order_extra.size"
        deliveries = await query_rows(
            db, "SELECT event_type FROM deliveries WHERE webhook_id IS NOT NULL"
        )
        assert deliveries == ([("order.updated",)] * 2 if subscribed else [])


# A detail on PostgreSQL: the session (with the field definitions' version), then one
# statement, outside a transaction (the order with its customer, thread size, reader
# keys and last messages). Was 9, then 5 (BEGIN, the order, its messages, COMMIT).
DETAIL_ROUND_TRIPS = 2


async def test_a_detail_takes_a_fixed_number_of_round_trips(server_log):
    async with counted_postgres() as (db, counter), app_client(db) as client:
        token = await customer_token(client)
        admin = await make_admin(client)
        order = await make_order(client, token)
        assert_ok(await update(client, token, order["id"], {"size": "L"}))
        note = {"id": order["id"], "content": "call her back"}
        path = "/api/admin/communication/order/note"
        assert_ok(await call(client, "POST", path, token=admin, json=note))
        message = {"comm_order_id": order["id"], "message_type": "text", "content": "thanks"}
        path = "/api/communication/message/send"
        assert_ok(await call(client, "POST", path, token=token, json=message))
        detail = {"id": order["id"]}
        for caller, path, thread in (
            (
                token,
                "/api/communication/order/detail",
                ["order updated: order_extra.size", "thanks"],
            ),
            (
                admin,
                "/api/admin/communication/order/detail",
                ["order updated: order_extra.size", "call her back", "thanks"],
            ),
        ):
            # The first detail prepares its statement.
            assert_ok(await call(client, "GET", path, token=caller, params=detail))
            counter.round_trips = 0
            shown = assert_ok(await call(client, "GET", path, token=caller, params=detail))
            assert counter.round_trips <= DETAIL_ROUND_TRIPS, counter.round_trips
            assert shown["user"]["user_name"] == "alice"
            # Oldest first; the customer's side without the note.
            assert [m["content"] for m in shown["messages"]] == thread, shown["messages"]
            assert shown["messages_total"] == len(thread)


# A list on PostgreSQL: the session (with the field definitions' version), then one
# statement, outside a transaction (its count, its page and the page's reader keys).
# Was 6: BEGIN, the count, the page, the reader keys, COMMIT.
LIST_ROUND_TRIPS = 2


@pytest.mark.parametrize(
    "query",
    [{}, {"sort": "activity", "unread": "1"}, {"q": "ALICE", "current": "3"}],
    ids=["whole", "unread by activity", "searched, past the end"],
)
async def test_a_list_takes_a_fixed_number_of_round_trips(server_log, query):
    async with counted_postgres() as (db, counter), app_client(db) as client:
        token = await customer_token(client)
        admin = await make_admin(client)
        order = await make_order(client, token)
        # The admin's message: unread on the customer's side only.
        assert_ok(await update(client, token, order["id"], {"size": "L"}))
        reply = {"comm_order_id": order["id"], "message_type": "text", "content": "which colour?"}
        path = "/api/admin/communication/message/send"
        assert_ok(await call(client, "POST", path, token=admin, json=reply))
        for caller, path, shown in (
            # Only the merchant's list searches (here the customer's name); the
            # customer's takes no `q`.
            (token, "/api/communication/orders", [order["id"]]),
            (admin, "/api/admin/communication/orders", [] if "unread" in query else [order["id"]]),
        ):
            # The first list prepares its statement.
            assert_ok(await call(client, "GET", path, token=caller, params=query))
            counter.round_trips = 0
            body = await call(client, "GET", path, token=caller, params=query)
            assert counter.round_trips <= LIST_ROUND_TRIPS, counter.round_trips
            listed = assert_ok(body)
            assert body["total"] == len(shown), body
            if "current" in query:  # a page past the end still counts the whole list
                shown = []
            assert [item["id"] for item in listed] == shown, body


@one_statement
async def _two_statements(tx: Tx) -> int:
    await tx.value("SELECT 1")
    return int(await tx.value("SELECT 2"))


async def test_a_read_marked_as_one_statement_may_not_run_a_second():
    """Outside a transaction a second statement would see another snapshot: PostgreSQL's
    engine refuses it rather than answer from two."""
    async with postgres_database() as db:
        store = await open_store(db)
        try:
            with pytest.raises(RuntimeError, match="ran a second statement"):
                await store.read(_two_statements)
        finally:
            await store.close()


async def test_an_unchanged_update_writes_nothing(server_log):
    async with counted_postgres() as (db, counter), app_client(db) as client:
        token = await customer_token(client)
        order = await make_order(client, token, order_extra={"size": "M"})
        assert_ok(await update(client, token, order["id"], {"size": "L"}))
        counter.round_trips = 0
        same = assert_ok(await update(client, token, order["id"], {"size": "L"}))
        assert same["version"] == 2
        assert counter.round_trips <= 4, counter.round_trips  # no update, no message


async def test_field_definitions_changed_on_another_server_apply_at_once(server_log):
    async with postgres_database() as db, app_client(db) as one, app_client(db) as other:
        token = await customer_token(one)
        admin = await make_admin(other)
        order = await make_order(one, token)
        assert_ok(await update(one, token, order["id"], {"size": "XL"}))  # none defined

        sizes = [{"field_name": "size", "type": "select", "options": ["S", "M", "L"]}]
        assert_ok(await call(other, "POST", FIELDS, token=admin, json={"fields": sizes}))
        refused = await update(one, token, order["id"], {"size": "XXL"})
        assert_fail(refused, msg="order_extra.size must be one of the field's options")

        assert_ok(await call(other, "POST", FIELDS, token=admin, json={"fields": []}))
        assert_ok(await update(one, token, order["id"], {"size": "XXL"}))
