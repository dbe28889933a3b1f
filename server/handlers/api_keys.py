"""API keys: made, listed and revoked by admins, for other systems."""

from aiohttp import web

from .. import security, texts
from ..envelope import Ok, read_json
from ..handlers import store_of
from ..keys import USER
from ..store import api_keys
from ..validate import api_keys as forms


async def list_keys(request: web.Request) -> Ok:
    return Ok(await store_of(request).read(api_keys.list_keys))


async def create(request: web.Request) -> Ok:
    """The key is in this answer only: the database keeps its hash."""
    asked = forms.CREATE_API_KEY.parse(await read_json(request))
    key = security.new_api_key()
    made = await store_of(request).write(
        api_keys.create_key, security.token_hash(key), request[USER]["id"], asked.name, asked.role
    )
    return Ok({**made, "key": key}, texts.API_KEY_CREATED)


async def delete(request: web.Request) -> Ok:
    key_id = forms.API_KEY_ID.parse(await read_json(request))
    await store_of(request).write(api_keys.delete_key, key_id)
    return Ok(text=texts.API_KEY_DELETED)
