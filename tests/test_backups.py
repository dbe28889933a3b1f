"""Scheduled online backups (--backup-dir) and `orderdesk restore`, on SQLite files."""

import asyncio
import http.client
import os
import sqlite3
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from orderdesk.app import create_app
from orderdesk.config import Config
from orderdesk.keys import BACKUPS
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ORDER, make_order, register
from tests.faults import assert_no_faults_logged
from tests.live import ROOT, LiveServer, run_cli
from tests.receivers import eventually_sync

WRITERS = 20


def order_ids(db: Path | str) -> set[int]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {row[0] for row in conn.execute("SELECT id FROM comm_orders")}
    finally:
        conn.close()


async def test_a_backup_taken_under_20_writers_holds_every_acknowledged_write(
    tmp_path, aiohttp_client
):
    """20 clients create orders while a backup is made: every order acknowledged before
    the copy started is in it; the copy passes `check`, and `restore` puts it in place
    (the database as it was at the end is kept beside it)."""
    db = tmp_path / "live.db"
    config = Config(db=str(db), backup_dir=str(tmp_path / "backups"))
    server = TestServer(create_app(config))
    client = await aiohttp_client(server, cookie_jar=aiohttp.DummyCookieJar())
    tokens = [(await register(client, f"writer{i}"))[0] for i in range(WRITERS)]
    acknowledged: list[tuple[float, int]] = []  # (when, order id)
    stop = asyncio.Event()

    async def writer(token: str) -> None:
        while not stop.is_set():
            order = await make_order(client, token)
            acknowledged.append((time.time(), order["id"]))

    writers = [asyncio.create_task(writer(token)) for token in tokens]
    await asyncio.sleep(1.0)
    before_call = time.time()
    made = await client.server.app[BACKUPS].make()
    await asyncio.sleep(0.3)  # writes go on after the copy too
    stop.set()
    await asyncio.gather(*writers)
    await client.close()

    assert made is not None and made.started >= before_call
    in_copy = order_ids(made.path)
    before_copy = {order_id for when, order_id in acknowledged if when < made.started}
    assert len(before_copy) >= WRITERS, len(before_copy)
    assert before_copy <= in_copy, sorted(before_copy - in_copy)[:10]
    everything = order_ids(db)
    assert everything > in_copy  # some were written after the snapshot
    assert not list(made.path.parent.glob("*.partial*"))
    assert not Path(f"{made.path}-wal").exists()  # the copy is one file

    checked = run_cli("check", "--db", str(made.path))
    assert (checked.returncode, checked.stdout.strip()) == (0, "ok"), checked
    restored = run_cli("restore", "--db", str(db), "--from", str(made.path))
    assert restored.returncode == 0, restored.stderr
    assert order_ids(db) == in_copy
    assert order_ids(f"{db}.before-restore") == everything


def scrape(server: LiveServer) -> dict[str, float]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", "/metrics")
        text = connection.getresponse().read().decode()
    finally:
        connection.close()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.labels
    }


@pytest.mark.slow  # a real server process, several seconds
def test_scheduled_backups_start_soon_and_keep_the_newest(tmp_path):
    folder = tmp_path / "backups"
    folder.mkdir()
    oldest = folder / "orderdesk-20000101-000000.db"
    oldest.write_bytes(b"an old copy")
    others = [folder / "notes.txt", folder / "orderdesk-old.db", folder / "orderdesk-1.db"]
    for other in others:
        other.write_text("not a scheduled copy")
    hours = "0.0006"  # 2.16 s between copies: also the first one's delay
    started = time.monotonic()
    with LiveServer(
        tmp_path / "shop.db", "--backup-dir", str(folder),
        "--backup-interval-hours", hours, "--backup-keep", "2",
    ) as server:  # fmt: skip
        server.register("alice")
        assert scrape(server)["orderdesk_backup_last_success_timestamp_seconds"] == 0

        def written() -> int:
            return server.log_path.read_text().count("backup written to")

        eventually_sync(lambda: written() >= 1, timeout=60)
        assert time.monotonic() - started < 60
        eventually_sync(lambda: written() >= 3, timeout=60)
        last = scrape(server)["orderdesk_backup_last_success_timestamp_seconds"]
        assert abs(last - time.time()) < 30
        assert server.stop() == 0
    assert_no_faults_logged(server.log_path.read_text())
    copies = sorted(p.name for p in folder.glob("orderdesk-*-*.db"))
    assert len(copies) == 2 and oldest.name not in copies, copies
    for other in others:
        assert other.read_text() == "not a scheduled copy"
    for copy in copies:
        assert run_cli("check", "--db", str(folder / copy)).returncode == 0
    assert not list(folder.glob("*.partial*"))


