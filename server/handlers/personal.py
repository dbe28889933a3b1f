"""A user's personal data: the export and the erasure of the account."""

import asyncio

from aiohttp import web

from .. import security, sessions, texts
from ..envelope import Ok, as_response, read_json
from ..errors import Invalid
from ..handlers import store_of
from ..handlers.auth import client_address, login_limits
from ..keys import CONFIG, USER
from ..store import accounts, personal
from ..validate import accounts as forms


async def export(request: web.Request) -> Ok:
    config = request.app[CONFIG]
    return Ok(
        await store_of(request).read(personal.export, request[USER]["id"], config.session_ttl)
    )


async def delete(request: web.Request) -> web.StreamResponse:
    """A wrong password counts as a failed login of this account from this address."""
    form = forms.ACCOUNT_DELETE.parse(await read_json(request))
    store, user_id = store_of(request), request[USER]["id"]
    stored = await store.read(accounts.password_hash, user_id)
    passed = await store.decide_login(
        accounts.account_key(user_id),
        client_address(request),
        login_limits(request),
        lambda: asyncio.to_thread(security.verify_password, form.password, stored),
    )
    if not passed:
        raise Invalid(texts.WRONG_PASSWORD)
    await store.write(personal.erase, user_id)
    response = as_response(request, Ok(text=texts.ACCOUNT_DELETED))
    sessions.clear_cookie(response)
    return response
