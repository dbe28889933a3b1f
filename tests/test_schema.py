"""The top-level schema.sql is the readable form of what the migrations build."""

import asyncio
import re
import shutil
import sqlite3
from pathlib import Path

import asyncpg
import pytest
from orderdesk.store import open_store
from orderdesk.store import sqlite as sqlite_engine
from orderdesk.workflow import PURCHASE_STATUSES, STATUSES

from tests.conftest import query_rows
from tests.test_order_counts import rewind

ROOT = Path(__file__).resolve().parents[1]


def _migrate(db: Path) -> None:
    """The SQLite file `db` made, or brought up to date, by the migrations."""

    async def opened() -> None:
        store = await open_store(str(db))
        await store.close()

    asyncio.run(opened())


def _shape(conn: sqlite3.Connection) -> dict:
    """Every table's columns (name, type, not null, default, key), indexes (columns,
    unique) and AUTOINCREMENT, independent of how the SQL that made them was written."""
    shape = {}
    tables = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    for table, sql in tables:
        columns = [tuple(row[1:]) for row in conn.execute(f"PRAGMA table_xinfo('{table}')")]
        indexes = {}
        for _, name, unique, origin, partial in conn.execute(f"PRAGMA index_list('{table}')"):
            cols = [row[2] for row in conn.execute(f"PRAGMA index_xinfo('{name}')") if row[5]]
            key = name if origin == "c" else f"{origin}:{','.join(map(str, cols))}"
            indexes[key] = (cols, unique, partial)
        foreign = sorted(  # table, from, to, on update, on delete
            tuple(row[2:7]) for row in conn.execute(f"PRAGMA foreign_key_list('{table}')")
        )
        # Whether ids are never given again: no PRAGMA tells it.
        autoincrement = re.search(r"PRIMARY\s+KEY\s+AUTOINCREMENT", sql, re.IGNORECASE) is not None
        shape[table] = (columns, indexes, foreign, autoincrement)
    triggers = conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'")
    shape["triggers"] = sorted(triggers.fetchall())
    shape["order_counts rows"] = conn.execute(
        "SELECT status, shard, n FROM order_counts ORDER BY status, shard"
    ).fetchall()
    return shape


def test_schema_sql_equals_what_the_migrations_build(tmp_path):
    migrated = tmp_path / "migrated.db"
    _migrate(migrated)
    readable = sqlite3.connect(":memory:")
    readable.executescript((ROOT / "schema.sql").read_text())
    with sqlite3.connect(migrated) as conn:
        assert _shape(readable) == _shape(conn)


