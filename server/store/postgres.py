"""The PostgreSQL engine (asyncpg), for several app servers over one database.

Every operation is one transaction on a pooled connection. Nothing relies on an
in-process lock or cache: rows an operation changes are locked with SELECT … FOR
UPDATE, login attempts of one (account, address) pair serialize on an advisory lock,
and sessions are read from the database on every request, so a logout on one server
holds on all of them.
"""

import contextlib
import functools
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from ..store import Store, events

MIGRATIONS = Path(__file__).resolve().parent / "migrations" / "postgres"
# Held while migrating, so app servers starting together apply each step once.
MIGRATION_LOCK = 0x6F72646572  # "order"

_UNIQUE_INDEXES = {
    "users_user_name_unique": "user_name",
    "users_email_unique": "email",
    "users_phone_unique": "phone",
}
_PLACEHOLDER = re.compile(r"\?(\d*)")


@functools.cache
def _numbered(sql: str) -> str:
    """`?` and `?N` placeholders (SQLite's) as PostgreSQL's `$N`."""
    count = 0

    def number(match: re.Match) -> str:
        nonlocal count
        if match.group(1):
            return f"${match.group(1)}"
        count += 1
        return f"${count}"

    return _PLACEHOLDER.sub(number, sql)


class PostgresTx:
    """tx.Tx over an asyncpg connection in a transaction."""

    dialect = "postgres"

    def __init__(self, conn: asyncpg.Connection, *, writing: bool) -> None:
        self.conn = conn
        self.for_update = " FOR UPDATE" if writing else ""

    async def one(self, sql: str, *params: Any) -> asyncpg.Record | None:
        return await self.conn.fetchrow(_numbered(sql), *params)

    async def all(self, sql: str, *params: Any) -> list[asyncpg.Record]:
        return await self.conn.fetch(_numbered(sql), *params)

    async def value(self, sql: str, *params: Any) -> Any:
        return await self.conn.fetchval(_numbered(sql), *params)

    async def run(self, sql: str, *params: Any) -> None:
        await self.conn.execute(_numbered(sql), *params)

    async def run_many(self, sql: str, rows: Iterable[tuple]) -> None:
        await self.conn.executemany(_numbered(sql), rows)

    def json(self, column: Any) -> Any:
        return column  # the jsonb codec has decoded it already

    def taken_field(self, error: Exception) -> str | None:
        if not isinstance(error, asyncpg.UniqueViolationError):
            return None
        return _UNIQUE_INDEXES.get(error.constraint_name)

    async def lock(self, name: str) -> None:
        await self.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", name)


async def _prepare_connection(conn: asyncpg.Connection) -> None:
    # JSON goes in as the text the store already serialized, and comes out as Python data.
    await conn.set_type_codec(
        "jsonb", schema="pg_catalog", encoder=lambda text: text, decoder=orjson.loads
    )


async def _migrate(conn: asyncpg.Connection) -> None:
    """Apply the numbered files NNNN_*.sql not yet applied, each in its own transaction."""
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version INTEGER PRIMARY KEY, applied_time BIGINT NOT NULL)"""
        )
        current = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations")
        for path in sorted(MIGRATIONS.glob("[0-9][0-9][0-9][0-9]_*.sql")):
            number = int(path.name[:4])
            if number > current:
                async with conn.transaction():
                    await conn.execute(path.read_text())
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, applied_time) VALUES ($1, $2)",
                        number,
                        int(time.time()),
                    )
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)


class PostgresStore(Store):
    def __init__(self, pool: asyncpg.Pool, url: str, clock: Callable[[], float]) -> None:
        super().__init__(clock)
        self._pool = pool
        self._url = url
        self._listener: asyncpg.Connection | None = None

    @classmethod
    async def open(
        cls, url: str, *, clock: Callable[[], float] = time.time, pool_size: int = 10
    ) -> "PostgresStore":
        pool = await asyncpg.create_pool(
            url, min_size=1, max_size=pool_size, init=_prepare_connection
        )
        try:
            async with pool.acquire() as conn:
                await _migrate(conn)
        except BaseException:
            await pool.close()
            raise
        return cls(pool, url, clock)

    async def _write(self, fn, *args):
        async with self._pool.acquire() as conn, conn.transaction():
            return await fn(PostgresTx(conn, writing=True), *args)

    async def _read(self, fn, *args):
        async with (
            self._pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            return await fn(PostgresTx(conn, writing=False), *args)

    @contextlib.asynccontextmanager
    async def _login_turn(self, pair: str) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
        """Serialized across app servers too: an advisory lock on the pair, held on one
        connection from the check until the outcome is recorded (the password check runs
        between, outside any transaction). The in-process lock first means one pool
        connection per pair waits here, not one per attempt."""
        key = f"login:{pair}"
        async with super()._login_turn(pair), self._pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", key)
            try:

                async def run(fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
                    async with conn.transaction():
                        return await fn(PostgresTx(conn, writing=True), *args)

                yield run
            finally:
                await conn.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", key)

    async def watch_events(self, wake):
        """LISTEN on a connection of its own (a pooled one would go back to the pool),
        opened again when it was lost."""
        if self._listener is not None and not self._listener.is_closed():
            return
        self._listener = await asyncpg.connect(self._url)
        await self._listener.add_listener(events.NOTIFY_CHANNEL, lambda *_: wake())

    async def close(self) -> None:
        if self._listener is not None:
            await self._listener.close()
        await self._pool.close()
