"""Typed application keys, and the names of per-request values."""

from aiohttp import web

from server.access import Access
from server.config import Config
from server.store import Store

CONFIG = web.AppKey("config", Config)
STORE = web.AppKey("store", Store)
ROUTE_ACCESS = web.AppKey("route_access", dict[web.AbstractRoute, Access])

# Per request (aiohttp 3.x has no typed request keys).
USER = "user"  # the session's user, or None on public routes
ACCESS = "access"  # the route's Access level
REQUEST_ID = "request_id"