@pytest.mark.slow  # a real server process, several seconds
def test_a_failed_backup_is_one_line_each_time_and_tried_again(tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the folder should be")
    with LiveServer(
        tmp_path / "shop.db", "--backup-dir", str(blocked / "backups"),
        "--backup-interval-hours", "0.0003",
    ) as server:  # fmt: skip

        def failures() -> list[str]:
            lines = server.log_path.read_text().splitlines()
            return [line for line in lines if "backup to" in line and "failed" in line]

        eventually_sync(lambda: len(failures()) >= 2, timeout=60)
        server.register("alice")  # still serving
        assert server.stop() == 0
    log = server.log_path.read_text()
    assert "Traceback" not in log
    assert all(" ERROR orderdesk backup to " in line for line in failures())


@pytest.mark.faults_expected
async def test_a_failed_backup_is_tried_again_within_the_hour_not_the_interval(
    tmp_path, monkeypatch, aiohttp_client, server_log
):
    """A folder put right is not left a day (the default interval) without a backup."""
    monkeypatch.setattr("orderdesk.backups.FIRST_BACKUP_SECONDS", 0.05)
    monkeypatch.setattr("orderdesk.backups.RETRY_SECONDS", 0.2)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the folder should be")
    config = Config(db=str(tmp_path / "shop.db"), backup_dir=str(blocked / "backups"))
    assert config.backup_interval_hours == 24
    await aiohttp_client(TestServer(create_app(config)))

    def failures() -> list[str]:
        return [line for line in server_log.lines if "backup to" in line and "failed" in line]

    await asyncio.to_thread(eventually_sync, lambda: len(failures()) >= 1, 10)
    assert "the next try is in" in failures()[0], failures()
    blocked.unlink()  # put right: the next try makes the backup
    made = await asyncio.to_thread(
        eventually_sync, lambda: list((blocked / "backups").glob("*.db")), 10
    )
    assert len(made) == 1


def test_backup_dir_is_refused_on_postgresql(tmp_path):
    result = run_cli(
        "--db", "postgresql://shop:hunter2@127.0.0.1:1/shop", "--backup-dir", str(tmp_path)
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "pg_dump" in lines[0], result.stderr
    assert "hunter2" not in result.stderr and "Traceback" not in result.stderr


@pytest.fixture
def shop(tmp_path) -> tuple[Path, Path]:
    """A database with one order (written by a server killed afterwards, so part of it
    is still in its -wal), and a backup of it taken before that order."""
    db, backup = tmp_path / "shop.db", tmp_path / "backup.db"
    with LiveServer(db) as server:
        token = server.register("alice")
        assert run_cli("backup", "--db", str(db), "--to", str(backup)).returncode == 0
        order = ORDER
        assert server.call("POST", "/api/communication/order/create", order, token)["code"] == 0
        server.kill()
    assert Path(f"{db}-wal").exists() and order_ids(db) == {1}
    return db, backup


def test_restore_keeps_the_old_database_with_its_wal(shop):
    db, backup = shop
    result = run_cli("restore", "--db", str(db), "--from", str(backup))
    assert result.returncode == 0, result.stderr
    assert order_ids(db) == set()  # the backup's content, not read through the old -wal
    kept = Path(f"{db}.before-restore")
    assert order_ids(kept) == {1}
    # The restored file serves.
    with LiveServer(db) as server:
        assert server.call("GET", "/api/communication/fields")["code"] == 0
        server.register("bob")
        server.stop()
    assert run_cli("check", "--db", str(db)).returncode == 0


def _unchanged(db: Path) -> tuple[bytes, bool]:
    return db.read_bytes(), Path(f"{db}.before-restore").exists()


def test_restore_refuses_a_bad_backup_and_changes_nothing(shop, tmp_path):
    db, backup = shop
    before = _unchanged(db)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(os.urandom(8192))
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    broken = tmp_path / "broken.db"
    broken.write_bytes(backup.read_bytes())
    conn = sqlite3.connect(broken)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute(
        "INSERT INTO sessions (token_hash, user_id, expires_at, created_time) "
        "VALUES (x'00', 999, 1, 1)"
    )
    conn.commit()
    conn.close()
    for source, why in (
        (tmp_path / "missing.db", "no backup file at"),
        (garbage, "is not a sound orderdesk database"),
        (empty, "is not a sound orderdesk database"),
        (broken, "is not a sound orderdesk database"),
    ):
        result = run_cli("restore", "--db", str(db), "--from", str(source))
        assert result.returncode == 1, (source, result)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and why in lines[0] and "nothing changed" in lines[0], lines
        assert _unchanged(db) == before


def test_restore_refuses_while_a_server_holds_the_database(shop):
    db, backup = shop
    with LiveServer(db) as server:
        inode = db.stat().st_ino  # its bytes move: the server checkpoints on its own
        result = run_cli("restore", "--db", str(db), "--from", str(backup))
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [
            f"run.py restore: an orderdesk server is serving {db}; stop it first; nothing changed"
        ], result.stderr
        assert db.stat().st_ino == inode and not Path(f"{db}.before-restore").exists()
        assert order_ids(db) == {1}
        server.stop()


def test_restore_is_for_sqlite(tmp_path, shop):
    _, backup = shop
    result = run_cli("restore", "--db", "postgresql://shop@127.0.0.1:1/shop", "--from", str(backup))
    assert result.returncode == 1 and "pg_restore" in result.stderr
    # Another scheme, or a name SQLite would open as a URI, is no file to restore into.
    for db in ("postgress://shop@127.0.0.1:1/shop", f"file:{tmp_path}/restored.db"):
        result = run_cli("restore", "--db", db, "--from", str(backup))
        assert result.returncode == 1 and "is not one orderdesk knows" in result.stderr, db
    assert not list(ROOT.glob("file:*")), "a folder named after the URL"
