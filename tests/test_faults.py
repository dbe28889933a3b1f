"""Operating under faults, for real: a full disk (a small tmpfs filled to the last byte),
a read-only file or database, PostgreSQL away or refusing, a port already taken, a
mistyped --db. Writes are refused with their own clear text and change nothing, reads
go on, /healthz says degraded, the condition is logged once, and everything recovers
without a restart; a server that cannot start says why in one line and exits 1."""

import asyncio
import contextlib
import errno
import io
import logging
import os
import pwd
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestServer
from orderdesk import texts
from orderdesk.app import SERVER_OPTIONS, create_app
from orderdesk.background import Backoff
from orderdesk.config import Config
from orderdesk.store import PROBE_SECONDS, WriteState
from orderdesk.store.sqlite import cannot_write

from tests.conftest import (
    ORDER,
    PASSWORD,
    POSTGRES_URL,
    assert_fail,
    assert_ok,
    call,
    make_admin,
    make_order,
    postgres_database_for_live_server,
    register,
)
from tests.live import ROOT, LiveServer, free_port

CANNOT_SAVE = texts.CANNOT_SAVE.en
CANNOT_WRITE_LINE = "the database cannot be written"
SEND = "/api/communication/message/send"
UPDATE = "/api/communication/order/update"
DETAIL = "/api/communication/order/detail"
UPLOAD = "/api/attachment/upload"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


# ---------------------------------------------------------------- real faults


