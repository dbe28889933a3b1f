"""GET /api/events: the caller's live events as text/event-stream.

Written on aiohttp's StreamResponse directly: the format is three lines per event,
and the stream's life (the per-user cap, the end with its session or at server stop,
the limits on a slow client, pings) belongs to live.Broadcaster, which a helper
library's own ping task and close handling would only duplicate. The envelope
middleware passes a StreamResponse through untouched; errors raised before the stream
starts (1001, "order not found") still answer as envelopes.
"""

import contextlib

from aiohttp import web

from .. import headers, model, security, sessions
from ..keys import BROADCASTER, CONFIG, SESSION, USER
from ..live import Audience
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


async def stream(request: web.Request) -> web.StreamResponse:
    """The stream lasts as long as its session or API key (the broadcaster watches it)
    and is never what renews it: only the request that opens it does, like any other
    request."""
    user, session = request[USER], request[SESSION]
    token = sessions.request_token(request) or ""
    sees_all = user["role"] in model.MERCHANT_ROLES
    order_id = forms.EVENTS_QUERY.parse(request.query) or 0
    if order_id:
        await store_of(request).read(
            tx.fetch_order, order_id, ANY_OWNER if sees_all else user["id"]
        )
    audience = Audience(0 if sees_all else user["id"], order_id)
    after = _last_event_id(request)
    ping_seconds = request.app[CONFIG].ping_seconds

    response = web.StreamResponse(headers=headers.streamed(request, STREAM_HEADERS))
    if session.renewed and sessions.header_token(request) is None:
        # A browser's cookie follows the renewal, as on any request; it must be set
        # before the headers go out.
        sessions.set_cookie(response, request, token, session.ttl)
    broadcaster = request.app[BROADCASTER]
    token_hash = security.token_hash(token)
    async with broadcaster.subscribe(user["id"], audience, token_hash, session.expires_at) as (
        live,
        position,
    ):
        try:
            await response.prepare(request)
            live.transport = request.transport
            await live.send(response, RETRY)  # also sends the headers now: the client is open
            if after is not None:
                replay = broadcaster.replay(audience, after, position)
                async with contextlib.aclosing(replay) as frames:
                    async for frame in frames:
                        if live.ended:
                            break
                        await live.send(response, frame)
            while (data := await live.take(ping_seconds)) is not None:
                await live.send(response, data)
        except ConnectionError:
            # The client went away, or the stream was cut (a slow client): the access
            # log's line is all there is to say.
            pass
    return response
