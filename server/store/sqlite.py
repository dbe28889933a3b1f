"""The embedded SQLite engine (aiosqlite), the default.

Three connections: a writer, a reader and a checkpointer. WAL lets the reader see
the last committed state while the writer works. Store calls queue on their
connection and run in batches, each batch whole on the connection's own thread: a
round trip from the event loop serves many requests, and aiosqlite's thread runs
one batch at a time, so transactions never interleave. The operations are the
coroutines of the store's subject modules; `SqliteTx` never suspends, so each runs
to its end in one go.
"""

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import orjson

from ..background import Backoff
from . import Store, accounts, fields
from .tx import Effects, TxBase
from .types import Row

MIGRATIONS = Path(__file__).resolve().parent / "migrations" / "sqlite"
BUSY_TIMEOUT_MS = 5000
# Checkpoints (copying the WAL back into the database, with an fsync) run mostly on their
# own connection, at most CHECKPOINT_SECONDS apart, so commits don't pay for them; only
# the frames committed during one are copied on the writer's thread (_checkpoint_regularly).
# The writer's own automatic checkpoint stays as a backstop at a larger WAL (4 KiB pages).
CHECKPOINT_SECONDS = 0.25
BACKSTOP_CHECKPOINT_PAGES = 10_000
# Under a steady stream of writes, checkpoints come often enough to find about this many
# WAL frames each time (at most every CHECKPOINT_MIN_SECONDS): small enough that the
# part run on the writer's thread stays short, and the WAL far below the backstop.
CHECKPOINT_TARGET_FRAMES = 2_000
CHECKPOINT_MIN_SECONDS = 0.01
CHECKPOINT = "PRAGMA wal_checkpoint(PASSIVE)"

T = TypeVar("T")
log = logging.getLogger("orderdesk.store")

# The primary result codes of a database that cannot be written now: its disk is full,
# its file (or mount) is read-only, the write itself failed, or another program (the
# sqlite3 shell, a backup tool) has held the write lock past BUSY_TIMEOUT_MS.
CANNOT_WRITE = {
    sqlite3.SQLITE_FULL: "the disk is full",
    sqlite3.SQLITE_READONLY: "the database file is read-only",
    sqlite3.SQLITE_IOERR: "writing to the disk failed",
    sqlite3.SQLITE_BUSY: "another program holds the database's write lock",
}


def cannot_write(error: BaseException) -> str | None:
    """Why SQLite could not write, if `error` is one of CANNOT_WRITE."""
    code = getattr(error, "sqlite_errorcode", None)
    if not isinstance(error, sqlite3.Error) or code is None:
        return None
    reason = CANNOT_WRITE.get(code & 0xFF)
    return None if reason is None else f"{reason}: {error}"


class SqliteTx(TxBase):
    """tx.Tx over a sqlite3 connection in a transaction."""

    dialect = "sqlite"
    for_update = ""  # the write transaction already holds the whole database

    def __init__(self, conn: sqlite3.Connection, clock_seconds: float) -> None:
        super().__init__(clock_seconds)
        self.conn = conn

    async def one(self, sql: str, *params: Any) -> sqlite3.Row | None:
        return self.conn.execute(sql, params).fetchone()

    async def row(self, sql: str, *params: Any) -> sqlite3.Row:
        found = self.conn.execute(sql, params).fetchone()
        if found is None:
            raise LookupError(f"no row: {sql}")
        return found

    async def all(self, sql: str, *params: Any) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    async def value(self, sql: str, *params: Any) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    async def run(self, sql: str, *params: Any) -> int:
        return self.conn.execute(sql, params).rowcount

    async def run_many(self, sql: str, rows: Iterable[tuple[Any, ...]]) -> None:
        self.conn.executemany(sql, rows)

    async def insert(self, sql: str, *params: Any) -> int:
        return self.conn.execute(sql, params).lastrowid or 0

    def json(self, column: str) -> Any:
        return orjson.loads(column)

    def taken_field(self, error: Exception) -> str | None:
        if not isinstance(error, sqlite3.IntegrityError):
            return None
        return next(
            (f for f in ("user_name", "email", "phone") if f"users.{f}" in str(error)), None
        )

    async def lock(self, name: str) -> None:
        """Nothing to do: a SQLite write transaction excludes every other writer."""

    async def wake_outbox(self) -> None:
        self.effects.outbox_woken = True  # the store wakes the worker after the COMMIT

    async def read_slice(
        self, table: str, column: str, row_id: int, offset: int, length: int
    ) -> bytes:
        # Incremental blob I/O: substr() would load the whole value for every slice.
        with self.conn.blobopen(table, column, row_id, readonly=True) as blob:
            blob.seek(offset)
            return blob.read(length)