@contextlib.contextmanager
def small_disk(path: Path, size: str = "8m"):
    """A tmpfs of `size` mounted at `path` (we run as root), unmounted after."""
    path.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                       check=True, capture_output=True)  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"cannot mount a tmpfs here: {error}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(disk: Path) -> Path:
    """A filler file taking the disk's every free byte: written in ever smaller pieces
    until not one more byte fits."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as out:
        piece = 1 << 20
        while piece:
            try:
                out.write(b"\0" * piece)
            except OSError as error:
                assert error.errno == errno.ENOSPC, error
                piece //= 2
    stats = os.statvfs(disk)
    assert stats.f_bavail == 0, stats
    return filler


def pdf_form(extra: int = 0) -> FormData:
    form = FormData(quote_fields=False, default_to_multipart=True)
    form.add_field("file", io.BytesIO(PDF + b"%" * extra), filename="brief.pdf",
                   content_type="application/octet-stream")  # fmt: skip
    return form


async def served(client, path: str = "/healthz") -> tuple[int, dict]:
    response = await client.get(path)
    return response.status, await response.json()


def refusals(log_lines: list[str]) -> list[str]:
    return [line for line in log_lines if CANNOT_WRITE_LINE in line]


async def start_client(aiohttp_client, config: Config):
    server = TestServer(create_app(config))
    await server.start_server(**SERVER_OPTIONS)
    return await aiohttp_client(server)


# ---------------------------------------------------------------- a full disk (SQLite)


@pytest.mark.slow
@pytest.mark.faults_expected
async def test_a_full_disk_refuses_writes_clearly_serves_reads_and_recovers(
    tmp_path, clock, server_log, aiohttp_client
):
    with small_disk(tmp_path / "disk") as disk:
        db = disk / "orderdesk.db"
        client = await start_client(aiohttp_client, Config(db=str(db), clock=clock))
        token, _ = await register(client, "alice")
        order = await make_order(client, token)
        acknowledged = []
        for i in range(5):
            sent = {"comm_order_id": order["id"], "message_type": "text", "content": f"m{i}"}
            acknowledged.append(assert_ok(await call(client, "POST", SEND, token=token, json=sent)))
        item = assert_ok(await call(client, "POST", UPLOAD, token=token, data=pdf_form()))
        # No slack left in the WAL file: every write from now on needs new space.
        with sqlite3.connect(db) as outside:
            outside.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        filler = fill(disk)

        # Every kind of write is refused with its own text, and changes nothing.
        message = {"comm_order_id": order["id"], "message_type": "text", "content": "lost"}
        writes = [
            ("POST", SEND, token, message),
            ("POST", "/api/register", None, {"user_name": "bob", "password": PASSWORD}),
            ("POST", "/api/login", None, {"user_name": "alice", "password": PASSWORD}),
            ("POST", "/api/communication/order/create", token, ORDER),
            ("POST", "/api/communication/order/cancel", token, {"id": order["id"]}),
        ]
        for _ in range(10):  # logged once however often it happens
            for method, path, who, body in writes:
                assert_fail(await call(client, method, path, token=who, json=body), -1, CANNOT_SAVE)
        refused = await call(client, "POST", UPLOAD, token=token, data=pdf_form(20_000))
        assert_fail(refused, -1, CANNOT_SAVE)
        # Chinese too.
        zh = await call(client, "POST", SEND, token=token, json=message,
                        headers={"Accept-Language": "zh-CN"})  # fmt: skip
        assert_fail(zh, -1, texts.CANNOT_SAVE.zh)

        # Reads go on: detail, lists, the thread, an upload served; a sliding session
        # that is due for renewal is still a read that works.
        clock.advance(23 * 3600)
        detail = await call(client, "GET", "/api/communication/order/detail", token=token,
                            params={"id": order["id"]})  # fmt: skip
        assert assert_ok(detail)["status"] == order["status"]
        thread = await call(client, "GET", "/api/communication/messages", token=token,
                            params={"comm_order_id": order["id"]})  # fmt: skip
        assert [m["content"] for m in assert_ok(thread)][-5:] == [f"m{i}" for i in range(5)]
        assert assert_ok(await call(client, "GET", "/api/communication/orders", token=token))
        response = await client.get(item["logo"])
        assert response.status == 200 and await response.read() == PDF
        assert await served(client) == (503, {"status": "degraded"})

        lines = refusals(server_log.lines)
        assert len(lines) == 1, lines
        assert "disk is full" in lines[0]
        assert not [line for line in server_log.lines if "Traceback" in line]

        # Space again: everything recovers without a restart.
        filler.unlink()
        await asyncio.sleep(1.1)  # the health check's probe runs at most once a second
        assert await served(client) == (200, {"status": "ok"})
        assert_ok(await call(client, "POST", SEND, token=token, json=message))
        bob = {"user_name": "bob", "password": PASSWORD}
        assert_ok(await call(client, "POST", "/api/register", json=bob))
        thread = await call(client, "GET", "/api/communication/messages", token=token,
                            params={"comm_order_id": order["id"]})  # fmt: skip
        contents = [m["content"] for m in assert_ok(thread)]
        assert contents[-6:] == [*(f"m{i}" for i in range(5)), "lost"]
        assert [m["id"] for m in acknowledged] == [m["id"] for m in assert_ok(thread)][-6:-1]
        await client.close()


@pytest.mark.slow
@pytest.mark.faults_expected
async def test_a_disk_with_room_for_a_page_only_is_degraded(
    tmp_path, clock, server_log, aiohttp_client
):
    """A full disk whose WAL file has room for a few pages, not for an order: the
    health check's probe needs room for a change of ordinary size, so /healthz keeps
    saying degraded while orders cannot be saved (a one-page probe said ok)."""
    with small_disk(tmp_path / "disk") as disk:
        db = disk / "orderdesk.db"
        client = await start_client(aiohttp_client, Config(db=str(db), clock=clock))
        token, _ = await register(client, "alice")
        with sqlite3.connect(db) as outside:
            outside.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        # A login's few pages: the WAL file keeps their room, which the next writes
        # reuse once the WAL starts over.
        assert_ok(await call(client, "POST", "/api/login",
                             json={"user_name": "alice", "password": PASSWORD}))  # fmt: skip
        room = os.path.getsize(f"{db}-wal")
        with sqlite3.connect(db) as outside:
            outside.execute("PRAGMA wal_checkpoint(RESTART)")
        assert 0 < room < 8 * 4096, room
        fill(disk)
        for _ in range(3):
            answer = await call(client, "POST", "/api/communication/order/create", token=token,
                                json=ORDER)  # fmt: skip
            assert_fail(answer, -1, CANNOT_SAVE)
            await asyncio.sleep(1.1)  # the health check's probe runs at most once a second
            assert await served(client) == (503, {"status": "degraded"})
        await client.close()


def disk_full() -> sqlite3.OperationalError:
    """The error SQLite's driver raises when the disk is full."""
    error = sqlite3.OperationalError("database or disk is full")
    error.sqlite_errorcode = sqlite3.SQLITE_FULL  # type: ignore[attr-defined]
    return error


