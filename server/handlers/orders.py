"""The communication order: create, list, detail, the seed's update, accept, reject, cancel."""

from typing import Any

from aiohttp import web

from .. import texts, validate
from ..access import Access
from ..envelope import Ok, read_json
from ..handlers import owner_scope, store_of
from ..keys import ACCESS, USER
from ..store import OrderFilter


async def _check_against_fields(
    request: web.Request, extra: dict[str, Any], *, creating: bool
) -> None:
    definitions = await store_of(request).get_field_definitions()
    validate.check_extra_fields(extra, definitions, creating=creating)


async def create(request: web.Request) -> Ok:
    order = validate.new_order(await read_json(request))
    await _check_against_fields(request, order.order_extra, creating=True)
    created = await store_of(request).create_order(request[USER]["id"], order)
    return Ok(created, texts.ORDER_CREATED)


async def list_orders(request: web.Request) -> Ok:
    query = validate.order_list_query(request.query, admin=request[ACCESS] is Access.ADMIN)
    where = OrderFilter(
        owner_id=owner_scope(request),
        status=query.status,
        user_id=query.user_id,
        search=query.search,
    )
    orders, total = await store_of(request).list_orders(where, query.page)
    return Ok(orders, total=total)


async def detail(request: web.Request) -> Ok:
    order_id = validate.order_id_query(request.query)
    return Ok(await store_of(request).get_order_detail(order_id, owner_scope(request)))


async def update(request: web.Request) -> Ok:
    order_id, changes, expected_version = validate.order_changes(await read_json(request))
    if changes.order_extra is not None:
        await _check_against_fields(request, changes.order_extra, creating=False)
    order = await store_of(request).update_order(
        order_id, request[USER]["id"], changes, expected_version
    )
    return Ok(order, texts.ORDER_UPDATED)


async def accept(request: web.Request) -> Ok:
    accepted = validate.acceptance(await read_json(request, numbers_as_text=("quote_price",)))
    order = await store_of(request).accept_quote(accepted, request[USER]["id"])
    return Ok(order, texts.QUOTE_ACCEPTED)


async def reject(request: web.Request) -> Ok:
    order_id, reason = validate.order_note(await read_json(request))
    order = await store_of(request).reject_quote(order_id, request[USER]["id"], reason)
    return Ok(order, texts.QUOTE_REJECTED)


async def cancel(request: web.Request) -> Ok:
    order_id, reason = validate.order_note(await read_json(request))
    order = await store_of(request).cancel_order(order_id, request[USER]["id"], reason)
    return Ok(order, texts.ORDER_CANCELLED)


async def list_fields(request: web.Request) -> Ok:
    return Ok(await store_of(request).get_field_definitions())
