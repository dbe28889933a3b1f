"""Merchant-only actions: quote, status, images, field definitions."""

from aiohttp import web

from .. import texts, validate
from ..envelope import Ok, read_json
from ..handlers import sender_of, store_of
from ..store import Quote


async def quote(request: web.Request) -> Ok:
    asked = validate.quote_request(await read_json(request, numbers_as_text=("quote_price",)))
    offer = Quote(price=asked.price, content=asked.content)
    order = await store_of(request).quote_order(asked.order_id, sender_of(request), offer)
    return Ok(order, texts.QUOTE_SENT)


async def set_status(request: web.Request) -> Ok:
    order_id, status = validate.status_change(await read_json(request))
    order = await store_of(request).set_order_status(order_id, sender_of(request), status)
    return Ok(order, texts.STATUS_UPDATED)


async def set_images(request: web.Request) -> Ok:
    order_id, sketch, finished = validate.images_change(await read_json(request))
    order = await store_of(request).set_order_images(order_id, sketch, finished)
    return Ok(order, texts.IMAGES_UPDATED)


async def replace_fields(request: web.Request) -> Ok:
    fields = validate.replacement_fields(await read_json(request))
    return Ok(await store_of(request).replace_field_definitions(fields), texts.FIELDS_SAVED)