def _run_now(operation: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (SqliteTx's never do) to its result."""
    try:
        operation.send(None)
    except StopIteration as done:
        return done.value
    operation.close()
    raise RuntimeError("a SQLite store operation tried to suspend")


# ---------------------------------------------------------------- connection setup


async def _connect(path: str, synchronous: str) -> aiosqlite.Connection:
    # isolation_level=None: no implicit transactions; every one is an explicit BEGIN.
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    # NORMAL in WAL mode: a commit survives the process being killed; FULL also
    # survives power loss. Config allows only these two values.
    level = "FULL" if synchronous == "full" else "NORMAL"
    try:
        for pragma in (
            f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
            "PRAGMA foreign_keys = ON",
            "PRAGMA journal_mode = WAL",
            f"PRAGMA synchronous = {level}",
        ):
            await conn.execute(pragma)
    except BaseException:
        # A file that is no database fails here: its connection's thread would keep
        # the process from exiting.
        await conn.close()
        raise
    return conn


# The first line of a migration that rebuilds tables others refer to (SQLite's way to
# change a CHECK or a column's type: create the new table, copy, drop, rename).
REBUILD_MARK = "-- rebuilds tables: foreign keys off"


def _migrate(conn: sqlite3.Connection, migrations: Path = MIGRATIONS) -> None:
    """The numbered files NNNN_*.sql not yet applied (PRAGMA user_version), in order,
    each in one transaction. A file starting with REBUILD_MARK runs with foreign keys
    off (they cannot be switched inside a transaction, and dropping a table that
    others refer to would otherwise fail), and is committed only if every foreign key
    still holds afterwards."""
    steps = sorted((int(p.name[:4]), p) for p in migrations.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, path in steps:
        if number <= current:
            continue
        sql = path.read_text()
        rebuild = sql.startswith(REBUILD_MARK)
        if rebuild:
            conn.execute("PRAGMA foreign_keys = OFF")
        try:
            conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {number};")
            if rebuild and (broken := conn.execute("PRAGMA foreign_key_check").fetchall()):
                raise RuntimeError(f"migration {path.name} breaks foreign keys: {broken[:5]}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            if rebuild:
                conn.execute("PRAGMA foreign_keys = ON")


Call = tuple[Callable[..., Coroutine[Any, Any, Any]], tuple[Any, ...]]
Outcome = tuple[bool, Any]  # (True, result) or (False, the exception it raised)


def _write_batch(
    conn: sqlite3.Connection, calls: list[Call], clock: Callable[[], float]
) -> list[Outcome]:
    """Group commit: every call in one BEGIN IMMEDIATE … COMMIT, each inside its own
    savepoint so a failing call is rolled back alone (its effects with it). Nothing is
    reported as done before the COMMIT has succeeded; if it fails, every call fails. A
    call's result comes with its tx's effects."""
    outcomes: list[Outcome] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for fn, args in calls:
            conn.execute("SAVEPOINT call")
            tx = SqliteTx(conn, clock())
            try:
                outcomes.append((True, (_run_now(fn(tx, *args)), tx.effects)))
            except Exception as error:
                if not conn.in_transaction:
                    # SQLite rolled the whole transaction back itself (a full disk, an
                    # I/O error): every call of the batch fails with this error.
                    raise
                conn.execute("ROLLBACK TO call")
                outcomes.append((False, error))
            conn.execute("RELEASE call")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return outcomes


def _read_batch(
    conn: sqlite3.Connection, calls: list[Call], clock: Callable[[], float]
) -> list[Outcome]:
    """Every call in one read transaction: each sees one consistent snapshot."""
    outcomes: list[Outcome] = []
    conn.execute("BEGIN")
    try:
        for fn, args in calls:
            try:
                outcomes.append((True, _run_now(fn(SqliteTx(conn, clock()), *args))))
            except Exception as error:
                outcomes.append((False, error))
    finally:
        conn.execute("COMMIT")
    return outcomes


class _Batcher:
    """Runs store calls on one aiosqlite connection, a batch per thread round trip.

    Calls that arrive while a batch is running wait and go together in the next one,
    so under load the cost of the hop to the connection's thread (and of the
    COMMIT) is shared. aiosqlite's thread runs one function at a time, so batches
    never interleave; `_execute` is how aiosqlite's own methods queue their work."""

    def __init__(self, conn: aiosqlite.Connection, run: Callable[..., list[Outcome]]) -> None:
        self.conn = conn
        self._run = run
        self._pending: list[tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future[Any]]] = []
        self._draining = False

    async def submit(self, fn: Callable[..., T], *args: Any) -> T:
        future = asyncio.get_running_loop().create_future()
        self._pending.append((fn, args, future))
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                calls = [(fn, args) for fn, args, _ in batch]
                try:
                    outcomes = await self.conn._execute(  # type: ignore[no-untyped-call]
                        self._run, self.conn._conn, calls
                    )
                except Exception as error:
                    outcomes = [(False, error)] * len(batch)
                for (_, _, future), (ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:
            self._draining = False


async def _pragma(conn: aiosqlite.Connection, sql: str) -> sqlite3.Row:
    """A one-row PRAGMA run to its end in one call on the connection's thread: a
    statement left open between two calls would stop the next batch's SAVEPOINT there
    ("SQL statements in progress")."""
    rows = await conn._execute(lambda: conn._conn.execute(sql).fetchall())  # type: ignore[no-untyped-call]
    return rows[0]


# ---------------------------------------------------------------- maintenance


BACKUP_STEP_PAGES = 1024  # pages copied per step of an online backup


def backup(path: str, target: str, stop: Callable[[], bool] = lambda: False) -> float:
    """A consistent copy of a live database, made with SQLite's online backup API a step
    at a time (the GIL is free between steps, and WAL lets the server write on). The
    copy is the database as of one read transaction held for the whole copy, so writes
    made meanwhile neither restart it nor show in it. Returns when that snapshot was
    taken (Unix time): every write committed before it is in the copy. `stop()` true
    between two steps abandons the copy (BackupStopped). The copy is a single file
    (rollback journal mode), with no -wal beside it."""
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        source.execute("BEGIN")
        started = time.time()
        source.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # the snapshot
        destination = sqlite3.connect(target)
        try:

            def between_steps(status: int, remaining: int, total: int) -> None:
                if stop():
                    raise BackupStopped()

            source.backup(destination, pages=BACKUP_STEP_PAGES, progress=between_steps)
            destination.execute("PRAGMA journal_mode = DELETE")
        finally:
            destination.close()
        source.execute("COMMIT")
    finally:
        source.close()
    return started


class BackupStopped(Exception):
    """A backup abandoned because the server stops."""


def schema_problems(path: str) -> list[str]:
    """[] when the file holds orderdesk's tables (any SQLite file passes `check`)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        found = conn.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN "
            "('users', 'comm_orders', 'messages')"
        ).fetchone()[0]
    finally:
        conn.close()
    return [] if found == 3 else ["it has no orderdesk tables"]


RESTORED_SUFFIX = ".before-restore"


def restore(path: str, source: str) -> str | None:
    """Put a copy of `source` (made with the backup API, so a -wal beside it counts) in
    place of the database at `path`, atomically; the old database, its -wal with it,
    is kept as `path` + RESTORED_SUFFIX (replacing an older one). Its name, or None
    when there was no database. No server may hold `path` (the caller checks)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    incoming = path + ".restoring"
    for name in (incoming, incoming + "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
    backup(source, incoming)
    with open(incoming, "rb") as copy:
        os.fsync(copy.fileno())
    kept = None
    if os.path.exists(path):
        kept = path + RESTORED_SUFFIX
        for name in (kept, kept + "-wal", kept + "-shm", kept + "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
        os.link(path, kept)
        # The old database's write-ahead log holds some of its committed writes: it goes
        # with it, or the restored file would be read through it.
        if os.path.exists(path + "-wal"):
            os.rename(path + "-wal", kept + "-wal")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path + "-shm")
    os.replace(incoming, path)
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return kept


def check(path: str) -> list[str]:
    """Problems found by integrity_check, foreign_key_check and the attachments' size and
    md5; [] when the file is sound."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check") if row[0] != "ok"]
        problems += [
            f"foreign key: {table} row {rowid} points to a missing {parent}"
            for table, rowid, parent, _ in conn.execute("PRAGMA foreign_key_check")
        ]
        problems += _attachment_problems(conn)
    finally:
        conn.close()
    return problems


CHECK_SLICE = 1 << 20


def _attachment_problems(conn: sqlite3.Connection) -> list[str]:
    """Each attachment's bytes against its recorded size and md5, read a slice at a time."""
    problems: list[str] = []
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'attachments'").fetchone() is None:
        return problems  # a database from before migration 6
    rows = conn.execute("SELECT id, name, file_size, file_md5 FROM attachments ORDER BY id")
    for attachment_id, name, size, md5 in rows.fetchall():
        digest, length = hashlib.md5(), 0
        with conn.blobopen("attachments", "data", attachment_id, readonly=True) as blob:
            while chunk := blob.read(CHECK_SLICE):
                digest.update(chunk)
                length += len(chunk)
        if length != size or digest.hexdigest() != md5:
            problems.append(
                f"attachment {attachment_id} ({name}): its bytes do not match the recorded "
                f"size and md5 ({length} bytes, md5 {digest.hexdigest()}; recorded {size}, {md5})"
            )
    return problems


# ---------------------------------------------------------------- the engine

SESSION_CACHE_SECONDS = 5  # how stale a cached user (its role, its name) may get
SESSION_CACHE_ENTRIES = 10_000


class _ReadCache:
    """Rows read from the database, kept in this process to save a round trip.

    Sound because a SQLite database is served by one process: every change to a
    cached row goes through this store, which drops the entry once the change is
    committed; a commit by another process (create-admin) drops everything within
    CHECKPOINT_SECONDS (see _checkpoint_regularly). A read that was under way while a
    change happened does not store what it read, so a revoked session can never come
    back from the cache."""

    def __init__(self, max_age: float | None, max_entries: int) -> None:
        self._entries: OrderedDict[Any, tuple[Any, float]] = OrderedDict()
        self._max_age = max_age
        self._max_entries = max_entries
        self.generation = 0  # moves on every drop

    def get(self, key: Any, now: float) -> Any:
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, stored_at = entry
        if self._max_age is not None and now - stored_at >= self._max_age:
            del self._entries[key]
            return None
        return value

    def put(self, key: Any, value: Any, now: float, generation: int) -> None:
        """Store a value read while the cache was at `generation`, unless a drop came since."""
        if generation != self.generation:
            return
        self._entries[key] = (value, now)
        if len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def drop(self, key: Any) -> None:
        self.generation += 1
        self._entries.pop(key, None)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()


class SqliteStore(Store):
    def __init__(
        self,
        writer: aiosqlite.Connection,
        reader: aiosqlite.Connection,
        checkpointer: aiosqlite.Connection,
        clock: Callable[[], float],
    ) -> None:
        super().__init__(clock)
        self._outbox_watchers: set[Callable[[], None]] = set()
        self._writes = _Batcher(writer, functools.partial(_write_batch, clock=clock))
        self._reads = _Batcher(reader, functools.partial(_read_batch, clock=clock))
        self._checkpointer = checkpointer
        self._checkpoints = asyncio.get_running_loop().create_task(self._checkpoint_regularly())
        self._sessions = _ReadCache(SESSION_CACHE_SECONDS, SESSION_CACHE_ENTRIES)
        self._fields = _ReadCache(None, 1)
        self._event_watchers: set[Callable[[], None]] = set()

    @classmethod
    async def open(
        cls, path: str, *, clock: Callable[[], float] = time.time, synchronous: str = "normal"
    ) -> "SqliteStore":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        connections = [await _connect(path, synchronous)]
        try:
            writer = connections[0]
            await writer._execute(_migrate, writer._conn)  # type: ignore[no-untyped-call]
            await writer.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_CHECKPOINT_PAGES}")
            connections.append(await _connect(path, synchronous))
            connections.append(await _connect(path, synchronous))
        except BaseException:
            for conn in connections:
                await conn.close()
            raise
        writer, reader, checkpointer = connections
        return cls(writer, reader, checkpointer, clock)

    async def _checkpoint_regularly(self) -> None:
        """Checkpoints, and a look for commits made by another process (create-admin
        revoking sessions): PRAGMA data_version on the writer changes only then, and the
        cached rows are dropped, so a revoked session is refused within about
        CHECKPOINT_SECONDS instead of SESSION_CACHE_SECONDS.

        Each round copies the WAL into the database beside the writer, then copies the
        few frames committed meanwhile on the writer's own thread, between its batches:
        nothing is appended while that runs, so the WAL is then copied whole and the
        next write starts it over. (A checkpoint beside a busy writer never finishes the
        WAL, which then grows to the writer's backstop, a checkpoint of thousands of
        pages inside one COMMIT.) Under a steady stream of writes the rounds come as
        often as it takes to find about CHECKPOINT_TARGET_FRAMES each time."""
        outside_version = None
        backoff = Backoff(log, "the background checkpoint", cannot_write)
        wait = CHECKPOINT_SECONDS
        clock = asyncio.get_running_loop().time
        started_over = clock()
        while True:
            await asyncio.sleep(wait)
            try:
                _, wal_frames, _ = await _pragma(self._checkpointer, CHECKPOINT)
                filled_in = clock() - started_over
                if wal_frames > 0:
                    await _pragma(self._writes.conn, CHECKPOINT)
                started_over = clock()
            except sqlite3.Error as error:
                # The WAL keeps what it holds (a full disk: until the database file
                # can grow), and the writer's own checkpoint is the backstop.
                wait = backoff.failed(error, CHECKPOINT_SECONDS)
            else:
                backoff.succeeded()
                wait = CHECKPOINT_SECONDS
                if wal_frames > CHECKPOINT_TARGET_FRAMES:
                    pace = filled_in * CHECKPOINT_TARGET_FRAMES / wal_frames
                    wait = max(CHECKPOINT_MIN_SECONDS, min(CHECKPOINT_SECONDS, pace))
            (version,) = await _pragma(self._writes.conn, "PRAGMA data_version")
            if version != outside_version:
                outside_version = version
                self._sessions.clear()
                self._fields.clear()

    async def _write(self, fn: Callable[..., Any], *args: Any) -> tuple[Any, Effects]:
        return await self._writes.submit(fn, *args)

    def _cannot_write(self, error: Exception) -> str | None:
        return cannot_write(error)

    async def _read(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await self._reads.submit(fn, *args)

    def _committed(self, effects: Effects) -> None:
        """One process serves the file: every commit went through here, so what it made
        stale is dropped here, and the watchers of events and deliveries are woken."""
        for token_hash in (*effects.revoked_sessions, *effects.changed_sessions):
            self._sessions.drop(token_hash)
        if effects.users_changed:
            self._sessions.clear()  # cached sessions hold their user's fields
        if effects.fields_changed:
            self._fields.clear()
        super()._committed(effects)
        if effects.events_recorded:
            for wake in self._event_watchers:
                wake()
        if effects.outbox_woken:
            for wake in self._outbox_watchers:
                wake()

    async def watch_events(self, wake: Callable[[], None]) -> None:
        self._event_watchers.add(wake)

    async def watch_outbox(self, wake: Callable[[], None]) -> None:
        self._outbox_watchers.add(wake)

    async def watch_sessions(self, wake: Callable[[], None]) -> None:
        """Nothing to watch: one server process serves the file, and its own revocations
        reach its streams directly; one by another process (create-admin) is found by
        the streams' regular look at their sessions."""

    async def close(self) -> None:
        self._checkpoints.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._checkpoints
        await self._checkpointer.close()
        await self._reads.conn.close()
        await self._writes.conn.close()

    # Sessions and field definitions are served from memory where they can be.

    async def session_user(self, token_hash: bytes, now: int) -> accounts.FoundSession | None:
        found = self._sessions.get(token_hash, now)
        if found is None:
            generation = self._sessions.generation
            found = await self.read(accounts.session_user, token_hash)
            if found is None:
                return None
            self._sessions.put(token_hash, found, now, generation)
        # Expiry is checked on every use, cached or not.
        if found.expires_at <= now:
            return None
        return accounts.FoundSession(dict(found.user), *found[1:])

    async def field_definitions(self) -> list[Row]:
        definitions = self._fields.get("all", 0)
        if definitions is None:
            generation = self._fields.generation
            definitions = await self.read(fields.field_definitions)
            self._fields.put("all", definitions, 0, generation)
        return definitions
