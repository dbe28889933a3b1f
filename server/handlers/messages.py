"""An order's message thread: list and send (customer and merchant alike)."""

from aiohttp import web

from .. import texts, validate
from ..envelope import Ok, read_json
from ..handlers import owner_scope, sender_of, store_of


async def list_messages(request: web.Request) -> Ok:
    order_id, page = validate.thread_query(request.query)
    messages, total = await store_of(request).list_messages(order_id, owner_scope(request), page)
    return Ok(messages, total=total)


async def send(request: web.Request) -> Ok:
    # sender_id and sender_name in the body are accepted for compatibility and ignored.
    message = validate.new_message(await read_json(request))
    stored = await store_of(request).add_message(message, owner_scope(request), sender_of(request))
    return Ok(stored, texts.MESSAGE_SENT)
