"""Live events (spec 8): one reader of the events table per process, fanned out in memory.

The events table is the truth. The broadcaster is woken soon after a commit that wrote
events (SQLite: by the store, in this process; PostgreSQL: by NOTIFY, from any app
server) and also looks every POLL_SECONDS, so a lost notification only delays an event.
Each wake reads the rows after the last one it read, once for the whole process, and
offers each, encoded once, to every open stream that may see it.

A stream starts at the broadcaster's position when it subscribes: what comes later
arrives live; what came before (after its Last-Event-ID) it reads from the table up to
that position. The two meet exactly, so nothing is missed or sent twice.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from . import model
from .store import Row, Store, events

log = logging.getLogger("orderdesk.live")

POLL_SECONDS = 2.0  # a missed notification is found within this
PRUNE_SECONDS = 3600.0  # how often kept events past model.EVENT_KEEP_SECONDS are dropped
READ_BATCH = 500  # events read per query
QUEUE_LIMIT = 1000  # frames waiting for one slow stream; past it the stream is closed


def frame(event: Row) -> bytes:
    """One event in text/event-stream form (its JSON data holds no newline)."""
    return f"id: {event['id']}\nevent: {event['type']}\ndata: {event['data']}\n\n".encode()


PING = b": ping\n\n"


@dataclass(frozen=True)
class Audience:
    """Whose events a stream carries: `user_id`'s orders (0: everyone's, an admin) and
    `comm_order_id` only (0: every order)."""

    user_id: int
    comm_order_id: int = 0


class Subscription:
    """One open stream's queue of frames; None in it means the stream must end."""

    def __init__(self, owner: int, audience: Audience, token_hash: bytes) -> None:
        self.owner = owner  # the session's user, for the per-user cap
        self.audience = audience
        self.token_hash = token_hash  # the session it was opened with: revoked, it ends
        self._frames: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_LIMIT)

    def offer(self, data: bytes) -> None:
        try:
            self._frames.put_nowait(data)
        except asyncio.QueueFull:
            # The client reads too slowly: it reconnects with Last-Event-ID instead.
            self.close()

    def close(self) -> None:
        while not self._frames.empty():
            self._frames.get_nowait()
        self._frames.put_nowait(None)

    async def next(self, timeout: float) -> bytes | None:
        """The next frame, PING after `timeout` seconds of nothing, None at the end."""
        try:
            async with asyncio.timeout(timeout):
                return await self._frames.get()
        except TimeoutError:
            return PING


class Broadcaster:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._streams: dict[int, list[Subscription]] = {}  # by owner, oldest first
        # By the user whose orders they see (0: every user's), so that an event is
        # offered to the streams that may see it, not tested against every stream.
        self._audiences: dict[int, set[Subscription]] = {}
        self._position = 0  # the last event id read (while a stream is open)
        self._turn = asyncio.Lock()  # reading the table vs. subscribing
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._store.on_sessions_revoked(self.end_sessions)
        await self._store.watch_events(self._wake.set)
        self._task = asyncio.get_running_loop().create_task(self._run())

    def end_sessions(self, token_hashes: list[bytes]) -> None:
        """The streams opened with these (now revoked) sessions end now."""
        revoked = set(token_hashes)
        for streams in self._streams.values():
            for stream in streams:
                if stream.token_hash in revoked:
                    stream.close()

    def close_streams(self) -> None:
        """Every open stream ends now, and any opened later ends at once (server stop)."""
        self._closing = True
        for streams in self._streams.values():
            for stream in streams:
                stream.close()

    async def stop(self) -> None:
        self.close_streams()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @contextlib.asynccontextmanager
    async def subscribe(
        self, owner: int, audience: Audience, token_hash: bytes
    ) -> AsyncIterator[tuple[Subscription, int]]:
        """A subscription and the last event id before its first live one: the table's
        end as of now, so a change committed before the stream opened is not sent live.
        Opening the owner's (STREAMS_PER_USER + 1)th stream ends the owner's oldest."""
        stream = Subscription(owner, audience, token_hash)
        async with self._turn:
            await self._catch_up()
            streams = self._streams.setdefault(owner, [])
            streams.append(stream)
            self._audiences.setdefault(audience.user_id, set()).add(stream)
            if len(streams) > model.STREAMS_PER_USER:
                streams.pop(0).close()
            position = self._position
        if self._closing:
            stream.close()
        try:
            yield stream, position
        finally:
            streams = self._streams.get(owner, [])
            if stream in streams:
                streams.remove(stream)
            if not streams:
                self._streams.pop(owner, None)
            audience_streams = self._audiences[audience.user_id]
            audience_streams.discard(stream)
            if not audience_streams:
                del self._audiences[audience.user_id]

    async def replay(self, audience: Audience, after: int, upto: int) -> AsyncIterator[bytes]:
        """The kept events `audience` sees with after < id <= upto, as frames."""
        while after < upto:
            found = await self._store.read(
                events.events_after,
                after,
                upto,
                audience.user_id,
                audience.comm_order_id,
                READ_BATCH,
            )
            for event in found:
                yield frame(event)
            if len(found) < READ_BATCH:
                return
            after = found[-1]["id"]

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        pruned_at = -PRUNE_SECONDS
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_SECONDS):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self._store.watch_events(self._wake.set)
                await self._read_new_events()
                if loop.time() - pruned_at >= PRUNE_SECONDS:
                    await self._store.write(events.prune)
                    pruned_at = loop.time()
            except Exception:
                # The database is away for now: the next round tries again.
                log.warning("reading new events failed; retrying", exc_info=True)

    async def _read_new_events(self) -> None:
        if not self._streams:
            return  # nobody listens: the next subscriber finds the table's end itself
        async with self._turn:
            await self._catch_up()

    async def _catch_up(self) -> None:
        """Offer the events after the position to the streams that see them (with the
        turn held)."""
        if not self._streams:
            # Nobody listens: only remember where the table ends.
            self._position = await self._store.read(events.last_event_id)
            return
        while True:
            found = await self._store.read(
                events.events_after, self._position, None, 0, 0, READ_BATCH
            )
            for event in found:
                data = frame(event)
                for key in {event["user_id"], 0}:
                    for stream in self._audiences.get(key, ()):
                        if stream.audience.comm_order_id in (0, event["comm_order_id"]):
                            stream.offer(data)
                self._position = event["id"]
            if len(found) < READ_BATCH:
                return
