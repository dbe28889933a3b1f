"""The storage layer: the only code that holds SQL or knows which engine is in use.

The operations live once, by subject (`accounts`, `orders`, `threads`, `fields`,
`events`, `outbox`, `attachments`), each an async function over `tx.Tx`; callers run
one with `store.read(orders.order_detail, ...)` or `store.write(orders.update_order,
...)`, one transaction each. An engine supplies how a transaction runs. `owner_id`
scopes an order operation to its customer in SQL (`AND user_id = ?`); merchant
operations pass `ANY_OWNER`.
"""

import abc
import asyncio
import contextlib
import functools
import logging
import math
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Concatenate, ParamSpec, TypeVar

from ..background import Reported
from ..errors import CannotSave, StartupFailure, TooManyAttempts
from ..redact import redact
from . import accounts, fields
from .tx import ONE_STATEMENT, Effects, Tx, probe_write
from .types import ANY_OWNER, LoginLimits, OrderFilter, Row, Sender

P = ParamSpec("P")
R = TypeVar("R")

__all__ = [
    "ANY_OWNER",
    "LoginLimits",
    "OrderFilter",
    "Row",
    "Sender",
    "Store",
    "Tx",
    "open_store",
]


class KeyedLocks:
    """One asyncio lock per key, kept only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        lock = lock or asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


log = logging.getLogger("orderdesk.store")

# While the database cannot be written, a health check tries a write at most this often
# to see whether it can be again, and waits for it at most PROBE_WAIT_SECONDS (the write
# goes on without it).
PROBE_SECONDS = 1.0
PROBE_WAIT_SECONDS = 0.5


class WriteState:
    """Whether the database takes writes: the one place that keeps the condition for
    the health check and logs it (as background.Reported says: once a minute, and its
    end, also when it comes and goes, as on a disk with room for small writes only). A
    write the engine refuses for lack of space or for being read-only marks it; only a
    probe that really writes clears it (a commit that changed nothing, say a login's
    look at its counters, proves nothing), and the probe runs while the condition
    lasts, when health is asked for (`Store.writable`)."""

    def __init__(self) -> None:
        self.failing_since: float | None = None
        self._reported = Reported()
        self._probed_at = -math.inf
        self._recovery_listeners: list[Callable[[], None]] = []

    @property
    def degraded(self) -> bool:
        return self.failing_since is not None

    def failed(self, reason: str) -> None:
        if self.failing_since is None:
            self.failing_since = time.monotonic()
        if self._reported.start_due():
            log.error(
                "the database cannot be written (%s): writes are refused and reads still "
                "served until it can; logged at most once a minute while it lasts",
                reason,
            )

    def recovered(self) -> None:
        if self.failing_since is None:
            return
        if self._reported.end_due():
            log.warning(
                "the database can be written again after %.0f s; writes are accepted",
                time.monotonic() - self.failing_since,
            )
        self.failing_since = None
        for listener in self._recovery_listeners:
            listener()

    def on_recovery(self, listener: Callable[[], None]) -> None:
        """Call `listener` when writing works again (background loops resume at once)."""
        self._recovery_listeners.append(listener)

    def probe_due(self) -> bool:
        now = time.monotonic()
        if now - self._probed_at < PROBE_SECONDS:
            return False
        self._probed_at = now
        return True


class Store(abc.ABC):
    """An open database. `read` and `write` run one operation of the subject modules
    (`store.orders.update_order`, ...) in a transaction; the few methods here are what
    is more than that: login turns, cached reads, and what a commit sets off."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._login_turns = KeyedLocks()
        self._revocation_listeners: list[Callable[[list[bytes]], None]] = []
        self.writes = WriteState()
        self._probe: asyncio.Future[None] | None = None  # a write tried for `writable`

    async def write(
        self,
        operation: Callable[Concatenate[Tx, P], Awaitable[R]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        """operation(tx, *args) in a write transaction, committed when this returns and
        rolled back if it raises; then what the commit means for this process (and, on
        PostgreSQL, the other app servers) is acted on. A database that cannot be
        written now raises CannotSave, and the write changed nothing."""
        # Not `with self._saving()`: a generator's context manager costs the event loop
        # about a microsecond per write.
        try:
            result, effects = await self._write(functools.partial(operation, **kwargs), *args)
        except Exception as error:
            self._refuse_if_cannot_write(error)
            raise
        self._committed(effects)
        return result

    @contextlib.contextmanager
    def _saving(self) -> Iterator[None]:
        """Around a write transaction: the engine's refusals for lack of space or for
        being read-only become CannotSave, and mark the condition."""
        try:
            yield
        except Exception as error:
            self._refuse_if_cannot_write(error)
            raise

    def _refuse_if_cannot_write(self, error: Exception) -> None:
        """CannotSave, the condition marked, if `error` is the engine's refusal for lack
        of space or for being read-only."""
        reason = self._cannot_write(error)
        if reason is not None:
            self.writes.failed(reason)
            raise CannotSave() from None

    @abc.abstractmethod
    def _cannot_write(self, error: Exception) -> str | None:
        """Why the engine could not write, if `error` says the database cannot be
        written now (a full disk, a read-only file or database); None for any other."""

    async def writable(self) -> bool:
        """Whether the database takes writes. While it did not, a real write is tried
        (at most once a PROBE_SECONDS, one at a time), so a health check sees it recover
        even when nothing else writes. The caller waits for it PROBE_WAIT_SECONDS at
        most and then has the condition as it stands: a write lock held by another
        program is waited out for the busy timeout (seconds), longer than a load
        balancer waits for its health check."""
        if self.writes.degraded and self._probe is None and self.writes.probe_due():
            self._probe = asyncio.ensure_future(self._probe_write())
            self._probe.add_done_callback(self._probed)
        if self._probe is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._probe), PROBE_WAIT_SECONDS)
        return not self.writes.degraded

    async def _probe_write(self) -> None:
        with contextlib.suppress(CannotSave):
            await self.write(probe_write)
            self.writes.recovered()

    def _probed(self, probe: asyncio.Future[None]) -> None:
        self._probe = None
        if not probe.cancelled():
            probe.exception()  # a fault was the waiting health check's; none is left unread

    async def read(
        self,
        operation: Callable[Concatenate[Tx, P], Awaitable[R]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        """operation(tx, *args) in a read transaction: its queries see one snapshot (an
        operation of one statement, tx.one_statement, may run without one: the
        statement is its snapshot)."""
        read = self._read_one_statement if hasattr(operation, ONE_STATEMENT) else self._read
        return await read(functools.partial(operation, **kwargs), *args)

    @abc.abstractmethod
    async def _write(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> tuple[Any, Effects]:
        """fn(tx, *args) in a write transaction; its result and the tx's effects."""

    @abc.abstractmethod
    async def _read(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any: ...

    async def _read_one_statement(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """A read of one statement (tx.one_statement): by default like any other."""
        return await self._read(fn, *args)

    @abc.abstractmethod
    async def close(self) -> None: ...

    def _committed(self, effects: Effects) -> None:
        """After a commit: open streams of revoked sessions end. An engine that keeps
        rows in memory also forgets what the commit made stale."""
        if effects.revoked_sessions:
            for listener in self._revocation_listeners:
                listener(effects.revoked_sessions)

    def on_sessions_revoked(self, listener: Callable[[list[bytes]], None]) -> None:
        """Call `listener` with the token hashes of sessions this process revokes, once
        the revocation has committed (open event streams end at once)."""
        self._revocation_listeners.append(listener)

    # ---------------------------------------------------------------- reads kept in memory

    async def session_user(self, token_hash: bytes, now: int) -> accounts.FoundSession | None:
        """An unexpired session: its user, expiry, TTL and last use."""
        found = await self.read(accounts.session_user, token_hash)
        return found if found is not None and found.expires_at > now else None

    async def field_definitions(self) -> list[Row]:
        return await self.read(fields.field_definitions)

    # ---------------------------------------------------------------- login turns

    @contextlib.asynccontextmanager
    async def _login_turn(self, address: str) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
        """The turn of one attempt from `address`: attempts from one address (so of each
        of its pairs) wait for each other. Yields how to run a store operation during the
        turn. One process per SQLite file, so a lock in this process is enough here;
        PostgreSQL adds its own."""
        async with self._login_turns.hold(address):
            yield self.write

    async def decide_login(
        self,
        account: str,
        address: str,
        limits: LoginLimits,
        check_password: Callable[[], Awaitable[bool]],
    ) -> bool:
        """One login attempt of `account` (e.g. 'user:7', or 'name:<folded name>' for an
        unknown one) from `address`: refused with TooManyAttempts when the pair or the
        address has too many recent failures (a refusal is not counted); otherwise the
        result of `check_password`: a failure counts against the pair and the address, a
        success clears the pair's count only. Attempts from one address are decided one
        at a time, so one being checked is never taken for a failure, and simultaneous
        guesses at many names cannot all slip under the address limit."""
        pair, per_address = accounts.pair_subject(account, address), f"addr:{address}"
        async with self._login_turn(per_address) as run:
            if await run(accounts.login_refused, pair, per_address, limits):
                raise TooManyAttempts()
            if await check_password():
                await run(accounts.clear_login_failures, pair)
                return True
            await run(accounts.record_login_failure, [pair, per_address], limits.window)
            return False

    # ---------------------------------------------------------------- wake-ups

    @abc.abstractmethod
    async def watch_events(self, wake: Callable[[], None]) -> None:
        """Make sure `wake` is called soon after any commit that wrote events, including
        (on PostgreSQL) those of other app servers; called again now and then, so a lost
        listening connection is opened again."""

    @abc.abstractmethod
    async def watch_sessions(self, wake: Callable[[], None]) -> None:
        """Make sure `wake` is called soon after another app server (or another process)
        revokes sessions, where the engine can tell; called again now and then, as
        watch_events."""

    @abc.abstractmethod
    async def watch_outbox(self, wake: Callable[[], None]) -> None:
        """Make sure `wake` is called soon after a commit that gave the delivery worker
        something to do, on any app server; called again now and then, as
        watch_events."""


def is_postgres_url(db: str) -> bool:
    return db.startswith(("postgresql://", "postgres://"))


def sqlite_file_bytes(path: str) -> int:
    """A SQLite database's size on disk: its file and its write-ahead log."""
    size = 0
    for name in (path, path + "-wal"):
        with contextlib.suppress(FileNotFoundError):
            size += os.stat(name).st_size
    return size


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:(//)?")


def check_db_value(db: str) -> None:
    """A --db value is a postgresql:// (or postgres://) URL or a SQLite file path; a
    value that starts as a URL of any other scheme does (a typo, another driver's, or
    `file:`, which SQLite itself would open as a URI beside the server's lock) is
    refused, never taken as a file name. (A file whose name holds a colon: ./a:b.db.) A
    path that names a folder is refused too, before any command makes a file beside it
    (SQLite's own refusal would say "unable to open database file")."""
    scheme = _SCHEME.match(db)
    if scheme and not is_postgres_url(db):
        raise StartupFailure(
            f"--db {shown_db(db)}: the scheme {scheme.group()} is not one orderdesk knows; "
            "give a postgresql://user:password@host:port/dbname URL or a SQLite file path "
            "(a file name with a colon as ./name)"
        )
    if not scheme and os.path.isdir(db):
        example = os.path.join(db, "orderdesk.db")
        raise StartupFailure(
            f"{db} is a folder: --db names the SQLite database file (e.g. {example})"
        )


def shown_db(db: str) -> str:
    """`db` as logs and messages may show it: a URL (of any scheme) without its
    password."""
    return redact(db)


def _sqlite_problem(db: str) -> str | None:
    """Why a server could not write the SQLite file `db` (and its folder, where SQLite
    keeps its -wal and -shm files beside it), creating the folder if need be. A file
    with more than one name (hard links) is refused: SQLite finds the write-ahead log by
    the name it opened, so two names would mean two logs for one database (and the
    one-server lock, also found by name, would not see the other)."""
    folder = os.path.dirname(os.path.abspath(db))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as error:
        return f"cannot create the database folder {folder}: {error.strerror}"
    if not os.access(folder, os.W_OK):
        return f"cannot write in the database folder {folder}: {_access_reason(folder)}"
    try:
        found = os.stat(db)
    except FileNotFoundError:
        return None
    if not os.access(db, os.W_OK):
        return f"cannot write the database file {db}: {_access_reason(db)}"
    if (names := found.st_nlink) > 1:
        return (
            f"the database file {db} has {names} names (hard links); SQLite would keep a "
            "write-ahead log for each: keep one name (copy it with the backup command)"
        )
    return None


def _access_reason(path: str) -> str:
    try:
        os.close(os.open(path, os.O_RDWR if os.path.isfile(path) else os.O_RDONLY))
    except OSError as error:
        return str(error.strerror)
    return "it is read-only"


async def open_store(
    db: str,
    *,
    clock: Callable[[], float] = time.time,
    synchronous: str = "normal",
    pool_size: int = 10,
) -> Store:
    """Open the engine `db` names (a postgresql:// URL, else a SQLite file path) and
    bring its schema up to date. What keeps it from opening raises StartupFailure (one
    line, no password); a database that opens but cannot be written now (a full disk, a
    read-only PostgreSQL) is opened, and the store starts in that condition."""
    check_db_value(db)
    store: Store
    if is_postgres_url(db):
        from ..store.postgres import PostgresStore

        store = await PostgresStore.open(db, clock=clock, pool_size=pool_size)
    else:
        import sqlite3

        from ..store.sqlite import SqliteStore

        if (problem := _sqlite_problem(db)) is not None:
            raise StartupFailure(problem)
        try:
            store = await SqliteStore.open(db, clock=clock, synchronous=synchronous)
        except (sqlite3.Error, OSError) as error:
            raise StartupFailure(f"cannot open the database {db}: {error}") from None
    with contextlib.suppress(CannotSave):  # the condition is marked and logged
        await store.write(probe_write)
    return store
