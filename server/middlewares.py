"""Middlewares, outermost first: request id and access log → CORS (when origins are
configured) → envelope/errors → session.

The order matters: the request id must exist before anything logs; CORS must answer
preflights before routing turns OPTIONS into "method not allowed" and must mark
error answers too; the envelope middleware must wrap the session middleware so that
1001/1002 come out as envelopes.
"""

import asyncio
import logging
import random
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from . import messages as M
from . import sessions, validate
from .access import Access
from .envelope import as_response, envelope, request_language
from .errors import ApiError, ClientDisconnected, Forbidden, NotLoggedIn
from .keys import ACCESS, CONFIG, REQUEST_ID, RESULT_CODE, ROUTE_ACCESS, STORE, USER

log = logging.getLogger("orderdesk")
access_log = logging.getLogger("orderdesk.access")

REQUEST_ID_HEADER = "X-Request-Id"
# Request ids only need to be unique in the logs, not unguessable: no syscall per request.
_request_ids = random.Random()

_HTTP_TEXTS = {
    404: M.NOT_FOUND,
    405: M.METHOD_NOT_ALLOWED,
    413: M.BODY_TOO_LARGE,
}


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Tags every answer with X-Request-Id and logs one line for it: id, method, path,
    code (the envelope's under /api/, else the HTTP status), duration. Never a body,
    a query string or a token."""
    request_id = f"{_request_ids.getrandbits(64):016x}"
    request[REQUEST_ID] = request_id
    started = time.perf_counter()
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers[REQUEST_ID_HEADER] = request_id
        _log_access(request, exc.status, started)
        raise
    response.headers[REQUEST_ID_HEADER] = request_id
    _log_access(request, request.get(RESULT_CODE, response.status), started)
    return response


def _log_access(request: web.Request, code: int, started: float) -> None:
    milliseconds = (time.perf_counter() - started) * 1000
    access_log.info(
        "%s %s %s %s %.1fms", request[REQUEST_ID], request.method, request.path, code, milliseconds
    )


PREFLIGHT_HEADERS = {
    "Access-Control-Allow-Methods": "GET, POST",
    "Access-Control-Allow-Headers": "Content-Type, Token, Accept-Language",
    "Access-Control-Max-Age": "600",
}


@web.middleware
async def cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Cross-origin access for the configured origins only (--cors-origin)."""
    origin = request.headers.get("Origin")
    if origin is None or origin not in request.app[CONFIG].cors_origins:
        return await handler(request)
    allow = {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Vary": "Origin",
    }
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        return web.Response(status=204, headers=allow | PREFLIGHT_HEADERS)
    response = await handler(request)
    response.headers.update(allow | {"Access-Control-Expose-Headers": REQUEST_ID_HEADER})
    return response


@web.middleware
async def envelope_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every answer under /api/ is HTTP 200 with {code, msg, data?}, errors included."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        response = as_response(request, await handler(request))
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
        text = _HTTP_TEXTS.get(exc.status, M.BAD_REQUEST)
        return envelope(-1, text.render(request_language(request), {}))
    except ClientDisconnected:
        request[RESULT_CODE] = -1
        log.info(
            "request %s %s %s: the client disconnected before sending the whole body",
            request[REQUEST_ID], request.method, request.path,
        )  # fmt: skip
        return envelope(-1, M.BAD_REQUEST.render("en", {}))  # nobody is left to read it
    except asyncio.CancelledError:
        raise
    except Exception:
        request[RESULT_CODE] = -1
        log.exception("request %s %s %s failed", request[REQUEST_ID], request.method, request.path)
        return envelope(-1, M.INTERNAL_ERROR.render(request_language(request), {}))


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Resolve the session once for routes that need one, and check the role. A route
    missing from the access table is refused: access is granted, never assumed. Then,
    as the last check before input (spec 1's order), no query key or value may hold a
    NUL character, whether or not the handler reads it."""
    if request.match_info.http_exception is not None:
        return await handler(request)  # no such route or method: "not found" etc.
    access = request.app[ROUTE_ACCESS].get(request.match_info.route)
    if access is None:
        raise Forbidden() if request.path.startswith("/api/") else web.HTTPForbidden()
    request[ACCESS] = access
    request[USER] = None
    if access is Access.PUBLIC:
        _reject_nul_in_query(request)
        return await handler(request)

    token = sessions.request_token(request)
    found = (
        await sessions.resolve(request.app[STORE], request.app[CONFIG], token) if token else None
    )
    if found is None:
        raise NotLoggedIn()
    if access is Access.ADMIN and found.user["role"] != "admin":
        raise Forbidden()
    request[USER] = found.user
    _reject_nul_in_query(request)
    result = await handler(request)
    if found.renewed and "Token" not in request.headers:
        # A browser's cookie follows the session's new expiry.
        result = as_response(request, result)
        sessions.set_cookie(result, request, token, found.ttl)
    return result


def _reject_nul_in_query(request: web.Request) -> None:
    if request.query_string and request.path.startswith("/api/"):
        validate.reject_nul(request.query)
