"""Sessions: opaque random tokens, stored hashed, with a sliding expiry (spec 2)."""

import math
from typing import Any, NamedTuple

from aiohttp import web

from . import security
from .config import Config
from .store import Store, accounts

COOKIE = "token"
HEADER = "Token"


def request_token(request: web.Request) -> str | None:
    """The `Token` header wins over the `token` cookie."""
    return request.headers.get(HEADER) or request.cookies.get(COOKIE) or None


async def open_session(
    store: Store, config: Config, user_id: int, ttl: int, language: str
) -> tuple[str, int]:
    """A new session living `ttl` seconds (--session-ttl, or --remember-ttl); the user's
    mail language becomes `language` (spec 9: that of the last login)."""
    token = security.new_token()
    expires_at = math.floor(config.clock()) + ttl
    await store.write(
        accounts.create_session, security.token_hash(token), user_id, expires_at, ttl, language
    )
    return token, expires_at


class Resolved(NamedTuple):
    user: dict[str, Any]
    renewed: bool  # just now: a browser's cookie should follow
    ttl: int  # the session's own TTL
    expires_at: int  # after any renewal


async def resolve(store: Store, config: Config, token: str) -> Resolved | None:
    """The session's user, and whether the session was renewed just now.

    A session used with less than half of its own TTL left moves its expiry to
    now + that TTL; the token stays the same."""
    now = math.floor(config.clock())
    hashed = security.token_hash(token)
    found = await store.session_user(hashed, now)
    if found is None:
        return None
    user, expires_at, ttl = found
    ttl = ttl or config.session_ttl  # 0: a session older than stored TTLs
    renewed = expires_at - now < ttl / 2
    if renewed:
        expires_at = now + ttl
        await store.write(accounts.renew_session, hashed, expires_at)
    return Resolved(user, renewed, ttl, expires_at)


def set_cookie(response: web.StreamResponse, request: web.Request, token: str, ttl: int) -> None:
    response.set_cookie(
        COOKIE,
        token,
        path="/",
        max_age=ttl,
        httponly=True,
        samesite="Lax",
        secure=request.secure,
    )


def clear_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/")