def test_a_condition_that_comes_and_goes_is_logged_at_most_once_a_minute(caplog):
    """A disk with room for a probe's small write but not for an order's makes the
    condition come and go every second: the log says it, and its end, once a minute."""
    state = WriteState()
    with caplog.at_level(logging.INFO, logger="orderdesk.store"):
        for _ in range(5):
            state.failed("the disk is full")
            state.recovered()
    said = [record.getMessage() for record in caplog.records]
    assert [line for line in said if CANNOT_WRITE_LINE in line] == said[:1], said
    assert len([line for line in said if "can be written again" in line]) == 1, said


def test_a_background_loop_names_a_full_disk_in_one_line(caplog):
    """The background checkpoint on a full disk: one warning line a minute that names
    the condition, no traceback, also when rounds fail and succeed in turn."""
    logger = logging.getLogger("orderdesk.store")
    backoff = Backoff(logger, "the background checkpoint", cannot_write)
    with caplog.at_level(logging.INFO, logger="orderdesk.store"):
        for _ in range(3):
            backoff.failed(disk_full(), 1.0)
            backoff.succeeded()
        backoff.failed(RuntimeError("something else"), 1.0)  # within the minute: not logged
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].exc_info is None
    assert "the background checkpoint failed (the disk is full: " in warnings[0].getMessage()
    assert len([r for r in caplog.records if "works again" in r.getMessage()]) == 1


# ---------------------------------------------------------------- PostgreSQL refusing writes


