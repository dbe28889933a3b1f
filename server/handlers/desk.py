"""The merchant's desk: the users page (staff read it, admins change roles and
disable accounts) and the saved replies staff and admins share."""

from aiohttp import web

from .. import texts
from ..envelope import Ok, read_json
from ..handlers import store_of
from ..keys import USER
from ..store import desk
from ..validate import desk as forms


async def list_users(request: web.Request) -> Ok:
    query = forms.USERS_QUERY.parse(request.query)
    found, total = await store_of(request).read(desk.list_users, query.q, query.role, query.page)
    return Ok(found, total=total)


async def update_user(request: web.Request) -> Ok:
    change = forms.UPDATE_USER.parse(await read_json(request))
    user = await store_of(request).write(desk.update_user, change, request[USER]["id"])
    return Ok(user, texts.USER_UPDATED)


async def list_replies(request: web.Request) -> Ok:
    return Ok(await store_of(request).read(desk.list_replies))


async def create_reply(request: web.Request) -> Ok:
    reply = forms.CREATE_REPLY.parse(await read_json(request))
    return Ok(await store_of(request).write(desk.create_reply, reply), texts.REPLY_SAVED)


async def update_reply(request: web.Request) -> Ok:
    change = forms.UPDATE_REPLY.parse(await read_json(request))
    return Ok(await store_of(request).write(desk.update_reply, change), texts.REPLY_UPDATED)


async def delete_reply(request: web.Request) -> Ok:
    reply_id = forms.REPLY_ID.parse(await read_json(request))
    await store_of(request).write(desk.delete_reply, reply_id)
    return Ok(text=texts.REPLY_DELETED)
