"""Register, log in, log out, the current user."""

import asyncio

from aiohttp import web

from .. import messages as M
from .. import security, sessions, validate
from ..envelope import Ok, as_response, read_json
from ..errors import Invalid
from ..handlers import store_of
from ..keys import CONFIG, USER
from ..messages import Text

# At most this many failed logins per user name, and per client address, in the window.
MAX_FAILED_LOGINS = 5
FAILED_LOGIN_WINDOW = 15 * 60


async def _logged_in(request: web.Request, user: dict, text: Text) -> web.StreamResponse:
    config = request.app[CONFIG]
    token, expires_at = await sessions.open_session(store_of(request), config, user["id"])
    response = as_response(request, Ok({**user, "token": token, "expire": expires_at}, text))
    sessions.set_cookie(response, request, token, config.session_ttl)
    return response


async def register(request: web.Request) -> web.StreamResponse:
    form = validate.registration(await read_json(request))
    password_hash = await asyncio.to_thread(security.hash_password, form.password)
    user = await store_of(request).create_user(
        form.user_name, form.email, form.phone, password_hash
    )
    return await _logged_in(request, user, M.REGISTERED)


async def login(request: web.Request) -> web.StreamResponse:
    form = validate.credentials(await read_json(request))
    store = store_of(request)
    # Throttled whether or not the user exists, so the answer reveals nothing.
    subjects = [f"name:{form.login.lower()}", f"addr:{request.remote or 'unknown'}"]
    if not await store.reserve_login_attempt(subjects, FAILED_LOGIN_WINDOW, MAX_FAILED_LOGINS):
        raise Invalid(M.TOO_MANY_ATTEMPTS)
    user = await store.get_login_user(form.login)
    # The hash is checked even for an unknown user, so both failures look and last the same.
    stored = user.pop("password_hash") if user else security.dummy_hash()
    if not await asyncio.to_thread(security.verify_password, form.password, stored) or not user:
        raise Invalid(M.WRONG_CREDENTIALS)
    await store.clear_login_failures(subjects)
    return await _logged_in(request, user, M.LOGGED_IN)


async def logout(request: web.Request) -> web.StreamResponse:
    token = sessions.request_token(request)
    if token:
        await sessions.close_session(store_of(request), token)
    response = as_response(request, Ok(text=M.LOGGED_OUT))
    sessions.clear_cookie(response)
    return response


async def user_detail(request: web.Request) -> Ok:
    return Ok(request[USER])
