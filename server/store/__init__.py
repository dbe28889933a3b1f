"""The storage layer: the only code that holds SQL or knows which engine is in use.

`Store` offers intent-named async operations, each one transaction; the operations
themselves live once, by subject (`accounts`, `orders`, `threads`, `fields`, all
over `tx.Tx`), and an engine supplies how a transaction runs:
`_write` (a write transaction, committed before it returns) and `_read` (a
consistent read). `owner_id` scopes an order operation to its customer in SQL
(`AND user_id = ?`); merchant operations pass `ANY_OWNER`.
"""

import abc
import asyncio
import contextlib
import math
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from .. import model, texts
from ..errors import TooManyAttempts
from ..model import Acceptance, NewAttachment, NewMessage, NewOrder, OrderChanges, Page, Status
from . import accounts, attachments, events, fields, orders, outbox, threads, tx
from .types import ANY_OWNER, LoginLimits, OrderFilter, Quote, Row, Sender

__all__ = [
    "ANY_OWNER",
    "LoginLimits",
    "OrderFilter",
    "Quote",
    "Row",
    "Sender",
    "Store",
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


class Store(abc.ABC):
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._login_turns = KeyedLocks()
        self._revocation_listeners: list[Callable[[list[bytes]], None]] = []

    def _now(self) -> int:
        return math.floor(self._clock())

    @abc.abstractmethod
    async def _write(self, fn: Callable[..., Any], *args: Any) -> Any:
        """fn(tx, *args) in a write transaction, committed when this returns and rolled
        back if fn raises."""

    @abc.abstractmethod
    async def _read(self, fn: Callable[..., Any], *args: Any) -> Any:
        """fn(tx, *args) in a read transaction: its queries see one snapshot."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    # ---------------------------------------------------------------- users and sessions

    def on_sessions_revoked(self, listener: Callable[[list[bytes]], None]) -> None:
        """Call `listener` with the token hashes of sessions this process revokes, once
        the revocation has committed (open event streams end at once)."""
        self._revocation_listeners.append(listener)

    def _sessions_revoked(self, token_hashes: list[bytes]) -> None:
        """Called after a commit that revoked these sessions. An engine that caches
        sessions also forgets them (and calls this)."""
        for listener in self._revocation_listeners:
            listener(token_hashes)

    async def create_user(
        self,
        user_name: str,
        email: str | None,
        phone: str | None,
        password_hash: str,
        address: str,
        per_hour: int,
    ) -> Row:
        """Insert a customer; raises AlreadyTaken naming the field that clashes with any
        account's name, email or phone, or TooManyAttempts past `per_hour` successful
        registrations from `address` in the last hour (0: no limit)."""
        return await self._write(
            accounts.create_user,
            user_name,
            email,
            phone,
            password_hash,
            address,
            per_hour,
            self._now(),
        )

    async def registrations_used_up(self, address: str, per_hour: int) -> bool:
        """A cheap look before a registration hashes its password; create_user counts
        again in its transaction, which is what holds."""
        return await self._read(accounts.registrations_used_up, address, per_hour, self._now())

    async def get_login_user(self, login: str) -> Row | None:
        """The user whose name, email or phone is `login` (compared as model.login_key
        folds them), with its `password_hash`."""
        return await self._read(accounts.get_login_user, login)

    async def get_password_hash(self, user_id: int) -> str:
        return await self._read(accounts.password_hash, user_id)

    async def save_admin(
        self, user_name: str, password_hash: str, email: str | None = None
    ) -> tuple[Row, bool]:
        """Create an admin, or promote an existing user, set its password (and email if
        given) and revoke every session it has; True when a user was promoted."""
        user, promoted, revoked = await self._write(
            accounts.save_admin, user_name, email, password_hash, self._now()
        )
        self._sessions_revoked(revoked)
        return user, promoted

    async def change_password(self, user_id: int, password_hash: str, keep: bytes) -> None:
        """Set the password; every session of the user but `keep` is revoked."""
        self._sessions_revoked(
            await self._write(accounts.change_password, user_id, password_hash, keep)
        )

    async def create_session(
        self, token_hash: bytes, user_id: int, expires_at: int, ttl: int, language: str
    ) -> None:
        """Store a new session, drop the user's expired ones and the oldest beyond
        model.SESSIONS_PER_USER; `language` ('en' or 'zh') is the user's mail language."""
        self._sessions_revoked(
            await self._write(
                accounts.create_session,
                token_hash,
                user_id,
                expires_at,
                ttl,
                language,
                self._now(),
            )
        )

    async def get_session_user(self, token_hash: bytes, now: int) -> tuple[Row, int, int] | None:
        """The user of an unexpired session, the session's expiry and its TTL (0: the
        server's default)."""
        found = await self._read(accounts.session_user, token_hash)
        return found if found is not None and found[1] > now else None

    async def renew_session(self, token_hash: bytes, expires_at: int) -> None:
        await self._write(accounts.renew_session, token_hash, expires_at)

    async def delete_session(self, token_hash: bytes) -> None:
        await self._write(accounts.delete_session, token_hash)
        self._sessions_revoked([token_hash])

    async def delete_user_sessions(self, token_hash: bytes) -> None:
        """Every session of the user whose unexpired session `token_hash` is."""
        self._sessions_revoked(
            await self._write(accounts.delete_user_sessions, token_hash, self._now())
        )

    @contextlib.asynccontextmanager
    async def _login_turn(self, address: str) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
        """The turn of one attempt from `address`: attempts from one address (so of each
        of its pairs) wait for each other. Yields how to run a store operation during the
        turn. One process per SQLite file, so a lock in this process is enough here;
        PostgreSQL adds its own."""
        async with self._login_turns.hold(address):
            yield self._write

    async def decide_login(
        self,
        account: str,
        address: str,
        limits: LoginLimits,
        check_password: Callable[[], Awaitable[bool]],
    ) -> bool:
        """One login attempt of `account` (e.g. 'user:7', or 'name:<folded name>' for an
        unknown one) from `address` (spec 2): refused with TooManyAttempts when the pair or
        the address has too many recent failures (a refusal is not counted); otherwise
        the result of `check_password`: a failure counts against the pair and the
        address, a success clears the pair's count only. Attempts from one address are
        decided one at a time, so one being checked is never taken for a failure, and
        simultaneous guesses at many names cannot all slip under the address limit."""
        pair, per_address = f"pair:{account}|{address}", f"addr:{address}"
        async with self._login_turn(per_address) as run:
            if await run(accounts.login_refused, pair, per_address, limits, self._now()):
                raise TooManyAttempts()
            if await check_password():
                await run(accounts.clear_login_failures, pair)
                return True
            await run(
                accounts.record_login_failure, [pair, per_address], limits.window, self._now()
            )
            return False

    # ---------------------------------------------------------------- orders

    async def create_order(self, user_id: int, order: NewOrder) -> Row:
        return await self._write(orders.create_order, user_id, order, self._now())

    async def list_orders(self, where: OrderFilter, page: Page) -> tuple[list[Row], int]:
        """Newest first, with the count of all matches."""
        return await self._read(orders.list_orders, where, page)

    async def get_order_detail(self, order_id: int, owner_id: int | None) -> Row:
        """The order with `order_fields`, `user`, the last messages and `messages_total`."""
        return await self._read(orders.order_detail, order_id, owner_id)

    async def update_order(
        self, order_id: int, owner_id: int, changes: OrderChanges, expected_version: int | None
    ) -> Row:
        """The seed's update (spec 4.4), one transaction: merge `order_extra` with
        RFC 7396 merge, send a quoted order back to 1 when its requirements change, bump
        the version and append a system message naming what changed. Changes nothing
        (and bumps nothing) when every sent value equals the stored one."""
        return await self._write(
            orders.update_order, order_id, owner_id, changes, expected_version, self._now()
        )

    async def accept_quote(self, accepted: Acceptance, owner_id: int) -> Row:
        """2 → 3 and a purchase order for the quoted price, unless the order's version or
        price is no longer the one the customer sent (spec 4.5)."""
        return await self._write(orders.accept_quote, accepted, owner_id, self._now())

    async def reject_quote(self, order_id: int, owner_id: int, reason: str) -> Row:
        return await self._write(
            orders.move_status,
            order_id,
            owner_id,
            (Status.QUOTED,),
            texts.ONLY_QUOTED_REJECT,
            Status.REJECTED,
            orders.with_note("quote rejected", "reason", reason),
            self._now(),
        )

    async def cancel_order(self, order_id: int, owner_id: int, reason: str) -> Row:
        return await self._write(
            orders.move_status,
            order_id,
            owner_id,
            model.CANCELLABLE_STATUSES,
            texts.CANNOT_CANCEL,
            Status.CANCELLED,
            orders.with_note("order cancelled", "reason", reason),
            self._now(),
        )

    async def quote_order(self, order_id: int, admin: Sender, quote: Quote) -> Row:
        return await self._write(orders.quote_order, order_id, admin, quote, self._now())

    async def set_order_status(self, order_id: int, admin: Sender, status: int) -> Row:
        return await self._write(
            orders.set_order_status, order_id, admin, Status(status), self._now()
        )

    async def set_order_images(
        self, order_id: int, sketch: list[str] | None, finished: list[str] | None
    ) -> Row:
        return await self._write(orders.set_order_images, order_id, sketch, finished, self._now())

    # ---------------------------------------------------------------- messages

    async def list_messages(
        self, order_id: int, owner_id: int | None, page: Page
    ) -> tuple[list[Row], int]:
        """Oldest first (ties by id)."""
        return await self._read(threads.list_messages, order_id, owner_id, page)

    async def add_message(self, message: NewMessage, owner_id: int | None, sender: Sender) -> Row:
        """Append to a thread that is not cancelled; an admin's message moves a
        pending order to 1."""
        return await self._write(threads.add_message, message, owner_id, sender, self._now())

    # ---------------------------------------------------------------- events (spec 8)

    @abc.abstractmethod
    async def watch_events(self, wake: Callable[[], None]) -> None:
        """Make sure `wake` is called soon after any commit that wrote events, including
        (on PostgreSQL) those of other app servers; called again now and then, so a lost
        listening connection is opened again."""

    @abc.abstractmethod
    async def watch_outbox(self, wake: Callable[[], None]) -> None:
        """Make sure `wake` is called soon after a commit that gave the delivery worker
        something to do (spec 9), on any app server; called again now and then, as
        watch_events."""

    async def find_order(self, order_id: int, owner_id: int | None) -> None:
        """Raises OrderNotFound unless the order exists within `owner_id`'s scope."""
        await self._read(tx.fetch_order, order_id, owner_id)

    async def events_after(
        self, after: int, upto: int | None, user_id: int, comm_order_id: int, limit: int
    ) -> list[Row]:
        """Kept events with after < id <= upto (no upper bound when None), oldest first:
        of `user_id`'s orders (0: all) and of `comm_order_id` (0: any)."""
        return await self._read(events.events_after, after, upto, user_id, comm_order_id, limit)

    async def last_event_id(self) -> int:
        return await self._read(events.last_event_id)

    async def prune_events(self) -> None:
        """Drop events older than model.EVENT_KEEP_SECONDS, and finished deliveries (the
        deliveries list's history) older than model.DELIVERY_KEEP_SECONDS."""
        await self._write(events.prune_events, self._now() - model.EVENT_KEEP_SECONDS)
        await self._write(outbox.prune_deliveries, self._now() - model.DELIVERY_KEEP_SECONDS)

    # ---------------------------------------------------------------- webhooks and mail (spec 9)

    async def list_webhooks(self) -> list[Row]:
        return await self._read(outbox.list_webhooks)

    async def create_webhook(
        self, url: str, kinds: list[str], description: str, secret: str
    ) -> Row:
        return await self._write(
            outbox.create_webhook, url, kinds, description, secret, self._now()
        )

    async def update_webhook(
        self,
        webhook_id: int,
        url: str | None,
        kinds: list[str] | None,
        description: str | None,
        enabled: bool | None,
    ) -> Row:
        """Changes the fields sent (None: kept); Invalid when there is no such webhook."""
        return await self._write(
            outbox.update_webhook, webhook_id, url, kinds, description, enabled
        )

    async def delete_webhook(self, webhook_id: int) -> None:
        """The webhook and its deliveries."""
        await self._write(outbox.delete_webhook, webhook_id)

    async def rotate_webhook_secret(self, webhook_id: int, secret: str) -> Row:
        return await self._write(outbox.rotate_secret, webhook_id, secret)

    async def list_deliveries(self, webhook_id: int, page: Page) -> tuple[list[Row], int]:
        return await self._read(outbox.list_deliveries, webhook_id, page)

    async def redeliver(self, delivery_id: int) -> Row:
        return await self._write(outbox.redeliver, delivery_id, self._now_ms())

    async def claim_deliveries(self, lease_ms: int, limit: int) -> list[Row]:
        """Due deliveries leased to this server for one attempt each (spec 9)."""
        return await self._write(outbox.claim_due, self._now_ms(), lease_ms, limit)

    async def finish_delivery(
        self,
        delivery_id: int,
        delivered: bool,
        http_status: int | None,
        error: str,
        next_attempt_ms: int | None,
    ) -> None:
        await self._write(
            outbox.finish_attempt, delivery_id, delivered, http_status, error, next_attempt_ms
        )

    async def release_deliveries(self, delivery_ids: list[int]) -> None:
        """Gives back the leases of attempts this server abandoned."""
        await self._write(outbox.release, delivery_ids)

    async def next_delivery_due_ms(self) -> int | None:
        """When the earliest pending delivery is due, in milliseconds; None if none is."""
        return await self._read(outbox.next_due_ms)

    async def set_notify_email(self, user_id: int, enabled: bool) -> None:
        await self._write(outbox.set_notify_email, user_id, enabled)

    def _now_ms(self) -> int:
        return math.floor(self._clock() * 1000)

    # ---------------------------------------------------------------- field definitions

    async def get_field_definitions(self) -> list[Row]:
        return await self._read(fields.field_definitions)

    async def replace_field_definitions(self, definitions: list[Row]) -> list[Row]:
        await self._write(fields.replace_field_definitions, definitions)
        return definitions

    # ---------------------------------------------------------------- attachments (spec 7)

    async def save_attachment(self, owner_id: int, new: NewAttachment, quota_bytes: int) -> Row:
        """Store an upload, unless the owner's uploads would pass `quota_bytes` (then
        Invalid, and nothing is stored). Answers AnqiCMS's attachment shape."""
        return await self._write(
            attachments.save_attachment, owner_id, new, quota_bytes, self._now()
        )

    async def delete_attachment(self, owner_id: int, attachment_id: int) -> None:
        """The owner's upload, file and thumbnail; Invalid if it is not theirs."""
        await self._write(attachments.delete_attachment, owner_id, attachment_id)

    async def stored_file(self, name: str, thumb: bool) -> Row | None:
        """The upload `name` (or its thumbnail) to serve, without its bytes; None if none."""
        return await self._read(attachments.stored_file, name, thumb)

    async def read_file_slice(self, stored: Row, offset: int, length: int) -> bytes | None:
        """Up to `length` bytes of a file found by `stored_file`, from `offset`; None once
        it has been deleted."""
        return await self._read(attachments.read_slice, stored, offset, length)

    async def ping(self) -> None:
        """Raises unless the database answers a query."""
        await self._read(tx.ping)

    # ---------------------------------------------------------------- bulk loading

    async def bulk_create_users(self, user_names: list[str], password_hash: str) -> list[int]:
        """Insert many customers sharing one password hash (benchmarks, imports)."""
        return await self._write(accounts.bulk_create_users, user_names, password_hash, self._now())

    async def bulk_create_orders(self, pairs: list[tuple[int, NewOrder]]) -> None:
        """Insert many (user_id, order) pairs in one transaction; writes no messages (and
        no events)."""
        await self._write(orders.bulk_create_orders, pairs, self._now())


def is_postgres_url(db: str) -> bool:
    return db.startswith(("postgresql://", "postgres://"))


def shown_db(db: str) -> str:
    """`db` as logs and messages may show it: a PostgreSQL URL without its password."""
    if not is_postgres_url(db):
        return db
    parts = urllib.parse.urlsplit(db)
    if parts.password is None:
        return db
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


async def open_store(
    db: str,
    *,
    clock: Callable[[], float] = time.time,
    synchronous: str = "normal",
    pool_size: int = 10,
) -> Store:
    """Open the engine `db` names (a postgresql:// URL, else a SQLite file path) and
    bring its schema up to date."""
    if is_postgres_url(db):
        from ..store.postgres import PostgresStore

        return await PostgresStore.open(db, clock=clock, pool_size=pool_size)
    from ..store.sqlite import SqliteStore

    return await SqliteStore.open(db, clock=clock, synchronous=synchronous)
