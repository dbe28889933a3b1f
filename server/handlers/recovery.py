"""Forgotten passwords, reset links (the customer's and an admin's) and the reset."""

import asyncio

from aiohttp import web

from .. import security, texts
from ..envelope import Ok, read_json
from ..errors import Invalid
from ..handlers import store_of
from ..handlers.auth import client_address
from ..keys import CONFIG
from ..store import recovery
from ..validate import accounts as forms

RESET_ROUTE = "/#/reset?token="


def public_url(request: web.Request) -> str:
    """Where links point: --public-url when set, else the scheme and Host the request
    came with (behind a trusted proxy, the scheme it forwarded), without a trailing /."""
    config = request.app[CONFIG]
    if config.public_url:
        return config.public_url.rstrip("/")
    host = request.headers.get("Host") or f"{config.host}:{config.port}"
    return f"{request.scheme}://{host}"


def _mail_configured(request: web.Request) -> bool:
    config = request.app[CONFIG]
    return bool(config.smtp_url and config.mail_from)


def _new_link(request: web.Request) -> recovery.ResetLink:
    token = security.new_token()
    return recovery.ResetLink(
        f"{public_url(request)}{RESET_ROUTE}{token}", security.token_hash(token)
    )


async def forgot(request: web.Request) -> Ok:
    """The same answer, after the same statements, whether or not an account matched:
    the token and its link are made either way."""
    login = forms.FORGOT.parse(await read_json(request))
    await store_of(request).write(
        recovery.request_reset,
        login,
        client_address(request),
        _new_link(request),
        _mail_configured(request),
    )
    return Ok(text=texts.RESET_REQUESTED)


async def reset(request: web.Request) -> Ok:
    """No login: the caller logs in with the new password."""
    form = forms.PASSWORD_RESET.parse(await read_json(request))
    store, hashed = store_of(request), security.token_hash(form.token)
    if not await store.read(recovery.token_valid, hashed):  # before the slow hash
        raise Invalid(texts.RESET_LINK_INVALID)
    password_hash = await asyncio.to_thread(security.hash_password, form.password)
    await store.write(recovery.reset_password, hashed, password_hash)
    return Ok(text=texts.PASSWORD_RESET)


async def admin_reset_link(request: web.Request) -> Ok:
    user_id = forms.USER_ID.parse(await read_json(request))
    link = _new_link(request)
    await store_of(request).write(
        recovery.make_reset_link, user_id, link, _mail_configured(request)
    )
    return Ok({"reset_url": link.url}, texts.RESET_LINK_MADE)
