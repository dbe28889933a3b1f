"""The PostgreSQL engine (asyncpg), for several app servers over one database.

Every operation is one transaction on a pooled connection, except a read of one
statement (tx.one_statement: a list, a detail), which is its own snapshot and runs
without BEGIN and COMMIT. Nothing relies on an
in-process lock or cache that another server could make stale: rows an operation
changes are locked with SELECT … FOR UPDATE, login attempts of one (account, address)
pair serialize on an advisory lock, and sessions are read from the database on every
request, so a logout on one server holds on all of them.

Round trips are what an operation costs here (an authenticated update takes
5: the session, BEGIN, the locked read, one statement writing the order with its
message, events and deliveries (changes.py), COMMIT; a list or a detail 2):
- the session is read by one statement outside a transaction, which also reads the
  version of the field definitions (the settings row's xmin: every write of the row
  gives it a new one), so the definitions are kept in memory and read again only when
  a request has seen another version; never a cache that assumes one server;
- a connection goes back to the pool without asyncpg's reset query: the store's
  transactions always end (asyncpg rolls back one that did not), and only the login
  turn takes session state (an advisory lock), so only its connection is reset.
"""

import asyncio
import contextlib
import contextvars
import functools
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import orjson

from ..errors import StartupFailure
from ..store import Store, events, outbox
from .accounts import SESSION_USER, SESSIONS_CHANNEL, FoundSession, found_session
from .tx import Effects, TxBase
from .types import Row

MIGRATIONS = Path(__file__).resolve().parent / "migrations" / "postgres"
log = logging.getLogger("orderdesk.store")
# Held while migrating, so app servers starting together apply each step once.
MIGRATION_LOCK = 0x6F72646572  # "order"

_UNIQUE_INDEXES = {
    "users_user_name_unique": "user_name",
    "users_email_unique": "email",
    "users_phone_unique": "phone",
}
_PLACEHOLDER = re.compile(r"\?(\d*)")
DEADLOCK_ATTEMPTS = 3
# The SQLSTATEs of a database that cannot be written now.
CANNOT_WRITE = {
    "53100": "the disk is full",  # disk_full
    "25006": "the database is read-only",  # read_only_sql_transaction (also a standby)
    "58030": "writing to the disk failed",  # io_error
}


@functools.cache
def _numbered(sql: str) -> str:
    """`?` and `?N` placeholders (SQLite's) as PostgreSQL's `$N`."""
    count = 0

    def number(match: re.Match[str]) -> str:
        nonlocal count
        if match.group(1):
            return f"${match.group(1)}"
        count += 1
        return f"${count}"

    return _PLACEHOLDER.sub(number, sql)


