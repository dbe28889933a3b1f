"""Sessions: opaque random tokens, stored hashed, with a sliding expiry; and the API
keys that other systems send instead (server/store/api_keys.py)."""

import contextlib
import functools
import math
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from aiohttp import web

from . import model, security, texts
from .config import Config
from .errors import CannotSave, Invalid
from .keys import CONFIG
from .store import Store, accounts, api_keys

COOKIE = "token"
HEADER = "Token"
BEARER = "Bearer "


def header_token(request: web.Request) -> str | None:
    """The credential sent in a header: `Token: <token>`, else `Authorization: Bearer
    <token>` (a session token or an API key either way)."""
    token = request.headers.get(HEADER)
    if token:
        return token
    authorization = request.headers.get("Authorization", "")
    if authorization[: len(BEARER)].lower() == BEARER.lower():
        return authorization[len(BEARER) :].strip() or None
    return None


def request_token(request: web.Request) -> str | None:
    """A header's credential wins over the `token` cookie."""
    token = header_token(request)
    return token if token is not None else cookie_token(request)


def cookie_token(request: web.Request) -> str | None:
    """The `token` cookie's session. The cookie carries only sessions: an API key in it
    is not taken (a key is never a browser's credential)."""
    cookie = request.cookies.get(COOKIE)
    return cookie if cookie and not security.is_api_key(cookie) else None


def refuse_api_key(request: web.Request) -> None:
    """Invalid when the request is authenticated by an API key: for what is about the
    caller's login session or account itself (logging out, the password, the personal
    data export, the account's erasure)."""
    token = header_token(request)
    if token is not None and security.is_api_key(token):
        raise Invalid(texts.NEEDS_LOGIN_SESSION)


async def open_session(
    store: Store, config: Config, user_id: int, ttl: int, language: str
) -> tuple[str, int]:
    """A new session living `ttl` seconds (--session-ttl, or --remember-ttl); the user's
    mail language becomes `language` (that of the last login)."""
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
    """The session's user, and whether the session was renewed just now (or the user an
    API key acts as: see resolve_api_key).

    A session used with less than half of its own TTL left moves its expiry to
    now + that TTL; the token stays the same. Otherwise its last use is written when
    the one written is model.LAST_USE_SECONDS old. While the database cannot be written
    the session is used as it is (it has not expired): a read stays a read."""
    if security.is_api_key(token):
        return await resolve_api_key(store, config, token)
    now = math.floor(config.clock())
    hashed = security.token_hash(token)
    found = await store.session_user(hashed, now)
    if found is None:
        return None
    user, expires_at, ttl, last_used = found
    ttl = ttl or config.session_ttl  # 0: a session older than stored TTLs
    renewed = expires_at - now < ttl / 2
    if renewed:
        try:
            await store.write(accounts.renew_session, hashed, now + ttl)
            expires_at = now + ttl
        except CannotSave:
            renewed = False
    elif last_used <= now - model.LAST_USE_SECONDS:
        await _note_use(store, accounts.record_session_use, hashed)
    return Resolved(user, renewed, ttl, expires_at)


async def _note_use(store: Store, record: Callable[..., Awaitable[None]], *key: Any) -> None:
    """A credential's last use, written unless the database cannot be written (then the
    request stays a read: the use is noted by a later one)."""
    if not store.writes.degraded:
        with contextlib.suppress(CannotSave):
            await store.write(record, *key)


async def resolve_api_key(store: Store, config: Config, key: str) -> Resolved | None:
    """The admin a working key acts as, with the key's role: read on every request (no
    cache), so a revoked key, or one whose admin was disabled or demoted, is refused at
    once on every app server. It never expires and is never renewed (no cookie). Its
    last use is written at most once a minute, and not at all while the database
    cannot be written."""
    found = await store.read(api_keys.key_user, security.token_hash(key))
    if found is None:
        return None
    user, key_id, last_used = found
    if last_used <= math.floor(config.clock()) - model.LAST_USE_SECONDS:
        await _note_use(store, api_keys.record_use, key_id)
    return Resolved(user, renewed=False, ttl=0, expires_at=api_keys.NEVER_EXPIRES)


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


# ---------------------------------------------------------------- forms from other sites

_DEFAULT_PORTS = {"http": 80, "https": 443}
Origin = tuple[str, str, int]


def _origin(url: str) -> Origin | None:
    """(scheme, host, port) of an http(s) URL or Origin header, its letter case and
    default port made plain; None when it is not one (an Origin of "null")."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname, port or _DEFAULT_PORTS[scheme]


@functools.lru_cache(maxsize=8)
def _configured_origins(public_url: str, cors_origins: tuple[str, ...]) -> frozenset[Origin]:
    """--public-url's origin and every --cors-origin."""
    return frozenset(o for o in map(_origin, (public_url, *cors_origins)) if o is not None)


def from_another_site(request: web.Request) -> bool:
    """A POST authenticated by the `token` cookie alone (no `Token` header) that a page
    of another site sent: its `Origin` header is neither this server's own origin (the
    request's scheme and Host, or --public-url's) nor a --cors-origin. Browsers attach
    the cookie to forms that other pages of the same site post (SameSite=Lax stops
    only other sites), and mark every POST with the page's Origin: such a request
    must change nothing. Without an Origin header (not a browser's POST) or with the
    `Token` or `Authorization` header (which no other page can read or send: a session
    token or an API key) it is not one."""
    if request.method != "POST" or header_token(request) or not request.cookies.get(COOKIE):
        return False
    sent = request.headers.get("Origin")
    if sent is None:
        return False
    origin = _origin(sent)
    if origin is None:
        return True
    host = request.headers.get("Host")  # not request.host: without one it asks the DNS
    if host is not None and origin == _origin(f"{request.scheme}://{host}"):
        return False
    config = request.app[CONFIG]
    return origin not in _configured_origins(config.public_url, config.cors_origins)
