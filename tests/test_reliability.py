"""Nothing acknowledged is lost: a killed server, a graceful stop, online backups.

These run the real `python run.py` as a subprocess."""

import asyncio
import http.client
import json
import sqlite3
import threading
import time
from pathlib import Path

import aiohttp
import pytest
from orderdesk import security
from orderdesk.keys import STORE
from orderdesk.store import open_store
from orderdesk.store.sqlite import BACKSTOP_CHECKPOINT_PAGES

from tests.conftest import assert_ok, call, make_order, postgres_database, register
from tests.live import ROOT, LiveServer, run_cli

CLIENTS = 4


def hammer(server: LiveServer, token: str, order_id: int, prefix: str, acked: list, stop) -> None:
    """Merge one new key per request until told to stop or the server dies; remember
    every key acknowledged with code 0."""
    for i in range(10_000):
        if stop.is_set():
            return
        key = f"{prefix}{i}"
        try:
            body = server.call(
                "POST",
                "/api/communication/order/update",
                {"id": order_id, "order_extra": {key: i}},
                token,
            )
        except (OSError, AssertionError):
            return  # the server is gone: this request was never acknowledged
        if body["code"] == 0:
            acked.append(key)


def make_live_order(server: LiveServer, token: str) -> int:
    body = server.call(
        "POST",
        "/api/communication/order/create",
        {"archive_id": 1, "title": "t", "content": "c", "phone": "12345"},
        token,
    )
    return body["data"]["id"]


@pytest.mark.slow  # a real server process
def test_every_acknowledged_update_survives_sigkill(tmp_path):
    db = tmp_path / "crash.db"
    with LiveServer(db) as server:
        tokens = [server.register(f"user{n}") for n in range(CLIENTS)]
        orders = [make_live_order(server, token) for token in tokens]
        acked: list[list[str]] = [[] for _ in range(CLIENTS)]
        stop = threading.Event()
        threads = [
            threading.Thread(
                target=hammer, args=(server, tokens[n], orders[n], f"c{n}k", acked[n], stop)
            )
            for n in range(CLIENTS)
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while sum(map(len, acked)) < 300 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.kill()  # SIGKILL, mid-stream
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert sum(map(len, acked)) >= 300

    assert run_cli("check", "--db", str(db)).stdout.strip() == "ok"
    with LiveServer(db) as restarted:
        for n in range(CLIENTS):
            body = restarted.call(
                "GET", f"/api/communication/order/detail?id={orders[n]}", token=tokens[n]
            )
            stored = body["data"]["order_extra"]
            missing = [key for key in acked[n] if key not in stored]
            assert not missing, f"acknowledged but lost: {missing[:5]}"
            assert body["data"]["version"] == len(stored) + 1


STEADY_UPDATES = 20_000  # about 4 backstops' worth of WAL pages, measured


@pytest.mark.slow  # a real server process
def test_the_wal_starts_over_under_a_steady_stream_of_writes(tmp_path):
    """A checkpoint beside a busy writer never copies the whole WAL, and only a WAL
    copied whole lets the next write start it over: without the part of each checkpoint
    run on the writer's thread, the WAL grew to the writer's backstop (a checkpoint of
    thousands of pages inside one COMMIT; this test then saw the file reach it). Here
    updates never stop until several backstops' worth of pages are written; the WAL's
    file, which grows only when a write goes past its end, must stay well under one
    (this machine: at most 16 MB of the backstop's 41)."""
    db = tmp_path / "steady.db"
    wal = db.with_name(db.name + "-wal")
    with LiveServer(db) as server:
        tokens = [server.register(f"user{n}") for n in range(CLIENTS)]
        orders = [make_live_order(server, token) for token in tokens]
        largest_wal = asyncio.run(update_steadily(server, tokens, orders, wal))
        server.assert_no_faults()
    assert largest_wal < BACKSTOP_CHECKPOINT_PAGES * 4096 * 3 / 4, (
        f"the WAL reached {largest_wal} B"
    )


async def update_steadily(
    server: LiveServer, tokens: list[str], orders: list[int], wal: Path
) -> int:
    """STEADY_UPDATES updates from 16 clients at once, none refused; the WAL file's
    largest size meanwhile."""
    sent = 0
    largest = 0

    async def client(session: aiohttp.ClientSession, n: int) -> None:
        nonlocal sent, largest
        token, order_id = tokens[n % CLIENTS], orders[n % CLIENTS]
        while sent < STEADY_UPDATES:
            sent += 1
            change = {"id": order_id, "order_extra": {f"k{sent % 20}": sent}}
            async with session.post(
                f"{server.url}/api/communication/order/update",
                json=change,
                headers={"Token": token},
            ) as response:
                assert (await response.json())["code"] == 0
            largest = max(largest, wal.stat().st_size)

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(client(session, n) for n in range(16)))
    return largest