def test_migration_16_keeps_the_rows_it_rebuilds(tmp_path):
    """Run again over a database with rows (as a version-15 file meets it): every row
    and its id stay, a webhook's deliveries still go with it, and no id is given again."""
    db = tmp_path / "old.db"
    _migrate(db)
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO users (id, user_name, password_hash, created_time) VALUES (1, 'a', 'x', 0)"
        )
        conn.execute(
            """INSERT INTO webhooks (id, url, events, description, secret, created_time)
               VALUES (7, 'https://hooks.example/a', '["*"]', '', 's', 0)"""
        )
        conn.execute(
            """INSERT INTO deliveries (webhook_id, event_id, event_type, payload,
                                       created_time, next_attempt_ms)
               VALUES (7, 1, 'order.created', '{}', 0, 0)"""
        )
        conn.execute("INSERT INTO saved_replies VALUES (3, 't', 'c', 0, 0)")
        conn.execute("PRAGMA user_version = 15")
    _migrate(db)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA foreign_keys = ON")
        assert conn.execute("PRAGMA user_version").fetchone() == (16,)
        assert conn.execute("SELECT id, url FROM webhooks").fetchall() == [
            (7, "https://hooks.example/a")
        ]
        assert conn.execute("SELECT id FROM saved_replies").fetchall() == [(3,)]
        conn.execute("DELETE FROM webhooks WHERE id = 7")
        assert conn.execute("SELECT count(*) FROM deliveries").fetchone() == (0,)
        conn.execute(
            """INSERT INTO webhooks (url, events, description, secret, created_time)
               VALUES ('https://hooks.example/b', '["*"]', '', 's', 0)"""
        )
        assert conn.execute("SELECT id FROM webhooks").fetchall() == [(8,)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def _seed(conn: sqlite3.Connection) -> None:
    conn.execute(
        "INSERT INTO users (id, user_name, password_hash, created_time) VALUES (1, 'a', 'x', 0)"
    )
    conn.execute(
        """INSERT INTO comm_orders (id, user_id, archive_id, title, content, phone,
                                    created_time, updated_time)
           VALUES (7, 1, 1, 't', 'c', '12345', 0, 0)"""
    )
    conn.execute(
        """INSERT INTO messages (comm_order_id, sender_id, sender_type, sender_name,
                                 message_type, content, created_time)
           VALUES (7, 1, 'user', 'a', 'text', 'hi', 0)"""
    )
    conn.commit()


def _widening_migration(conn: sqlite3.Connection) -> str:
    """A new status 5: comm_orders rebuilt with a wider CHECK, as SQLite needs."""
    table = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'comm_orders'").fetchone()[0]
    indexes = [
        row[0]
        for row in conn.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'comm_orders' AND type = 'index' "
            "AND sql IS NOT NULL"
        )
    ]
    wider = table.replace("(-1, 0, 1, 2, 3, 4)", "(-1, 0, 1, 2, 3, 4, 5)")
    assert wider != table
    return "\n".join(
        [
            wider.replace("comm_orders", "comm_orders_new", 1) + ";",
            "INSERT INTO comm_orders_new SELECT * FROM comm_orders;",
            "DROP TABLE comm_orders;",
            "ALTER TABLE comm_orders_new RENAME TO comm_orders;",
            *(sql + ";" for sql in indexes),
        ]
    )


def test_a_migration_may_rebuild_a_table_that_others_refer_to(tmp_path):
    """Changing an order's status CHECK means rebuilding comm_orders, which messages,
    events and purchase orders refer to: a migration marked as a rebuild runs with
    foreign keys off and is kept only if they all still hold."""
    db = tmp_path / "t.db"
    _migrate(db)
    steps = tmp_path / "migrations"
    shutil.copytree(sqlite_engine.MIGRATIONS, steps)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    _seed(conn)
    before = conn.execute("PRAGMA user_version").fetchone()[0]
    rebuild = _widening_migration(conn)

    # Without the mark, dropping the referenced table fails, and nothing changes.
    (steps / "0099_status_five.sql").write_text(rebuild)
    with pytest.raises(sqlite3.IntegrityError):
        sqlite_engine._migrate(conn, steps)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == before
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1

    (steps / "0099_status_five.sql").write_text(f"{sqlite_engine.REBUILD_MARK}\n{rebuild}")
    sqlite_engine._migrate(conn, steps)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 99
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.execute("UPDATE comm_orders SET status = 5 WHERE id = 7")
    assert conn.execute("SELECT count(*) FROM messages WHERE comm_order_id = 7").fetchone() == (1,)
    indexes = {row[1] for row in conn.execute("PRAGMA index_list('comm_orders')")}
    assert {"comm_orders_user", "comm_orders_status"} <= indexes
    with pytest.raises(sqlite3.IntegrityError):  # the foreign keys are enforced again
        conn.execute("DELETE FROM comm_orders WHERE id = 7")
    conn.close()


