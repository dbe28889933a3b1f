"""Live events: one reader of the events table per process, fanned out in memory.

The events table is the truth. The broadcaster is woken soon after a commit that wrote
events (SQLite: by the store, in this process; PostgreSQL: by NOTIFY, from any app
server) and also looks every POLL_SECONDS, so a lost notification only delays an event.
Each wake reads the rows after the last one it read, once for the whole process, and
offers each, encoded once, to every open stream that may see it.

A stream starts at the broadcaster's position when it subscribes: what comes later
arrives live; what came before (after its Last-Event-ID) it reads from the table up to
that position. The two meet exactly, so nothing is missed or sent twice.

A stream lives as long as the session (or API key) it was opened with: one revoked in
this process ends its streams at once; every CHECK_SECONDS one look up of the sessions
and keys of all open streams finds one that expired, or was revoked by another app
server or process or by any commit (a key: or whose admin was disabled or demoted), so
a stream ends within about that (PostgreSQL: another app server's revocation
also sends a NOTIFY, which starts the look at once). Holding a stream open never renews
its session. A stream's client that reads too slowly gets its stream cut instead of
having the server hold its events: past MAX_UNSENT_BYTES unsent, or STALL_SECONDS
without sending any; it reconnects with Last-Event-ID.
"""

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass

from aiohttp import web

from . import model
from .background import Backoff, Loops
from .store import Row, Store, api_keys, events

log = logging.getLogger("orderdesk.live")

