"""Operations outside the envelope: the OpenAPI document, the docs page, health."""

import functools
import logging
from pathlib import Path

import orjson
import swagger_ui_bundle
from aiohttp import web

from .. import metrics as metrics_module
from .. import openapi, vocabulary
from ..handlers import store_of
from ..keys import BROADCASTER, CONFIG, METRICS
from ..store import sqlite_file_bytes, stats, tx

log = logging.getLogger("orderdesk")

WEB = Path(__file__).resolve().parents[1] / "web"

DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>orderdesk API</title>
  <link rel="stylesheet" href="/docs/static/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/static/swagger-ui-bundle.js"></script>
  <script src="/docs/static/swagger-ui-standalone-preset.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
"""
# A file, not an inline <script>: the docs' Content-Security-Policy allows no inline script.
DOCS_SCRIPT = """window.ui = SwaggerUIBundle({
  url: "/docs/openapi.json",
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout",
  persistAuthorization: true
});
"""
# Only the files the page above loads; not the package's demo page or OAuth2 redirect.
SWAGGER_UI = Path(swagger_ui_bundle.swagger_ui_path)
DOCS_ASSETS = {
    name: SWAGGER_UI / name
    for name in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js")
}


@functools.cache
def _document_bytes(version: str) -> bytes:
    return orjson.dumps(openapi.document(version))


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=_document_bytes("3.1.0"), content_type="application/json")


async def docs_openapi_json(request: web.Request) -> web.Response:
    """The same description labelled 3.0.3, for the bundled Swagger UI 4 (reads 3.0 only)."""
    return web.Response(body=_document_bytes("3.0.3"), content_type="application/json")


async def docs_page(request: web.Request) -> web.Response:
    return web.Response(text=DOCS_PAGE, content_type="text/html")


async def docs_script(request: web.Request) -> web.Response:
    return web.Response(text=DOCS_SCRIPT, content_type="text/javascript")


async def docs_asset(request: web.Request) -> web.FileResponse:
    path = DOCS_ASSETS.get(request.match_info["name"])
    if path is None:
        raise web.HTTPNotFound()
    return web.FileResponse(path)


async def vocabulary_module(request: web.Request) -> web.Response:
    """The console's vocabulary (vocabulary.py), as a JavaScript module."""
    return web.Response(body=vocabulary.module(), content_type="text/javascript")


async def console(request: web.Request) -> web.FileResponse:
    """The web console: static files over the public API (server/web/)."""
    return web.FileResponse(WEB / "index.html")


async def healthz(request: web.Request) -> web.Response:
    """200 `ok` when the database answers and takes writes; 503 `degraded` while it
    cannot be written (reads still served), 503 `unavailable` when it does not answer
    (for load balancers and monitors)."""
    store = store_of(request)
    try:
        await store.read(tx.ping)
        writable = await store.writable()
    except Exception:
        log.exception("health check: the database did not answer")
        return web.json_response({"status": "unavailable"}, status=503)
    if not writable:
        return web.json_response({"status": "degraded"}, status=503)
    return web.json_response({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    """The Prometheus text format, to loopback peers or the bearer of --metrics-token;
    anyone else gets the 404 of a path that does not exist."""
    config = request.app[CONFIG]
    if not metrics_module.may_read(request, config.metrics_token):
        raise web.HTTPNotFound()
    found = request.app[METRICS]
    pending, db_size = await store_of(request).read(stats.gauges)
    found.outbox_pending.set(pending)
    found.db_size.set(sqlite_file_bytes(config.db) if db_size is None else db_size)
    found.event_streams.set(request.app[BROADCASTER].stream_count())
    return web.Response(
        body=found.exposition(), headers={"Content-Type": metrics_module.CONTENT_TYPE}
    )
