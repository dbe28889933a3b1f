"""Merchant-only actions: quote, status, images, field definitions."""

from aiohttp import web

from .. import messages as M
from .. import validate
from ..envelope import Ok, read_json
from ..errors import Invalid
from ..handlers import sender_of, store_of
from ..model import QUOTE_CONTENT_LEN, Status
from ..store import Quote

_SETTABLE_STATUSES = (Status.IN_COMMUNICATION, Status.CANCELLED)


async def quote(request: web.Request) -> Ok:
    body = await read_json(request)
    order_id = validate.required_id(body, "id")
    offer = Quote(
        price=validate.quote_price(body),
        content=validate.required_str(body, "quote_content", *QUOTE_CONTENT_LEN),
    )
    order = await store_of(request).quote_order(order_id, sender_of(request), offer)
    return Ok(order, M.QUOTE_SENT)


async def set_status(request: web.Request) -> Ok:
    body = await read_json(request)
    order_id = validate.required_id(body, "id")
    status = body.get("status")
    if type(status) is not int or status not in _SETTABLE_STATUSES:
        raise Invalid(M.STATUS_ONE_OR_CANCELLED)
    order = await store_of(request).set_order_status(order_id, sender_of(request), status)
    return Ok(order, M.STATUS_UPDATED)


async def set_images(request: web.Request) -> Ok:
    body = await read_json(request)
    order_id = validate.required_id(body, "id")
    sketch = validate.optional_url_list(body, "sketch_images")
    finished = validate.optional_url_list(body, "finished_images")
    order = await store_of(request).set_order_images(order_id, sketch, finished)
    return Ok(order, M.IMAGES_UPDATED)


async def replace_fields(request: web.Request) -> Ok:
    fields = validate.field_definitions(await read_json(request))
    return Ok(await store_of(request).replace_field_definitions(fields), M.FIELDS_SAVED)