@contextlib.asynccontextmanager
async def own_postgres_database():
    """A database of its own on the test server (a setting made on it reaches no other
    test), as a URL; dropped after."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL half skipped: set ORDERDESK_TEST_POSTGRES")
    name = f"faults_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base = POSTGRES_URL.split("?")[0].rsplit("/", 1)[0]
        yield f"{base}/{name}", admin, name
    finally:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.close()


async def set_read_only(admin, name: str, on: bool) -> None:
    """The database read-only for every new transaction (as a standby, or an operator's
    `default_transaction_read_only`), and its open sessions ended so that the server's
    pool opens new ones that see it."""
    change = (
        "SET default_transaction_read_only = on" if on else "RESET default_transaction_read_only"
    )
    await admin.execute(f'ALTER DATABASE "{name}" {change}')
    await admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
    )
    await asyncio.sleep(0.5)  # the pool sees its connections closed


@pytest.mark.slow
@pytest.mark.faults_expected
async def test_a_read_only_postgresql_refuses_writes_clearly_and_recovers(
    clock, server_log, aiohttp_client
):
    async with own_postgres_database() as (url, admin, name):
        client = await start_client(aiohttp_client, Config(db=url, clock=clock))
        token, _ = await register(client, "alice")
        order = await make_order(client, token)
        message = {"comm_order_id": order["id"], "message_type": "text", "content": "kept"}
        assert_ok(await call(client, "POST", SEND, token=token, json=message))
        merchant = await make_admin(client)
        made = await call(client, "POST", "/api/admin/api-keys", token=merchant,
                          json={"name": "callback", "role": "staff"})  # fmt: skip
        key = assert_ok(made)["key"]
        await set_read_only(admin, name, True)

        lost = {**message, "content": "lost"}
        for _ in range(5):
            assert_fail(await call(client, "POST", SEND, token=token, json=lost), -1, CANNOT_SAVE)
            bob = {"user_name": "bob", "password": PASSWORD}
            assert_fail(await call(client, "POST", "/api/register", json=bob), -1, CANNOT_SAVE)
            alice = {"user_name": "alice", "password": PASSWORD}
            assert_fail(await call(client, "POST", "/api/login", json=alice), -1, CANNOT_SAVE)
        clock.advance(23 * 3600)  # the session is due for renewal: still a read that works
        thread = await call(client, "GET", "/api/communication/messages", token=token,
                            params={"comm_order_id": order["id"]})  # fmt: skip
        assert [m["content"] for m in assert_ok(thread)][-1] == "kept"
        # An API key's first use, which would note it, is served all the same.
        orders = await call(client, "GET", "/api/admin/communication/orders", token=key)
        assert [o["id"] for o in assert_ok(orders)] == [order["id"]]
        assert await served(client) == (503, {"status": "degraded"})
        lines = refusals(server_log.lines)
        assert len(lines) == 1 and "read-only" in lines[0], lines

        await set_read_only(admin, name, False)
        await asyncio.sleep(1.1)
        assert await served(client) == (200, {"status": "ok"})
        assert_ok(await call(client, "POST", SEND, token=token, json=lost))
        thread = await call(client, "GET", "/api/communication/messages", token=token,
                            params={"comm_order_id": order["id"]})  # fmt: skip
        assert [m["content"] for m in assert_ok(thread)][-2:] == ["kept", "lost"]
        await client.close()


@contextlib.asynccontextmanager
async def postgres_database_on_a_small_disk():
    """A database of its own whose tablespace is a 32 MiB tmpfs (the test cluster runs on
    this machine, as the `postgres` user); its WAL stays on the cluster's own disk. Yields
    the URL and the tmpfs; the database, the tablespace and the mount go after."""
    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("needs the local test cluster's postgres user")
    if not POSTGRES_URL or urlsplit(POSTGRES_URL).hostname not in ("127.0.0.1", "localhost"):
        pytest.skip("needs a PostgreSQL server on this machine (ORDERDESK_TEST_POSTGRES)")
    name = f"faults_{uuid.uuid4().hex[:12]}"
    # Outside the test's tmp_path: the postgres user must be able to reach it.
    with small_disk(Path("/tmp") / f"orderdesk-{name}", "32m") as disk:
        os.chown(disk, owner.pw_uid, owner.pw_gid)
        admin = await asyncpg.connect(POSTGRES_URL)
        try:
            await admin.execute(f"CREATE TABLESPACE {name} LOCATION '{disk}'")
            await admin.execute(f'CREATE DATABASE "{name}" TABLESPACE {name}')
            base = POSTGRES_URL.split("?")[0].rsplit("/", 1)[0]
            yield f"{base}/{name}", disk
        finally:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
            )
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            await admin.execute(f"DROP TABLESPACE IF EXISTS {name}")
            await admin.close()


@pytest.mark.faults_expected
async def test_a_write_lock_held_by_another_program_is_the_clear_refusal(
    tmp_path, clock, server_log, aiohttp_client, monkeypatch
):
    """The sqlite3 shell (or any program) holding the write lock past the busy timeout:
    the same refusal and health as a full disk, one log line, no traceback; and the
    health check does not wait out the busy timeout for its own write."""
    monkeypatch.setattr("orderdesk.store.sqlite.BUSY_TIMEOUT_MS", 3000)
    db = tmp_path / "locked.db"
    client = await start_client(aiohttp_client, Config(db=str(db), clock=clock))
    token, _ = await register(client, "alice")
    order = await make_order(client, token)
    edit = {"id": order["id"], "title": "while locked"}
    other = sqlite3.connect(db, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        refused = await call(client, "POST", UPDATE, token=token, json=edit)  # after 3 s
        assert_fail(refused, -1, CANNOT_SAVE)
        asked = time.monotonic()
        assert await served(client) == (503, {"status": "degraded"})
        assert time.monotonic() - asked < 2.0  # its probe waits 3 s for the lock
        shown = await call(client, "GET", DETAIL, token=token, params={"id": order["id"]})
        assert assert_ok(shown)["version"] == 1  # reads go on; nothing was changed
    finally:
        other.close()  # its transaction ends with it
    assert assert_ok(await call(client, "POST", UPDATE, token=token, json=edit))["version"] == 2
    await asyncio.sleep(PROBE_SECONDS)  # the health check has tried a write again
    assert await served(client) == (200, {"status": "ok"})
    lines = refusals(server_log.lines)
    assert len(lines) == 1 and "write lock" in lines[0], server_log.lines
    assert not [line for line in server_log.lines if "Traceback" in line or "failed" in line]


@pytest.mark.slow
@pytest.mark.faults_expected
async def test_a_full_postgresql_disk_is_the_same_clear_refusal(clock, server_log, aiohttp_client):
    """PostgreSQL's own disk full (it cannot extend a table's file): the client gets the
    refusal, never the internal error; with space again, writes go on."""
    async with postgres_database_on_a_small_disk() as (url, disk):
        client = await start_client(aiohttp_client, Config(db=url, clock=clock))
        token, _ = await register(client, "alice")
        order = await make_order(client, token)
        filler = fill(disk)
        answers = []
        for i in range(40):  # each message needs a new page before long
            big = {"comm_order_id": order["id"], "message_type": "text", "content": f"{i}" * 9000}
            answers.append(await call(client, "POST", SEND, token=token, json=big))
            if answers[-1]["code"] != 0:
                break
        refused = answers[-1]
        assert_fail(refused, -1, CANNOT_SAVE)
        assert [line for line in refusals(server_log.lines) if "disk is full" in line]

        filler.unlink()
        kept = {"comm_order_id": order["id"], "message_type": "text", "content": "kept"}
        assert_ok(await call(client, "POST", SEND, token=token, json=kept))
        thread = await call(client, "GET", "/api/communication/messages", token=token,
                            params={"comm_order_id": order["id"], "page_size": 100})  # fmt: skip
        contents = [m["content"] for m in assert_ok(thread)]
        assert contents[-1] == "kept" and contents.count(f"{len(answers) - 1}" * 9000) == 0
        await client.close()


@pytest.mark.slow
@pytest.mark.faults_expected
async def test_a_server_starting_on_a_read_only_postgresql_reports_degraded(
    clock, server_log, aiohttp_client
):
    async with own_postgres_database() as (url, admin, name):
        client = await start_client(aiohttp_client, Config(db=url, clock=clock))
        await client.close()
        await set_read_only(admin, name, True)
        client = await start_client(aiohttp_client, Config(db=url, clock=clock))
        assert await served(client) == (503, {"status": "degraded"})
        bob = {"user_name": "bob", "password": PASSWORD}
        body = await call(client, "POST", "/api/register", json=bob)
        assert_fail(body, -1, CANNOT_SAVE)
        await client.close()


# ---------------------------------------------------------------- start-up


def start(*args: str, timeout: float = 90) -> tuple[subprocess.CompletedProcess, float]:
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT,
    )  # fmt: skip
    return done, time.monotonic() - began


def assert_one_line_refusal(done: subprocess.CompletedProcess, *, secret: str = "") -> str:
    lines = done.stderr.splitlines()
    assert done.returncode == 1, done
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr and not done.stdout
    if secret:
        assert secret not in done.stderr
    return lines[0]


SECRET = "S3cr3t-Pw"


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, says",
    [
        (["--port", "70000"], "argument --port: must be at most 65535: '70000'"),
        (["--ping-seconds", "16"], "argument --ping-seconds: must be at most 15: '16'"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
        (["--smtp-url", "smtp://127.0.0.1:25"], "--smtp-url needs --mail-from ADDRESS"),
        (  # the value quoted back without its password
            ["--smtp-url", f"smtpx://desk:{SECRET}@mail.example:25"],
            "argument --smtp-url: not an smtp:// or smtps:// URL: 'smtpx://desk:***@",
        ),
    ],
)
def test_a_flag_the_server_cannot_take_is_one_line_and_status_1(tmp_path, args, says):
    """Not argparse's usage block and status 2; a port past 65535 is not taken modulo
    65536 (uvloop listened on 70000 - 65536 and announced 70000)."""
    done, took = start("--db", str(tmp_path / "x.db"), *args)
    line = assert_one_line_refusal(done, secret=SECRET)
    assert line.startswith(f"run.py: {says}") and took < 10, line
    assert not (tmp_path / "x.db").exists()


@pytest.mark.slow
def test_a_folder_given_as_the_database_is_named_so(tmp_path):
    """Named so at once: no "2 names (hard links)", no traceback, no lock file left."""
    folder = tmp_path / "data"
    folder.mkdir()
    said = f"run.py: {folder} is a folder: --db names the SQLite database file " \
        f"(e.g. {folder}/orderdesk.db)"  # fmt: skip
    done, _ = start("--db", str(folder), "--port", str(free_port()))
    assert assert_one_line_refusal(done) == said
    # The folder is refused before the backup is looked for.
    done, _ = start("restore", "--db", str(folder), "--from", str(tmp_path / "backup.db"))
    assert assert_one_line_refusal(done) == said  # not a traceback
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"] and not list(folder.iterdir())


def port_of(command: list[str]) -> list[str]:
    """The serving command's --port (subcommands take none)."""
    return [] if command else ["--port", str(free_port())]


