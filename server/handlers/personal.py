"""A user's personal data: the export and the erasure of the account."""

from aiohttp import web

from .. import sessions, texts
from ..envelope import Ok, as_response, read_json
from ..handlers import store_of
from ..handlers.auth import confirm_password
from ..keys import USER
from ..store import personal
from ..validate import accounts as forms


async def export(request: web.Request) -> Ok:
    sessions.refuse_api_key(request)
    return Ok(await store_of(request).read(personal.export, request[USER]["id"]))


async def delete(request: web.Request) -> web.StreamResponse:
    sessions.refuse_api_key(request)
    form = forms.ACCOUNT_DELETE.parse(await read_json(request))
    await confirm_password(request, form.password, texts.WRONG_PASSWORD)
    await store_of(request).write(personal.erase, request[USER]["id"])
    response = as_response(request, Ok(text=texts.ACCOUNT_DELETED))
    sessions.clear_cookie(response)
    return response
