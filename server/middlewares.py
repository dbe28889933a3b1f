"""The one application middleware (inside the trusted-proxy one, when configured).

Per request, in this order: the request's count and duration in the metrics
(metrics.py; taken when it is answered); a request id (every answer carries it in
X-Request-Id; the access log, written by aiohttp after the answer is sent, names it:
see logs.py); CORS for the configured origins, answering preflights before routing
turns OPTIONS into "method not allowed"; the headers every answer on its path gets
(headers.py); under /api/ the envelope, which turns every error (including the
session check's 1001/1002) into {code, msg}; the session and the
route's role; last before input (the order of the checks), no NUL in the query string.

One middleware instead of four: each layer of aiohttp middleware costs a coroutine
and a handler wrapper per request, and these steps always run together.
"""

import asyncio
import logging
import random
from time import perf_counter

from aiohttp import HttpVersion11, web
from aiohttp.typedefs import Handler, Middleware

from . import sessions, texts
from .access import ROLES_ADMITTED, Access
from .config import Config
from .envelope import as_response, envelope, request_language
from .errors import ApiError, ClientDisconnected, Forbidden, NotLoggedIn
from .headers import headers_for
from .keys import (
    ACCESS,
    ANSWER_HEADERS,
    CONFIG,
    REQUEST_ID,
    RESULT_CODE,
    ROUTE_ACCESS,
    SESSION,
    STORE,
    USER,
)
from .metrics import Metrics, route_label
from .validate.values import reject_nul

log = logging.getLogger("orderdesk")

REQUEST_ID_HEADER = "X-Request-Id"
# Request ids only need to be unique in the logs, not unguessable: no syscall per request.
_request_ids = random.Random()

_HTTP_TEXTS = {
    404: texts.NOT_FOUND,
    405: texts.METHOD_NOT_ALLOWED,
    413: texts.BODY_TOO_LARGE,
}

# The metrics' code of a request whose client went away before its answer (its handler
# cancelled): nginx's "client closed request".
CLIENT_GONE = 499

PREFLIGHT_HEADERS = {
    "Access-Control-Allow-Methods": "GET, POST",
    "Access-Control-Allow-Headers": "Content-Type, Token, Authorization, Accept-Language",
    "Access-Control-Max-Age": "600",
}


def _cors_headers(origin: str) -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Vary": "Origin",
    }


def orderdesk_middleware(config: Config, metrics: Metrics) -> Middleware:
    cors_origins = frozenset(config.cors_origins)
    observe = metrics.observe  # one count and one duration per request

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = perf_counter()
        request_id = f"{_request_ids.getrandbits(64):016x}"
        request[REQUEST_ID] = request_id
        path = request.path
        # What every answer gets, last: over a handler's own. The answers a handler
        # sends itself take them before they are sent (headers.streamed).
        answer_headers = {REQUEST_ID_HEADER: request_id}
        status = 500  # unless an answer or an HTTP error says otherwise
        try:
            if cors_origins:
                origin = request.headers.get("Origin")
                if origin in cors_origins:
                    allow = _cors_headers(origin)
                    if (
                        request.method == "OPTIONS"
                        and "Access-Control-Request-Method" in request.headers
                    ):
                        preflight = allow | PREFLIGHT_HEADERS | answer_headers
                        preflight.update(headers_for(path))
                        status = 204
                        return web.Response(status=204, headers=preflight)
                    answer_headers.update(allow)
                    answer_headers["Access-Control-Expose-Headers"] = REQUEST_ID_HEADER
            answer_headers.update(headers_for(path))
            request[ANSWER_HEADERS] = answer_headers
            try:
                if path.startswith("/api/"):
                    response = await _enveloped(request, handler)
                else:
                    response = await _authorized(request, handler)
            except web.HTTPException as exc:
                status = exc.status
                exc.headers.update(answer_headers)
                raise
            except asyncio.CancelledError:
                status = CLIENT_GONE
                request.pop(RESULT_CODE, None)  # no answer: the code says so
                raise
            status = response.status
            response.headers.update(answer_headers)
            return response
        finally:
            # The metrics: the envelope's code under /api/, else the HTTP status.
            code = request.get(RESULT_CODE, status)
            observe(route_label(request), code, perf_counter() - started)

    return middleware