@pytest.mark.slow
@pytest.mark.parametrize(
    "db",
    [
        f"postgress://od:{SECRET}@db.example/od",
        f"postgresql+asyncpg://od:{SECRET}@db.example/od",
        "sqlite:///x.db",
        f"mysql://od:{SECRET}@db.example/od",
    ],
)
def test_a_foreign_db_scheme_is_refused_never_a_file_name(tmp_path, db):
    for command in ([], ["create-admin", "--username", "merchant", "--password", "a password!"],
                    ["backup", "--to", str(tmp_path / "copy.db")], ["check"]):  # fmt: skip
        done, took = start(*command, "--db", db, *port_of(command))
        line = assert_one_line_refusal(done, secret=SECRET)
        assert db.partition("://")[0] + "://" in line and took < 10, (line, took)
    assert not list(ROOT.glob(db.partition(":")[0] + "*")), "a folder named after the URL"


@pytest.mark.slow
@pytest.mark.parametrize("db", ["file:x.db", "file:/tmp/orderdesk-x.db", "file:///x.db?mode=rwc"])
def test_a_file_uri_is_refused_never_opened_beside_its_lock(tmp_path, db):
    """SQLite itself opens a name starting with `file:` as a URI: the server would hold
    its lock on another path than the file it serves, and a second server could serve
    the same file."""
    done, took = start("--db", db, "--port", str(free_port()))
    line = assert_one_line_refusal(done)
    assert "the scheme file:" in line and took < 10, (line, took)
    assert not list(ROOT.glob("file:*")) and not os.path.exists("/tmp/orderdesk-x.db")


