"""An order's message thread: list and send (customer and merchant alike)."""

from aiohttp import web

from .. import texts
from ..envelope import Ok, read_json
from ..handlers import owner_scope, sender_of, store_of
from ..store import threads
from ..validate import orders as forms


async def list_messages(request: web.Request) -> Ok:
    query = forms.THREAD_QUERY.parse(request.query)
    messages, total = await store_of(request).read(
        threads.list_messages, query.comm_order_id, owner_scope(request), query.page
    )
    return Ok(messages, total=total)


async def send(request: web.Request) -> Ok:
    message = forms.SEND_MESSAGE.parse(await read_json(request))
    stored = await store_of(request).write(
        threads.add_message, message, owner_scope(request), sender_of(request)
    )
    return Ok(stored, texts.MESSAGE_SENT)


async def add_note(request: web.Request) -> Ok:
    """An internal note (the merchant's side only)."""
    note = forms.ADD_NOTE.parse(await read_json(request))
    stored = await store_of(request).write(
        threads.add_note, note.id, note.content, sender_of(request)
    )
    return Ok(stored, texts.NOTE_ADDED)