async def test_the_status_check_admits_exactly_the_declared_statuses(db):
    """The database's CHECK on comm_orders.status and workflow.STATUSES agree on both
    engines: a status declared without its migration (or the other way) fails here."""
    store = await open_store(db)
    await store.close()
    await query_rows(
        db,
        "INSERT INTO users (id, user_name, password_hash, created_time) VALUES (1, 'a', 'x', 0)",
    )
    await query_rows(
        db,
        """INSERT INTO comm_orders (id, user_id, archive_id, title, content, phone,
                                    created_time, updated_time)
           VALUES (1, 1, 1, 't', 'c', '12345', 0, 0)""",
    )
    for status in STATUSES:
        await query_rows(db, f"UPDATE comm_orders SET status = {int(status)} WHERE id = 1")
    undeclared = max(STATUSES) + 1
    with pytest.raises((sqlite3.IntegrityError, asyncpg.CheckViolationError)):
        await query_rows(db, f"UPDATE comm_orders SET status = {undeclared} WHERE id = 1")


async def test_purchase_statuses_match_their_check_and_old_purchase_rows_are_carried_over(db):
    """Migration 11 reshapes the purchase orders written before it ("awaiting payment",
    the price as text) into AnqiCMS's shape, on both engines; the CHECK on their status
    and workflow.PURCHASE_STATUSES agree."""
    store = await open_store(db)
    await store.close()
    # Back to the database as migration 10 left it, with one purchase order in it.
    await rewind(db, 10)
    if db.startswith("postgresql://"):
        old_table = """CREATE TABLE orders (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            user_id BIGINT NOT NULL REFERENCES users (id),
            comm_order_id BIGINT NOT NULL UNIQUE REFERENCES comm_orders (id),
            amount TEXT NOT NULL, status TEXT NOT NULL, remark TEXT NOT NULL DEFAULT '',
            created_time BIGINT NOT NULL)"""
    else:
        old_table = """CREATE TABLE orders (
            id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id),
            comm_order_id INTEGER NOT NULL UNIQUE REFERENCES comm_orders (id),
            amount TEXT NOT NULL, status TEXT NOT NULL, remark TEXT NOT NULL DEFAULT '',
            created_time INTEGER NOT NULL)"""
    for sql in (
        "DROP TABLE purchase_orders",
        "DROP TABLE api_keys",
        old_table,
        "INSERT INTO users (id, user_name, password_hash, created_time) VALUES (1, 'a', 'x', 0)",
        """INSERT INTO comm_orders (id, user_id, archive_id, title, content, phone, status,
                                    order_id, created_time, updated_time)
           VALUES (7, 1, 1, 't', 'c', '12345', 3, 12, 0, 0)""",
        """INSERT INTO orders (id, user_id, comm_order_id, amount, status, remark,
                               created_time)
           VALUES (12, 1, 7, '12000.50', 'awaiting payment', 'by transfer', 1796204096)""",
    ):
        await query_rows(db, sql)
    store = await open_store(db)
    await store.close()
    carried = await query_rows(
        db,
        """SELECT id, order_id, comm_order_id, user_id, amount, status, pay_way, remark,
                  created_time, updated_time, paid_time FROM purchase_orders""",
    )
    assert carried == [
        (12, "202612020934560012", 7, 1, 1200050, 0, "", "by transfer", 1796204096, 1796204096, 0)
    ]
    for status in PURCHASE_STATUSES:
        await query_rows(db, f"UPDATE purchase_orders SET status = {int(status)}")
    with pytest.raises((sqlite3.IntegrityError, asyncpg.CheckViolationError)):
        await query_rows(db, "UPDATE purchase_orders SET status = 4")
    # New purchase orders take ids after the carried ones.
    await query_rows(
        db,
        """INSERT INTO comm_orders (id, user_id, archive_id, title, content, phone,
                                    created_time, updated_time)
           VALUES (8, 1, 1, 't', 'c', '12345', 0, 0)""",
    )
    await query_rows(
        db,
        """INSERT INTO purchase_orders (order_id, comm_order_id, user_id, amount,
                                        created_time, updated_time)
           VALUES ('x', 8, 1, 1, 0, 0)""",
    )
    assert await query_rows(db, "SELECT max(id) FROM purchase_orders") == [(13,)]
