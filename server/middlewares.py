"""Middlewares, outermost first: request id → envelope/errors → session.

The order matters: the envelope middleware must wrap the session middleware so that
1001/1002 come out as envelopes, and the request id must exist before anything logs.
"""

import asyncio
import logging
import random

from aiohttp import web
from aiohttp.typedefs import Handler

from server import messages as M
from server import sessions
from server.access import Access
from server.envelope import as_response, envelope, request_language
from server.errors import ApiError, Forbidden, NotLoggedIn
from server.keys import ACCESS, CONFIG, REQUEST_ID, ROUTE_ACCESS, STORE, USER

log = logging.getLogger("orderdesk")

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
    request_id = f"{_request_ids.getrandbits(64):016x}"
    request[REQUEST_ID] = request_id
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers[REQUEST_ID_HEADER] = request_id
        raise
    response.headers[REQUEST_ID_HEADER] = request_id
    return response


@web.middleware
async def envelope_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every answer under /api/ is HTTP 200 with {code, msg, data?}, errors included."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        return as_response(request, await handler(request))
    except ApiError as error:
        msg = error.render(request_language(request))
        if error.data is None:
            return envelope(error.code, msg)
        return envelope(error.code, msg, error.data)
    except web.HTTPException as exc:
        text = _HTTP_TEXTS.get(exc.status, M.BAD_REQUEST)
        return envelope(-1, text.render(request_language(request), {}))
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("request %s %s %s failed", request[REQUEST_ID], request.method, request.path)
        return envelope(-1, M.INTERNAL_ERROR.render(request_language(request), {}))


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Resolve the session once for routes that need one, and check the role."""
    access = request.app[ROUTE_ACCESS].get(request.match_info.route, Access.PUBLIC)
    request[ACCESS] = access
    request[USER] = None
    if access is Access.PUBLIC:
        return await handler(request)

    token = sessions.request_token(request)
    found = (
        await sessions.resolve(request.app[STORE], request.app[CONFIG], token) if token else None
    )
    if found is None:
        raise NotLoggedIn()
    user, renewed = found
    if access is Access.ADMIN and user["role"] != "admin":
        raise Forbidden()
    request[USER] = user
    result = await handler(request)
    if renewed and "Token" not in request.headers:
        # A browser's cookie follows the session's new expiry.
        result = as_response(request, result)
        sessions.set_cookie(result, request, token, request.app[CONFIG].session_ttl)
    return result