@pytest.mark.slow
@pytest.mark.parametrize("content", [b"not a database at all " * 20, b"cut"])
def test_a_file_that_is_no_database_stops_the_start_in_one_line(tmp_path, content):
    """A file that is not SQLite's (or a database cut short) is named, and the server
    exits; it once hung after the line, its connection's thread still alive."""
    db = tmp_path / "orderdesk.db"
    if content == b"cut":
        start("create-admin", "--db", str(db), "--username", "merchant",
              "--password", "a password!")  # fmt: skip
        content = db.read_bytes()[:5000]
    db.write_bytes(content)
    done, took = start("--db", str(db), "--port", str(free_port()), timeout=30)
    line = assert_one_line_refusal(done)
    assert f"cannot open the database {db}" in line and took < 10, (line, took)


@pytest.mark.slow
def test_a_database_file_with_two_names_is_refused(tmp_path):
    """A hard link is another name for the same file: the one-server lock and SQLite's
    write-ahead log both go by name, so two servers could write one database through
    two logs."""
    db = tmp_path / "orderdesk.db"
    made, _ = start("create-admin", "--db", str(db), "--username", "merchant",
                    "--password", "a password!")  # fmt: skip
    assert made.returncode == 0, made.stderr
    os.link(db, tmp_path / "other.db")
    for name in (db, tmp_path / "other.db"):
        done, took = start("--db", str(name), "--port", str(free_port()))
        line = assert_one_line_refusal(done)
        assert f"the database file {name} has 2 names (hard links)" in line and took < 10


@pytest.mark.slow
def test_an_unwritable_folder_or_file_stops_the_start_in_one_line(tmp_path):
    with small_disk(tmp_path / "ro") as disk:
        made = disk / "data" / "orderdesk.db"
        done, _ = start("create-admin", "--db", str(made), "--username", "merchant",
                        "--password", "a password!")  # fmt: skip
        assert done.returncode == 0, done.stderr
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        for db in (made, disk / "new" / "orderdesk.db", disk / "orderdesk.db"):
            for command in (
                [],
                ["create-admin", "--username", "merchant", "--password", "a password!"],
            ):
                done, took = start(*command, "--db", str(db), *port_of(command))
                line = assert_one_line_refusal(done)
                assert "cannot" in line and took < 10, (line, took)
    # A read-only file in a writable folder (root writes through chmod: a read-only
    # bind mount of the file).
    db = tmp_path / "data" / "orderdesk.db"
    done, _ = start("create-admin", "--db", str(db), "--username", "merchant",
                    "--password", "a password!")  # fmt: skip
    subprocess.run(["mount", "--bind", str(db), str(db)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(db)], check=True)
        done, took = start("--db", str(db), "--port", str(free_port()))
        line = assert_one_line_refusal(done)
        assert f"cannot write the database file {db}" in line and took < 10, (line, took)
    finally:
        subprocess.run(["umount", str(db)], check=False)


