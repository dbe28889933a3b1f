"""Typed application keys, and the names of per-request values."""

from typing import TYPE_CHECKING, Any

from aiohttp import web

from .access import Access
from .backups import Backups
from .config import Config
from .live import Broadcaster
from .media_pool import MediaPool
from .metrics import Metrics
from .notify import Outbox
from .store import Store

if TYPE_CHECKING:  # sessions reads the app keys
    from .sessions import Resolved

CONFIG = web.AppKey("config", Config)
STORE = web.AppKey("store", Store)
BROADCASTER = web.AppKey("broadcaster", Broadcaster)
OUTBOX = web.AppKey("outbox", Outbox)  # webhooks and mail
ROUTE_ACCESS = web.AppKey("route_access", dict[web.AbstractRoute, Access])
METRICS = web.AppKey("metrics", Metrics)  # GET /metrics
BACKUPS = web.AppKey("backups", Backups)  # --backup-dir (SQLite only)
# Attachments: the worker processes that decode and thumbnail uploads.
MEDIA_POOL = web.AppKey("media_pool", MediaPool)

# Per request.
# The session's user (routes that need a session only).
USER: web.RequestKey[dict[str, Any]] = web.RequestKey("user")
# The caller's session (routes that need one only).
SESSION: "web.RequestKey[Resolved]" = web.RequestKey("session")
ACCESS = web.RequestKey("access", Access)  # the route's level
REQUEST_ID = web.RequestKey("request_id", str)
# What the middleware gives every answer (the request id, CORS, the path's headers), for
# the handlers that send their answers themselves (headers.streamed).
ANSWER_HEADERS = web.RequestKey("answer_headers", dict[str, str])
RESULT_CODE = web.RequestKey("result_code", int)  # the envelope's code, for the access log
# The client's address as the trusted-proxy rule found it, for the access log (set only
# behind a trusted proxy; otherwise the peer's address is the client's).
CLIENT = web.RequestKey("client", str)
