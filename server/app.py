"""The application factory: keys, the database's lifetime, middlewares and routes."""

from collections.abc import AsyncIterator

from aiohttp import web

from . import headers
from .backups import Backups
from .config import Config
from .keys import BACKUPS, BROADCASTER, CONFIG, MEDIA_POOL, METRICS, OUTBOX, STORE
from .live import Broadcaster
from .logs import ACCESS_LOG_OPTIONS
from .media_pool import MediaPool
from .metrics import Metrics
from .middlewares import orderdesk_middleware
from .model import MAX_BODY_BYTES
from .notify import Outbox
from .proxies import trusted_proxy_middleware
from .routes import setup_routes
from .store import is_postgres_url, open_store

# A request line (method, path and query) of up to 64 KiB: an ID or page number of any
# length in a query answers the envelope naming it (docs/API.md), where aiohttp's
# 8 KiB default answered a plain-text 400. A header line keeps aiohttp's 8 KiB.
MAX_REQUEST_LINE = 64 * 1024

# How the HTTP server runs this app: the access log (logs.py) and the request line.
SERVER_OPTIONS = {**ACCESS_LOG_OPTIONS, "max_line_size": MAX_REQUEST_LINE}


async def store_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    app[STORE] = await open_store(
        config.db, clock=config.clock, synchronous=config.synchronous, pool_size=config.db_pool
    )
    yield
    await app[STORE].close()


async def media_pool_ctx(app: web.Application) -> AsyncIterator[None]:
    """Uploads are decoded in worker processes, each image under its own CPU and memory
    limits (media_pool.py); they start with the first upload and end with the app."""
    app[MEDIA_POOL] = MediaPool()
    yield
    await app[MEDIA_POOL].close()


async def live_ctx(app: web.Application) -> AsyncIterator[None]:
    """The live events' broadcaster, stopped before the store closes."""
    app[BROADCASTER] = Broadcaster(app[STORE], app[CONFIG].clock)
    await app[BROADCASTER].start()
    yield
    await app[BROADCASTER].stop()


async def outbox_ctx(app: web.Application) -> AsyncIterator[None]:
    """The worker sending webhook and mail deliveries, stopped before the store
    closes."""
    app[OUTBOX] = Outbox(app[STORE], app[CONFIG], app[METRICS].delivery_failed)
    await app[OUTBOX].start()
    yield
    await app[OUTBOX].stop()


async def backups_ctx(app: web.Application) -> AsyncIterator[None]:
    """Scheduled backups of the SQLite file (--backup-dir), stopped before the store
    closes."""
    app[BACKUPS] = Backups(app[CONFIG], app[METRICS])
    await app[BACKUPS].start()
    yield
    await app[BACKUPS].stop()


async def end_streams(app: web.Application) -> None:
    """on_shutdown: open event streams end at once instead of holding the stop."""
    app[BROADCASTER].close_streams()


def create_app(config: Config) -> web.Application:
    # Outermost: everything inside sees the client's address and scheme.
    proxy = [trusted_proxy_middleware(config.trusted_proxies)] if config.trusted_proxies else []
    metrics = Metrics()
    app = web.Application(
        client_max_size=MAX_BODY_BYTES,
        middlewares=[*proxy, orderdesk_middleware(config, metrics)],
    )
    app[CONFIG] = config
    app[METRICS] = metrics
    headers.install()
    app.cleanup_ctx.append(store_ctx)
    app.cleanup_ctx.append(media_pool_ctx)
    app.cleanup_ctx.append(live_ctx)
    app.cleanup_ctx.append(outbox_ctx)
    if config.backup_dir and not is_postgres_url(config.db):  # PostgreSQL: refused at start
        app.cleanup_ctx.append(backups_ctx)
    app.on_shutdown.append(end_streams)
    setup_routes(app)
    return app
