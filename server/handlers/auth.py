"""Register, log in, log out, the current user, password change."""

import asyncio
from typing import Any

from aiohttp import web

from .. import model, security, sessions, texts
from ..envelope import Ok, as_response, read_json
from ..errors import Forbidden, Invalid, TooManyAttempts
from ..handlers import store_of
from ..keys import CONFIG, METRICS, USER
from ..store import LoginLimits, accounts
from ..texts import Text
from ..validate import accounts as forms


def client_address(request: web.Request) -> str:
    return request.remote or "unknown"


def login_limits(request: web.Request) -> LoginLimits:
    return LoginLimits(
        window=model.LOGIN_FAILURE_WINDOW,
        per_pair=model.LOGIN_FAILURES_PER_PAIR,
        per_address=request.app[CONFIG].max_login_failures_per_address,
    )


async def _logged_in(
    request: web.Request, user: dict[str, Any], text: Text, ttl: int
) -> web.StreamResponse:
    config = request.app[CONFIG]
    language = texts.language_of(request.headers.get("Accept-Language", ""))
    token, expires_at = await sessions.open_session(
        store_of(request), config, user["id"], ttl, language
    )
    response = as_response(request, Ok({**user, "token": token, "expire": expires_at}, text))
    sessions.set_cookie(response, request, token, ttl)
    return response


async def register(request: web.Request) -> web.StreamResponse:
    form = forms.REGISTER.parse(await read_json(request))
    config = request.app[CONFIG]
    store, address, per_hour = (
        store_of(request),
        client_address(request),
        config.max_registrations_per_hour,
    )
    if await store.read(accounts.registrations_used_up, address, per_hour):
        raise TooManyAttempts()  # before the slow hash: refusals cost the server little
    password_hash = await asyncio.to_thread(security.hash_password, form.password)
    user = await store.write(
        accounts.create_user,
        form.user_name,
        form.email,
        form.phone,
        password_hash,
        address,
        per_hour,
    )
    return await _logged_in(request, user, texts.REGISTERED, config.session_ttl)


async def login(request: web.Request) -> web.StreamResponse:
    form = forms.LOGIN.parse(await read_json(request))
    store = store_of(request)
    user = await store.read(accounts.get_login_user, form.login)
    # Throttled whether or not the user exists, so the answer reveals nothing; the hash
    # is checked even for an unknown user, so both failures look and last the same.
    account = accounts.account_key(user["id"]) if user else accounts.unknown_key(form.login)
    stored = user.pop("password_hash") if user else security.dummy_hash()
    disabled = user.pop("disabled") if user else False
    passed = await store.decide_login(
        account,
        client_address(request),
        login_limits(request),
        lambda: asyncio.to_thread(security.verify_password, form.password, stored),
    )
    if not passed or not user:
        request.app[METRICS].login_failures.inc()
        raise Invalid(texts.WRONG_CREDENTIALS)
    if disabled:  # told only to whoever knows the password
        raise Invalid(texts.ACCOUNT_DISABLED)
    config = request.app[CONFIG]
    ttl = config.remember_ttl if form.remember else config.session_ttl
    return await _logged_in(request, user, texts.LOGGED_IN, ttl)


async def logout(request: web.Request) -> web.StreamResponse:
    """Public (it answers without a session), but the session it ends may come from the
    cookie: a page of another site may not end it (1002, before the input)."""
    if sessions.from_another_site(request):
        raise Forbidden()
    sessions.refuse_api_key(request)
    everywhere = forms.LOGOUT.parse(await read_json(request)).all
    token = sessions.request_token(request)
    if token:
        store, hashed = store_of(request), security.token_hash(token)
        revoke = accounts.delete_user_sessions if everywhere else accounts.delete_session
        await store.write(revoke, hashed)
    response = as_response(request, Ok(text=texts.LOGGED_OUT))
    sessions.clear_cookie(response)
    return response


async def user_detail(request: web.Request) -> Ok:
    return Ok(request[USER])


async def confirm_password(request: web.Request, password: str, wrong: Text) -> None:
    """The caller's own password, asked again before a change of the account: a wrong
    one is Invalid(wrong) and counts as a failed login of this account from this
    address."""
    store, user_id = store_of(request), request[USER]["id"]
    stored = await store.read(accounts.password_hash, user_id)
    passed = await store.decide_login(
        accounts.account_key(user_id),
        client_address(request),
        login_limits(request),
        lambda: asyncio.to_thread(security.verify_password, password, stored),
    )
    if not passed:
        raise Invalid(wrong)


async def change_password(request: web.Request) -> Ok:
    sessions.refuse_api_key(request)
    form = forms.PASSWORD_CHANGE.parse(await read_json(request))
    await confirm_password(request, form.old_password, texts.WRONG_OLD_PASSWORD)
    store, user_id = store_of(request), request[USER]["id"]
    password_hash = await asyncio.to_thread(security.hash_password, form.password)
    keep = security.token_hash(sessions.request_token(request) or "")
    await store.write(accounts.change_password, user_id, password_hash, keep)
    return Ok(text=texts.PASSWORD_CHANGED)
