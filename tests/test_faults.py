"""Operating under faults, for real: a full disk (a small tmpfs filled to the last byte),
a read-only file or database, PostgreSQL away or refusing, a port already taken, a
mistyped --db. Writes are refused with their own clear text and change nothing, reads
go on, /healthz says degraded, the condition is logged once, and everything recovers
without a restart; a server that cannot start says why in one line and exits 1."""

import asyncio
import contextlib
import errno
import io
import os
import sqlite3
import subprocess
import uuid
from pathlib import Path

import asyncpg
import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestServer
from orderdesk import texts
from orderdesk.app import create_app
from orderdesk.config import Config
from orderdesk.logs import ACCESS_LOG_OPTIONS

from tests.conftest import (
    ORDER,
    PASSWORD,
    POSTGRES_URL,
    assert_fail,
    assert_ok,
    call,
    make_order,
    register,
)

CANNOT_SAVE = texts.CANNOT_SAVE.en
CANNOT_WRITE_LINE = "the database cannot be written"
SEND = "/api/communication/message/send"
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
    await server.start_server(**ACCESS_LOG_OPTIONS)
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