class PostgresTx(TxBase):
    """tx.Tx over an asyncpg connection in a transaction (or, `one_statement`, for one
    statement alone)."""

    dialect = "postgres"

    def __init__(
        self,
        conn: asyncpg.Connection,
        *,
        writing: bool,
        clock_seconds: float,
        one_statement: bool = False,
    ) -> None:
        super().__init__(clock_seconds)
        self.conn = conn
        self.for_update = " FOR UPDATE" if writing else ""
        # Outside a transaction (tx.one_statement), a second statement would see
        # another snapshot: it is refused.
        self._statements_left = 1 if one_statement else None

    def _sql(self, sql: str) -> str:
        if self._statements_left is not None:
            if not self._statements_left:
                raise RuntimeError("an operation marked one_statement ran a second statement")
            self._statements_left -= 1
        return _numbered(sql)

    async def one(self, sql: str, *params: Any) -> asyncpg.Record | None:
        return await self.conn.fetchrow(self._sql(sql), *params)

    async def row(self, sql: str, *params: Any) -> asyncpg.Record:
        found = await self.conn.fetchrow(self._sql(sql), *params)
        if found is None:
            raise LookupError(f"no row: {sql}")
        return found

    async def all(self, sql: str, *params: Any) -> list[asyncpg.Record]:
        return await self.conn.fetch(self._sql(sql), *params)

    async def value(self, sql: str, *params: Any) -> Any:
        return await self.conn.fetchval(self._sql(sql), *params)

    async def run(self, sql: str, *params: Any) -> int:
        status = await self.conn.execute(self._sql(sql), *params)  # "UPDATE 3", "INSERT 0 1"
        count = status.rpartition(" ")[2]
        return int(count) if count.isdigit() else 0

    async def run_many(self, sql: str, rows: Iterable[tuple[Any, ...]]) -> None:
        await self.conn.executemany(self._sql(sql), rows)

    async def insert(self, sql: str, *params: Any) -> int:
        inserted = f"WITH inserted AS ({sql} RETURNING id) SELECT max(id) FROM inserted"
        return await self.conn.fetchval(self._sql(inserted), *params)

    def json(self, column: Any) -> Any:
        return column  # the jsonb codec has decoded it already

    def taken_field(self, error: Exception) -> str | None:
        if not isinstance(error, asyncpg.UniqueViolationError):
            return None
        return _UNIQUE_INDEXES.get(error.constraint_name)

    async def wake_outbox(self) -> None:
        # Delivered at COMMIT, to every app server's worker.
        await self.conn.execute(f"SELECT pg_notify('{outbox.NOTIFY_CHANNEL}', '')")

    async def lock(self, name: str) -> None:
        await self.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", name)

    async def read_slice(
        self, table: str, column: str, row_id: int, offset: int, length: int
    ) -> bytes:
        # The column's storage is EXTERNAL (uncompressed): only the TOAST chunks read.
        return await self.conn.fetchval(
            f"SELECT substring({column} FROM $1 FOR $2) FROM {table} WHERE id = $3",
            offset + 1,
            length,
            row_id,
        )


class _Connection(asyncpg.Connection):
    """A pooled connection that is reset on release only if it took session state."""

    took_session_state = False

    def mark_session_state(self) -> None:
        self.took_session_state = True


async def _reset_if_needed(conn: _Connection) -> None:
    """The pool's reset: asyncpg has already rolled back any open transaction and dropped
    listener callbacks; the reset query (advisory locks, settings, LISTENs) runs only
    for a connection that took session state."""
    if conn.took_session_state:
        conn.took_session_state = False
        await conn.execute(conn.get_reset_query())


# The session's statement also reads the field definitions' version (see the docstring).
_SESSION_USER_AND_FIELDS_VERSION = _numbered(f"""
    SELECT found.*,
           (SELECT xmin::text FROM settings WHERE key = 'order_fields') AS fields_version
    FROM ({SESSION_USER}) AS found""")
_FIELD_DEFINITIONS = "SELECT value, xmin::text AS version FROM settings WHERE key = 'order_fields'"
_UNSEEN = object()
# The definitions' version that this request's session lookup read (a request runs in
# its own task, and a task has its own context).
_fields_version_seen: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "fields_version_seen", default=_UNSEEN
)


async def _prepare_connection(conn: asyncpg.Connection) -> None:
    # JSON goes in as the text the store already serialized, and comes out as Python data.
    await conn.set_type_codec(
        "jsonb", schema="pg_catalog", encoder=lambda text: text, decoder=orjson.loads
    )


