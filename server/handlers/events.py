"""GET /api/events (spec 8): the caller's live events as text/event-stream.

Written on aiohttp's StreamResponse directly: the format is three lines per event,
and the stream's life (the per-user cap, the end at server stop, pings) belongs to
live.Broadcaster, which a helper library's own ping task and close handling would only
duplicate. The envelope middleware passes a StreamResponse through untouched; errors
raised before the stream starts (1001, "order not found") still answer as envelopes.
"""

import math

from aiohttp import web

from .. import security, sessions
from ..keys import BROADCASTER, CONFIG, USER
from ..live import PING, Audience
from ..store import ANY_OWNER, tx
from ..validate import orders as forms
from . import store_of

STREAM_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "X-Accel-Buffering": "no",  # nginx: pass each event on at once
}
RETRY = b"retry: 2000\n\n"  # how long a browser waits before it reconnects (ms)


def _last_event_id(request: web.Request) -> int | None:
    """The Last-Event-ID a reconnecting client sends; anything but a plain id is ignored
    (the stream then starts live)."""
    text = request.headers.get("Last-Event-ID", "")
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


async def _session_alive(request: web.Request, token_hash: bytes) -> bool:
    """Whether the stream's session is still valid: revoked elsewhere (another app
    server, the create-admin command) or expired, the stream ends at its next ping."""
    now = math.floor(request.app[CONFIG].clock())
    return await store_of(request).session_user(token_hash, now) is not None


async def stream(request: web.Request) -> web.StreamResponse:
    user = request[USER]
    token_hash = security.token_hash(sessions.request_token(request) or "")
    sees_all = user["role"] == "admin"
    order_id = forms.EVENTS_QUERY.parse(request.query) or 0
    if order_id:
        await store_of(request).read(
            tx.fetch_order, order_id, ANY_OWNER if sees_all else user["id"]
        )
    audience = Audience(0 if sees_all else user["id"], order_id)
    after = _last_event_id(request)
    ping_seconds = request.app[CONFIG].ping_seconds

    response = web.StreamResponse(headers=STREAM_HEADERS)
    broadcaster = request.app[BROADCASTER]
    async with broadcaster.subscribe(user["id"], audience, token_hash) as (live, position):
        try:
            await response.prepare(request)
            await response.write(RETRY)  # also sends the headers now: the client is open
            if after is not None:
                async for frame in broadcaster.replay(audience, after, position):
                    await response.write(frame)
            while (frame := await live.next(ping_seconds)) is not None:
                if frame is PING and not await _session_alive(request, token_hash):
                    break
                await response.write(frame)
        except ConnectionResetError:
            pass  # the client went away
    return response