POLL_SECONDS = 2.0  # a missed notification is found within this
PRUNE_SECONDS = 3600.0  # how often kept events past model.EVENT_KEEP_SECONDS are dropped
READ_BATCH = 500  # events read per query
# How often the open streams are looked at: their sessions (one query for all of them,
# so a stream ends within about this long of its session ending, however it ended) and
# their writing (the two limits below).
CHECK_SECONDS = 1.0
CHECK_GAP_SECONDS = 0.05  # at least this between two looks
# The unsent data one stream may hold: frames waiting in its queue plus what its
# connection's transport buffers. Past it, the stream is cut: its client reads too
# slowly, and reconnects with Last-Event-ID instead.
MAX_UNSENT_BYTES = 1024 * 1024
# A stream with unsent data that sends none of it for this long is cut.
STALL_SECONDS = 30.0
# The broadcaster lets the streams write after offering this much, so that a burst of
# large events passes through a stream whose client keeps up, not into its queue.
OFFER_SLICE_BYTES = MAX_UNSENT_BYTES // 4


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
    """One open stream: its queue of frames and how its writing goes.

    The stream's handler takes what is queued and writes it (`send`); the broadcaster
    offers frames, ends the stream when its session ends (`close`), and cuts it when it
    holds too much or stops sending (`cut`)."""

    def __init__(self, owner: int, audience: Audience, token_hash: bytes, expires_at: int) -> None:
        self.owner = owner  # the session's user, for the per-user cap
        self.audience = audience
        self.token_hash = token_hash  # the session it was opened with: ended, it ends
        self.expires_at = expires_at  # that session's expiry, as last read
        self.ended = False
        # The connection, once the stream's headers are out: its write buffer counts
        # toward the unsent data, and a cut aborts it.
        self.transport: asyncio.Transport | None = None
        self._frames: list[bytes] = []
        self._queued = 0  # bytes in _frames
        self._ready = asyncio.Event()
        self._writing = False  # the handler waits for the transport to take a write
        self._written = 0  # bytes handed to the transport
        self._sent_mark = 0  # the most bytes seen to have left the process
        self._progress_at = asyncio.get_running_loop().time()
        # The ping: one timer per ping interval, set again when it fires, whether or not
        # events flow meanwhile; not one per wake (a timer made on every event, ten
        # thousand streams at once, kept Python's collector busy on the whole fan-out).
        self._ping_due = False
        self._ping_timer: asyncio.TimerHandle | None = None

    def _buffered(self) -> int:
        transport = self.transport
        return 0 if transport is None else transport.get_write_buffer_size()

    def unsent(self) -> int:
        """Bytes this stream holds that its client has not been sent yet."""
        return self._queued + self._buffered()

    def offer(self, data: bytes) -> None:
        if self.ended:
            return
        if self._queued + len(data) + self._buffered() > MAX_UNSENT_BYTES:
            self.cut(f"over {MAX_UNSENT_BYTES} bytes unsent")
            return
        self._frames.append(data)
        self._queued += len(data)
        self._ready.set()

    def close(self) -> None:
        """End the stream: what is queued is dropped, the handler ends the response.
        While its client is behind (the handler waits in a write, or the transport still
        holds data) the end could wait for that client as long as it likes: the
        connection is aborted instead."""
        self._end(abort=self._writing or self._buffered() > 0)

    def cut(self, reason: str) -> None:
        """End the stream at once, dropping what it holds (the transport's buffer too).
        A slow client is no fault of the server's: an INFO line."""
        if not self.ended:
            log.info("event stream of user %s cut: %s", self.owner, reason)
            self._end(abort=True)

    def _end(self, abort: bool) -> None:
        if self.ended:
            return
        self.ended = True
        self._frames, self._queued = [], 0
        if self._ping_timer is not None:
            self._ping_timer.cancel()
        self._ready.set()
        if abort and self.transport is not None:
            self.transport.abort()

    async def take(self, timeout: float) -> bytes | None:
        """Everything queued, as one piece, and PING every `timeout` seconds from the
        first take on, whether or not events came meanwhile; None once the stream has
        ended."""
        if self._ping_timer is None and not self.ended:
            self._set_ping(timeout)
        if not self._frames and not self._ping_due and not self.ended:
            self._ready.clear()
            await self._ready.wait()
        if self.ended:
            return None
        frames, self._frames, self._queued = self._frames, [], 0
        if self._ping_due:
            self._ping_due = False
            frames.append(PING)
        return frames[0] if len(frames) == 1 else b"".join(frames)

    def _set_ping(self, timeout: float) -> None:
        def due() -> None:
            if self.ended:
                return
            self._ping_due = True
            self._ready.set()
            self._set_ping(timeout)

        self._ping_timer = asyncio.get_running_loop().call_later(timeout, due)

    async def send(self, response: web.StreamResponse, data: bytes) -> None:
        """Write `data`; it waits only while the transport is over its high-water mark."""
        self._written += len(data)
        self._writing = True
        try:
            await response.write(data)
        finally:
            self._writing = False

    def check_writing(self, now: float) -> None:
        """Cut the stream if it holds too much, or has had unsent data for
        STALL_SECONDS without sending any; end it if its client has gone."""
        transport = self.transport
        if transport is not None and transport.is_closing():
            self.close()  # the client went away: the handler need not wait to notice
            return
        buffered = self._buffered()
        if self._queued + buffered > MAX_UNSENT_BYTES:
            self.cut(f"over {MAX_UNSENT_BYTES} bytes unsent")
            return
        # Bytes that left the process (what the handler wrote, less what the transport
        # still holds); it grows whenever the client takes any.
        sent = self._written - buffered
        if sent > self._sent_mark or not (self._queued or buffered):
            self._sent_mark = max(self._sent_mark, sent)
            self._progress_at = now
        elif now - self._progress_at >= STALL_SECONDS:
            self.cut(f"nothing sent for {now - self._progress_at:.0f} s")