async def _migrate(conn: asyncpg.Connection) -> None:
    """Apply the numbered files NNNN_*.sql not yet applied, each in its own transaction.
    A schema already up to date is only read (a read-only database still opens)."""
    steps = sorted(MIGRATIONS.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    if await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL"):
        current = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations")
        if current >= int(steps[-1].name[:4]):
            return
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version INTEGER PRIMARY KEY, applied_time BIGINT NOT NULL)"""
        )
        current = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations")
        for path in steps:
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


# At start, a server that cannot reach PostgreSQL tries again for this long (it may be
# starting too), each try waiting at most CONNECT_TIMEOUT_SECONDS.
START_RETRY_SECONDS = 30.0
CONNECT_TIMEOUT_SECONDS = 10.0
# Errors that say PostgreSQL is not there (yet): worth another try.
_NOT_THERE = (
    OSError,
    TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.TooManyConnectionsError,
)


def server_of(url: str) -> str:
    """host:port of a PostgreSQL URL, as lines may show it (never the password)."""
    parts = urlsplit(url)
    try:
        port = parts.port or 5432
    except ValueError:
        port = 5432
    return f"{parts.hostname or 'localhost'}:{port}"


async def _first_pool(url: str, **options: Any) -> asyncpg.Pool:
    """The pool, its first connection made: while PostgreSQL cannot be reached, tried
    again for up to START_RETRY_SECONDS, each try logged as a WARNING that says another
    follows; then, or at once for a refused login or a missing database, StartupFailure
    naming host and port, never the password."""
    where = server_of(url)
    deadline = time.monotonic() + START_RETRY_SECONDS
    pause = 1.0
    while True:
        try:
            return await asyncpg.create_pool(url, **options)
        except _NOT_THERE as error:
            reason = _reason(error)
            left = deadline - time.monotonic()
            if left <= 0:
                raise StartupFailure(
                    f"cannot reach PostgreSQL at {where}: {reason} "
                    f"(tried for {START_RETRY_SECONDS:.0f} s)"
                ) from None
            log.warning(
                "cannot reach PostgreSQL at %s yet (%s); trying again for another %.0f s",
                where, reason, left,
            )  # fmt: skip
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, 5.0)
        except asyncpg.InvalidAuthorizationSpecificationError as error:
            raise StartupFailure(
                f"PostgreSQL at {where} refused the login: {_reason(error)}"
            ) from None
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise StartupFailure(f"PostgreSQL at {where}: {_reason(error)}") from None


def _reason(error: BaseException) -> str:
    """An error's text for a line that must never hold the URL's password."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    if isinstance(error, TimeoutError):
        return f"no answer within {CONNECT_TIMEOUT_SECONDS:.0f} s"
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text


