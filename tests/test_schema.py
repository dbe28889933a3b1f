"""The top-level schema.sql is the readable form of what the migrations build."""

import asyncio
import sqlite3
from pathlib import Path

from orderdesk.store import open_store

ROOT = Path(__file__).resolve().parents[1]


def _shape(conn: sqlite3.Connection) -> dict:
    """Every table's columns (name, type, not null, default, key) and indexes (columns,
    unique), independent of how the SQL that made them was written."""
    shape = {}
    tables = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    for (table,) in tables:
        columns = [tuple(row[1:]) for row in conn.execute(f"PRAGMA table_xinfo('{table}')")]
        indexes = {}
        for _, name, unique, origin, partial in conn.execute(f"PRAGMA index_list('{table}')"):
            cols = [row[2] for row in conn.execute(f"PRAGMA index_xinfo('{name}')") if row[5]]
            key = name if origin == "c" else f"{origin}:{','.join(map(str, cols))}"
            indexes[key] = (cols, unique, partial)
        foreign = sorted(
            tuple(row[2:5]) for row in conn.execute(f"PRAGMA foreign_key_list('{table}')")
        )
        shape[table] = (columns, indexes, foreign)
    return shape


def test_schema_sql_equals_what_the_migrations_build(tmp_path):
    migrated = tmp_path / "migrated.db"

    async def build() -> None:
        store = await open_store(str(migrated))
        await store.close()

    asyncio.run(build())
    readable = sqlite3.connect(":memory:")
    readable.executescript((ROOT / "schema.sql").read_text())
    with sqlite3.connect(migrated) as conn:
        assert _shape(readable) == _shape(conn)