class Broadcaster:
    def __init__(self, store: Store, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock  # the sessions' clock (Unix seconds)
        self._streams: dict[int, list[Subscription]] = {}  # by owner, oldest first
        # By the user whose orders they see (0: every user's), so that an event is
        # offered to the streams that may see it, not tested against every stream.
        self._audiences: dict[int, set[Subscription]] = {}
        self._position = 0  # the last event id read (while a stream is open)
        self._turn = asyncio.Lock()  # reading the table vs. subscribing
        self._wake = asyncio.Event()
        self._check_now = asyncio.Event()  # sessions were revoked elsewhere
        self._closing = False
        self._loops = Loops()

    async def start(self) -> None:
        self._store.on_sessions_revoked(self.end_sessions)
        self._store.writes.on_recovery(self._wake.set)
        await self._store.watch_events(self._wake.set)
        await self._store.watch_sessions(self._check_now.set)
        self._loops.start(self._run(), self._wake)
        self._loops.start(self._check_streams(), self._check_now)

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
        for stream in self._open_streams():
            stream.close()

    async def stop(self) -> None:
        self.close_streams()
        await self._loops.stop()

    def _open_streams(self) -> list[Subscription]:
        return [stream for streams in self._streams.values() for stream in streams]

    def stream_count(self) -> int:
        return sum(len(streams) for streams in self._streams.values())

    def unsent_bytes(self) -> list[int]:
        """What each open stream holds unsent (for tests and measurements)."""
        return [stream.unsent() for stream in self._open_streams()]

    @contextlib.asynccontextmanager
    async def subscribe(
        self, owner: int, audience: Audience, token_hash: bytes, expires_at: int
    ) -> AsyncIterator[tuple[Subscription, int]]:
        """A subscription for the session `token_hash` (expiring at `expires_at`) and the
        last event id before its first live one: the table's end as of now, so a change
        committed before the stream opened is not sent live. Opening the owner's
        (STREAMS_PER_USER + 1)th stream ends the owner's oldest."""
        stream = Subscription(owner, audience, token_hash, expires_at)
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
            # Ended here too: a handler that left on a broken connection leaves its
            # stream open, and its ping timer would set itself again for ever.
            stream.close()
            streams = self._streams.get(owner, [])
            if stream in streams:
                streams.remove(stream)
            if not streams:
                self._streams.pop(owner, None)
            audience_streams = self._audiences[audience.user_id]
            audience_streams.discard(stream)
            if not audience_streams:
                del self._audiences[audience.user_id]

    async def replay(
        self, audience: Audience, after: int, upto: int
    ) -> AsyncGenerator[bytes, None]:
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
        backoff = Backoff(log, "reading new events")
        wait = POLL_SECONDS
        while not self._loops.stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self._store.watch_events(self._wake.set)
                await self._read_new_events()
                if loop.time() - pruned_at >= PRUNE_SECONDS:
                    await self._store.write(events.prune)
                    pruned_at = loop.time()
            except Exception as error:
                # The database is away for now: a later round tries again.
                wait = backoff.failed(error, POLL_SECONDS)
            else:
                backoff.succeeded()
                wait = POLL_SECONDS

    async def _check_streams(self) -> None:
        """Every CHECK_SECONDS, and soon when told of sessions revoked elsewhere: the
        open streams' writing, then their sessions."""
        loop = asyncio.get_running_loop()
        backoff = Backoff(log, "checking the event streams' sessions")
        wait = CHECK_SECONDS
        while not self._loops.stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._check_now.wait()
            self._check_now.clear()
            try:
                for stream in self._open_streams():
                    stream.check_writing(loop.time())
                await self._store.watch_sessions(self._check_now.set)
                await self._check_sessions()
            except Exception as error:
                # The database is away for now (expiry was still checked): a later round.
                wait = backoff.failed(error, CHECK_SECONDS)
            else:
                backoff.succeeded()
                wait = CHECK_SECONDS
            # A burst of revocations elsewhere is looked at together, not one by one.
            await asyncio.sleep(CHECK_GAP_SECONDS)

    async def _check_sessions(self) -> None:
        """End the streams whose session has expired (known in memory) or is gone from
        the table, however it went: revoked by this process (those ended already), by
        another app server or process, or by any commit. One query for all of them;
        a session renewed meanwhile (by the requests of its token) moves its expiry."""
        streams = [stream for stream in self._open_streams() if not stream.ended]
        now = math.floor(self._clock())
        for stream in streams:
            if stream.expires_at <= now:
                stream.close()
        alive = [stream for stream in streams if not stream.ended]
        if not alive:
            return
        expiries = await self._store.read(
            api_keys.credential_expiries, list({s.token_hash for s in alive})
        )
        now = math.floor(self._clock())
        for stream in alive:
            expires_at = expiries.get(stream.token_hash, 0)
            if expires_at <= now:
                stream.close()
            else:  # a session's expiry only ever moves on (a read may be older)
                stream.expires_at = max(stream.expires_at, expires_at)

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
        offered = 0  # bytes since the streams last had a turn to write
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
                offered += len(data)
                if offered >= OFFER_SLICE_BYTES:
                    offered = 0
                    await asyncio.sleep(0)  # each stream's handler writes what it has
            if len(found) < READ_BATCH:
                return