@pytest.mark.slow
def test_an_address_in_use_stops_the_start_in_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done, took = start("--db", str(tmp_path / "o.db"), "--port", str(port))
    line = assert_one_line_refusal(done)
    assert f"cannot listen on 127.0.0.1:{port}" in line and "address already in use" in line
    assert took < 10


@pytest.mark.slow
def test_postgresql_not_listening_is_retried_then_named_in_one_line():
    port = free_port()  # nothing listens there
    done, took = start("--db", f"postgresql://od:{SECRET}@127.0.0.1:{port}/od",
                       "--port", str(free_port()))  # fmt: skip
    assert done.returncode == 1 and took < 60, (done, took)
    *retries, final = done.stderr.splitlines()
    assert retries and all(" WARNING " in r and "trying again" in r for r in retries), retries
    assert final.startswith("run.py: cannot reach PostgreSQL at 127.0.0.1:") and str(port) in final
    assert SECRET not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
async def test_postgresql_refusing_the_login_is_named_in_one_line():
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL half skipped: set ORDERDESK_TEST_POSTGRES")
    role = f"faults_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        # The test server trusts every local login: a role that may not log in is the
        # refusal it can give (a wrong password takes the same way out).
        await admin.execute(f"CREATE ROLE {role} NOLOGIN PASSWORD '{SECRET}'")
        parts = urlsplit(POSTGRES_URL)
        url = f"postgresql://{role}:{SECRET}@{parts.hostname}:{parts.port}/postgres"
        done, took = await asyncio.to_thread(start, "--db", url, "--port", str(free_port()))
    finally:
        await admin.execute(f"DROP ROLE IF EXISTS {role}")
        await admin.close()
    line = assert_one_line_refusal(done, secret=SECRET)
    assert f"PostgreSQL at {parts.hostname}:{parts.port} refused the login" in line
    assert took < 10


# ---------------------------------------------------------------- no secrets in logs


@pytest.mark.slow
def test_no_password_or_token_reaches_the_log_at_any_level(tmp_path):
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL half skipped: set ORDERDESK_TEST_POSTGRES")
    db_password, smtp_password = "Db-Pw-4f8e2", "Smtp-Pw-9c1d7"
    closed = free_port()  # the mail server is away: every delivery attempt fails
    with postgres_database_for_live_server() as url:
        # The test server trusts local logins, so any password in the URL is accepted.
        with_password = url.replace("://postgres@", f"://postgres:{db_password}@", 1)
        log = tmp_path / "server.log"
        with LiveServer(with_password, "--log-level", "debug",
                        "--smtp-url", f"smtp://mailer:{smtp_password}@127.0.0.1:{closed}",
                        "--mail-from", "shop@example.com", log=log) as server:  # fmt: skip
            token = server.register("alice")
            login = server.call("POST", "/api/login",
                                {"user_name": "alice", "password": PASSWORD})  # fmt: skip
            second = login["data"]["token"]
            server.call("POST", "/api/login", {"user_name": "alice", "password": "wrong one!"})
            order = server.call("POST", "/api/communication/order/create", ORDER, token=token)
            server.call("GET", f"/api/communication/order/detail?id={order['data']['id']}"
                        f"&token={token}", token=second)  # fmt: skip
            server.call("GET", f"/api/user/detail?token={second}&key={second}")
            time.sleep(1.5)  # the access log is written every second
            assert server.stop() == 0
    text = log.read_text()
    assert "/api/login" in text and "serving on" in text  # the log was written
    for secret in (db_password, smtp_password, token, second):
        assert secret not in text, secret