async def _enveloped(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every answer under /api/ is HTTP 200 with {code, msg, data?}, errors included."""
    try:
        response = as_response(request, await _authorized(request, handler))
        request[RESULT_CODE] = 0
        return response
    except ApiError as error:
        request[RESULT_CODE] = error.code
        msg = error.render(request_language(request))
        if error.data is None:
            return envelope(error.code, msg)
        return envelope(error.code, msg, error.data)
    except web.HTTPException as exc:
        request[RESULT_CODE] = -1
        text = _HTTP_TEXTS.get(exc.status, texts.BAD_REQUEST)
        return envelope(-1, text.render(request_language(request), {}))
    except ClientDisconnected:
        request[RESULT_CODE] = -1
        log.info(
            "request %s %s %s: the client disconnected before sending the whole body",
            request[REQUEST_ID], request.method, request.path,
        )  # fmt: skip
        return envelope(-1, texts.BAD_REQUEST.render("en", {}))  # nobody is left to read it
    except asyncio.CancelledError:
        raise
    except Exception:
        request[RESULT_CODE] = -1
        log.exception("request %s %s %s failed", request[REQUEST_ID], request.method, request.path)
        return envelope(-1, texts.INTERNAL_ERROR.render(request_language(request), {}))


async def _authorized(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Resolve the session (or API key) once for routes that need one, and check the
    role and that a cookie-authenticated POST does not come from another site's page. A
    route missing from the access table is refused: access is granted, never assumed.
    Then, as the last check before input (the order of the checks), no query key or
    value may hold a NUL character, whether or not the handler reads it."""
    match_info = request.match_info
    if match_info.http_exception is not None:
        return await handler(request)  # no such route or method: "not found" etc.
    app = match_info.current_app
    access = app[ROUTE_ACCESS].get(match_info.route)
    if access is None:
        raise Forbidden() if request.path.startswith("/api/") else web.HTTPForbidden()
    request[ACCESS] = access
    if access is Access.PUBLIC:
        _reject_nul_in_query(request)
        return await handler(request)

    header = sessions.header_token(request)
    token = header if header is not None else sessions.cookie_token(request)
    if token is None:
        raise NotLoggedIn()
    found = await sessions.resolve(app[STORE], app[CONFIG], token)
    if found is None:
        raise NotLoggedIn()
    admitted = ROLES_ADMITTED.get(access)
    if admitted is not None and found.user["role"] not in admitted:
        raise Forbidden()
    # Not allowed, like a wrong role: after the session, before input. A credential in
    # a header is one no other site's page can send.
    if header is None and sessions.from_another_site(request):
        raise Forbidden()
    request[USER] = found.user
    request[SESSION] = found
    _reject_nul_in_query(request)
    result = await handler(request)
    if found.renewed and header is None:
        # A browser's cookie follows the session's new expiry.
        result = as_response(request, result)
        sessions.set_cookie(result, request, token, found.ttl)
    return result


async def expect_continue(request: web.Request) -> None:
    """aiohttp's answer to `Expect: 100-continue` (a client asking before it sends its
    body), except that a client already gone is no server fault: the request goes on,
    and reading its body reports the disconnect (one INFO line). Any other expectation
    is ignored, as HTTP allows, and the request is answered as any other: aiohttp's 417
    would bypass the middlewares (an /api/ answer that is not the envelope)."""
    expect = request.headers.get("Expect", "")
    if request.version != HttpVersion11 or expect.lower() != "100-continue":
        return
    try:
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    except ConnectionError:
        return
    request.writer.output_size = 0  # the answer itself has not started


def _reject_nul_in_query(request: web.Request) -> None:
    if request.query_string and request.path.startswith("/api/"):
        reject_nul(request.query)
