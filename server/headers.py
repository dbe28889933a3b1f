"""Headers every answer gets by its path: no-store on the API, and what keeps browsers
safe on the console, the docs and the uploads."""

from collections.abc import Mapping

from aiohttp import web, web_response

from .keys import ANSWER_HEADERS

# aiohttp names its and Python's versions in `Server` on every answer it writes, even
# the 400s of its own HTTP parser that no application code sees: this is its default.
SERVER_NAME = "orderdesk"

NOSNIFF_AND_REFERRER = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
# The console (server/web/): its own scripts and styles only, images from anywhere
# (reference images are links to other sites).
CONSOLE_CSP = (
    "default-src 'self'; img-src 'self' http: https:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
# Swagger UI: its own files; its icons are data: images and it sets inline styles.
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
# Uploaded files are shown, never run: a sandboxed document executes no script.
UPLOADS_CSP = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; sandbox"
)


# Made once: the signal runs on every answer.
API_HEADERS = {"Cache-Control": "no-store"}
CONSOLE_HEADERS = NOSNIFF_AND_REFERRER | {"Content-Security-Policy": CONSOLE_CSP}
DOCS_HEADERS = NOSNIFF_AND_REFERRER | {"Content-Security-Policy": DOCS_CSP}
UPLOADS_HEADERS = NOSNIFF_AND_REFERRER | {"Content-Security-Policy": UPLOADS_CSP}
NO_HEADERS: dict[str, str] = {}


def headers_for(path: str) -> Mapping[str, str]:
    """What an answer on `path` gets (shared by every answer: read, never changed)."""
    if path.startswith("/api/"):
        return API_HEADERS
    if path == "/" or path.startswith("/static/"):
        return CONSOLE_HEADERS
    if path.startswith("/docs"):
        return DOCS_HEADERS
    if path.startswith("/uploads/"):
        return UPLOADS_HEADERS
    return NO_HEADERS


def streamed(request: web.Request, headers: Mapping[str, str]) -> dict[str, str]:
    """The headers of an answer its handler sends itself (prepares before returning):
    `headers` and what the middleware gives every answer (its request id, CORS, its
    path's headers). Every other answer, errors included, gets those from the
    middleware after its handler (middlewares.py), which costs less per request than a
    response-prepare signal."""
    given: dict[str, str] = request[ANSWER_HEADERS]
    return {**headers, **given}


def install() -> None:
    web_response.SERVER_SOFTWARE = SERVER_NAME  # type: ignore[attr-defined]