class PostgresStore(Store):
    def __init__(self, pool: asyncpg.Pool, url: str, clock: Callable[[], float]) -> None:
        super().__init__(clock)
        self._pool = pool
        self._fields: tuple[Any, list[Row]] | None = None  # (version, definitions)
        self._url = url
        self._listener: asyncpg.Connection | None = None
        # Per channel, the `wake`s its notifications call.
        self._watchers: dict[str, set[Callable[[], None]]] = {
            events.NOTIFY_CHANNEL: set(),
            outbox.NOTIFY_CHANNEL: set(),
            SESSIONS_CHANNEL: set(),
        }

    @classmethod
    async def open(
        cls, url: str, *, clock: Callable[[], float] = time.time, pool_size: int = 10
    ) -> "PostgresStore":
        pool = await _first_pool(
            url,
            min_size=1,
            max_size=pool_size,
            init=_prepare_connection,
            connection_class=_Connection,
            reset=_reset_if_needed,
            timeout=CONNECT_TIMEOUT_SECONDS,
        )
        try:
            async with pool.acquire() as conn:
                await _migrate(conn)
        except asyncpg.PostgresError as error:
            await pool.close()
            raise StartupFailure(
                f"PostgreSQL at {server_of(url)}: cannot bring the schema up to date: "
                f"{_reason(error)}"
            ) from None
        except BaseException:
            await pool.close()
            raise
        return cls(pool, url, clock)

    async def _write(self, fn: Callable[..., Any], *args: Any) -> tuple[Any, Effects]:
        """A transaction PostgreSQL ended to break a deadlock changed nothing, and is run
        again. Every writer takes its locks in one order (an order's row, the events'
        turn, then the counts' rows: events.take_turn), so this is a safety net, and
        each time is logged."""
        attempts_left = DEADLOCK_ATTEMPTS
        while True:
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    tx = PostgresTx(conn, writing=True, clock_seconds=self.clock())
                    return await fn(tx, *args), tx.effects
            except asyncpg.DeadlockDetectedError as error:
                attempts_left -= 1
                if not attempts_left:
                    raise
                log.warning("a write ended by PostgreSQL to break a deadlock runs again: %s", error)

    def _cannot_write(self, error: Exception) -> str | None:
        if not isinstance(error, asyncpg.PostgresError):
            return None
        reason = CANNOT_WRITE.get(error.sqlstate)
        return None if reason is None else f"{reason}: {error}"

    async def _read(self, fn: Callable[..., Any], *args: Any) -> Any:
        async with (
            self._pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            return await fn(PostgresTx(conn, writing=False, clock_seconds=self.clock()), *args)

    async def _read_one_statement(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Its one statement is its own snapshot: no BEGIN and COMMIT around it."""
        async with self._pool.acquire() as conn:
            tx = PostgresTx(conn, writing=False, clock_seconds=self.clock(), one_statement=True)
            return await fn(tx, *args)

    @contextlib.asynccontextmanager
    async def _login_turn(self, address: str) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
        """Serialized across app servers too: an advisory lock on the address, held on
        one connection from the check until the outcome is recorded (the password check
        runs between, outside any transaction). The in-process lock first means one pool
        connection per address waits here, not one per attempt."""
        key = f"login:{address}"
        async with super()._login_turn(address), self._pool.acquire() as conn:
            conn.mark_session_state()  # reset on release, even if the unlock fails
            await conn.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", key)
            try:

                async def run(fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
                    with self._saving():
                        async with conn.transaction():
                            tx = PostgresTx(conn, writing=True, clock_seconds=self.clock())
                            result = await fn(tx, *args)
                    self._committed(tx.effects)
                    return result

                yield run
            finally:
                await conn.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", key)

    async def session_user(self, token_hash: bytes, now: int) -> FoundSession | None:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(_SESSION_USER_AND_FIELDS_VERSION, token_hash)
        if row is None:
            return None
        found = found_session(row)
        _fields_version_seen.set(found.user.pop("fields_version"))
        return found if found.expires_at > now else None

    async def field_definitions(self) -> list[Row]:
        """From memory when this request's session lookup saw the version kept there."""
        seen = _fields_version_seen.get()
        if self._fields is not None and seen is not _UNSEEN and self._fields[0] == seen:
            return self._fields[1]
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(_FIELD_DEFINITIONS)
        self._fields = (None, []) if row is None else (row["version"], row["value"])
        return self._fields[1]

    async def watch_events(self, wake: Callable[[], None]) -> None:
        await self._listen(events.NOTIFY_CHANNEL, wake)

    async def watch_outbox(self, wake: Callable[[], None]) -> None:
        await self._listen(outbox.NOTIFY_CHANNEL, wake)

    async def watch_sessions(self, wake: Callable[[], None]) -> None:
        await self._listen(SESSIONS_CHANNEL, wake)

    async def _listen(self, channel: str, wake: Callable[[], None]) -> None:
        """LISTEN on a connection of its own (a pooled one would go back to the pool),
        opened again when it was lost; a notification on `channel` calls each of its
        watchers' `wake`."""
        self._watchers[channel].add(wake)
        if self._listener is not None and not self._listener.is_closed():
            return
        self._listener = await asyncpg.connect(self._url)
        for name in self._watchers:
            await self._listener.add_listener(name, functools.partial(self._notified, name))

    def _notified(self, channel: str, *_: Any) -> None:
        for wake in self._watchers[channel]:
            wake()

    async def close(self) -> None:
        if self._listener is not None:
            await self._listener.close()
        await self._pool.close()
