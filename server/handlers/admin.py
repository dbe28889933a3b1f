"""The merchant's actions on orders (staff and admins): quote, status, images,
assignment; and the field definitions (admins)."""

from aiohttp import web

from .. import texts
from ..envelope import Ok, read_json
from ..handlers import sender_of, store_of
from ..store import fields, orders
from ..validate import fields as field_forms
from ..validate import orders as forms


async def quote(request: web.Request) -> Ok:
    asked = forms.QUOTE.parse(await read_json(request, numbers_as_text=("quote_price",)))
    order = await store_of(request).write(orders.quote_order, asked, sender_of(request))
    return Ok(order, texts.QUOTE_SENT)


async def set_status(request: web.Request) -> Ok:
    change = forms.SET_STATUS.parse(await read_json(request))
    order = await store_of(request).write(orders.set_order_status, change, sender_of(request))
    return Ok(order, texts.STATUS_UPDATED)


async def set_images(request: web.Request) -> Ok:
    change = forms.SET_IMAGES.parse(await read_json(request))
    order = await store_of(request).write(orders.set_order_images, change, sender_of(request))
    return Ok(order, texts.IMAGES_UPDATED)


async def assign(request: web.Request) -> Ok:
    asked = forms.ASSIGN.parse(await read_json(request))
    order = await store_of(request).write(
        orders.assign_order, asked.id, asked.assignee_id, sender_of(request)
    )
    return Ok(order, texts.ORDER_ASSIGNED)


async def replace_fields(request: web.Request) -> Ok:
    definitions = field_forms.REPLACE_FIELDS.parse(await read_json(request))
    saved = await store_of(request).write(fields.replace_field_definitions, definitions)
    return Ok(saved, texts.FIELDS_SAVED)