@pytest.mark.slow  # a real server process
def test_sigterm_lets_in_flight_requests_finish(tmp_path):
    """Registrations hash a password (tens of ms each) while SIGTERM arrives."""
    db = tmp_path / "graceful.db"
    # The real scrypt cost, so the requests are still hashing when SIGTERM arrives.
    server = LiveServer(db, env={"ORDERDESK_SCRYPT_COST": str(security.SCRYPT_COST_DEFAULT)})
    answers: list[dict] = []
    sent = threading.Semaphore(0)

    def register_one(n: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        body = json.dumps({"user_name": f"u{n}", "password": "long enough"})
        try:
            connection.request("POST", "/api/register", body, {"Content-Type": "application/json"})
            sent.release()
            answers.append(json.loads(connection.getresponse().read()))
        except OSError as error:
            answers.append({"error": repr(error)})
        finally:
            connection.close()

    threads = [threading.Thread(target=register_one, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for _ in threads:
        assert sent.acquire(timeout=30)  # every request is on the wire
    time.sleep(0.02)  # and read by the server, whose loop is free while scrypt runs
    assert server.stop() == 0
    for thread in threads:
        thread.join(timeout=30)
    assert [a.get("code") for a in answers] == [0] * 6, answers
    assert not db.with_name(db.name + "-wal").exists()  # closed cleanly: WAL checkpointed
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 6


async def test_shutdown_waits_for_a_handler_in_progress(tmp_path, monkeypatch):
    """The same guarantee, deterministic: the handler is provably running when the
    runner starts its cleanup (what SIGTERM triggers), and the database closes after."""
    from aiohttp import ClientSession, web
    from orderdesk.app import create_app
    from orderdesk.config import Config

    from tests.live import free_port

    app = create_app(Config(db=str(tmp_path / "t.db")))
    runner = web.AppRunner(app, shutdown_timeout=10)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    entered, release = asyncio.Event(), asyncio.Event()
    store = app[STORE]
    original = store.field_definitions

    async def slow_fields():
        entered.set()
        await release.wait()
        return await original()

    monkeypatch.setattr(store, "field_definitions", slow_fields)
    async with ClientSession() as session:
        request = asyncio.create_task(
            session.get(f"http://127.0.0.1:{port}/api/communication/fields")
        )
        await entered.wait()
        cleanup = asyncio.create_task(runner.cleanup())
        await asyncio.sleep(0.1)
        assert not cleanup.done()  # waiting for the request
        release.set()
        response = await request
        assert (await response.json()) == {"code": 0, "msg": "ok", "data": []}
        await cleanup


@pytest.mark.slow  # a real server process
def test_online_backup_and_check_while_serving(tmp_path):
    db, copy = tmp_path / "live.db", tmp_path / "backups" / "copy.db"
    with LiveServer(db) as server:
        token = server.register("alice")
        created = server.call(
            "POST",
            "/api/communication/order/create",
            {"archive_id": 1, "title": "kept", "content": "c", "phone": "12345"},
            token,
        )
        stop = threading.Event()
        acked: list[str] = []
        writer = threading.Thread(
            target=hammer, args=(server, token, created["data"]["id"], "k", acked, stop)
        )
        writer.start()
        while len(acked) < 20:
            time.sleep(0.01)
        result = run_cli("backup", "--db", str(db), "--to", str(copy))
        stop.set()
        writer.join(timeout=30)
        assert result.returncode == 0, result.stderr
        checked = run_cli("check", "--db", str(db))
        assert (checked.returncode, checked.stdout.strip()) == (0, "ok")

    checked = run_cli("check", "--db", str(copy))
    assert (checked.returncode, checked.stdout.strip()) == (0, "ok")
    with sqlite3.connect(copy) as conn:
        title, extra = conn.execute("SELECT title, order_extra FROM comm_orders").fetchone()
    assert title == "kept" and extra.count('"k') >= 20


def test_check_reports_a_damaged_file(tmp_path):
    db = tmp_path / "broken.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.executescript((ROOT / "schema.sql").read_text())
        conn.execute(
            "INSERT INTO messages (comm_order_id, sender_id, sender_type, sender_name,"
            " message_type, content, created_time) VALUES (42, 0, 'system', 's', 'text', 'x', 0)"
        )
    result = run_cli("check", "--db", str(db))
    assert result.returncode == 1
    assert "foreign key: messages row 1 points to a missing comm_orders" in result.stdout


@pytest.mark.parametrize("command", ["backup", "check"])
def test_maintenance_commands_refuse_a_missing_database(tmp_path, command):
    args = ["--db", str(tmp_path / "none.db")] + (["--to", "x.db"] if command == "backup" else [])
    result = run_cli(command, *args)
    assert result.returncode == 2 and "no database at" in result.stderr


async def test_synchronous_full_is_applied(tmp_path, aiohttp_client):
    from orderdesk.app import create_app
    from orderdesk.config import Config

    client = await aiohttp_client(create_app(Config(db=str(tmp_path / "f.db"), synchronous="full")))
    token, _ = await register(client)
    await make_order(client, token)
    assert_ok(await call(client, "GET", "/api/communication/orders", token=token))
    level = await client.server.app[STORE]._writes.conn.execute_fetchall("PRAGMA synchronous")
    assert list(level)[0][0] == 2  # FULL


async def test_a_write_postgresql_ends_to_break_a_deadlock_runs_again():
    """Two writes that lock the same two rows in opposite orders: PostgreSQL ends one to
    break the deadlock, and the store runs it again, so both commit. (SQLite has one
    writer at a time: it cannot deadlock.)"""
    async with postgres_database() as url:
        store = await open_store(url)
        try:
            await store.write(lambda tx: tx.run(
                "INSERT INTO users (id, user_name, password_hash, created_time) "
                "VALUES (1, 'a', 'x', 0), (2, 'b', 'x', 0)"))  # fmt: skip
            holding = {1: asyncio.Event(), 2: asyncio.Event()}
            runs = []

            async def rename(tx, first: int, second: int) -> None:
                runs.append(first)
                await tx.run("UPDATE users SET created_time = ? WHERE id = ?", first, first)
                holding[first].set()
                await holding[second].wait()
                await tx.run("UPDATE users SET created_time = ? WHERE id = ?", first, second)

            await asyncio.gather(store.write(rename, 1, 2), store.write(rename, 2, 1))
            assert sorted(runs) in ([1, 1, 2], [1, 2, 2])  # one of them ran twice
            times = await store.read(lambda tx: tx.all("SELECT DISTINCT created_time FROM users"))
            assert len(times) == 1  # the one run again wrote both rows last
        finally:
            await store.close()
