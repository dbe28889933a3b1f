"""The communication order: create, list, detail, the seed's update, accept, reject, cancel."""

from typing import Any

from aiohttp import web

from .. import texts
from ..envelope import Ok, read_json
from ..handlers import owner_scope, sender_of, store_of
from ..keys import ACCESS, USER
from ..store import OrderFilter, inbox, orders
from ..validate import fields as field_forms
from ..validate import orders as forms


async def _check_against_fields(
    request: web.Request, extra: dict[str, Any], *, creating: bool
) -> None:
    definitions = await store_of(request).field_definitions()
    field_forms.check_extra_fields(extra, definitions, creating=creating)


async def create(request: web.Request) -> Ok:
    order = forms.CREATE_ORDER.parse(await read_json(request))
    await _check_against_fields(request, order["order_extra"], creating=True)
    created = await store_of(request).write(orders.create_order, request[USER]["id"], order)
    return Ok(created, texts.ORDER_CREATED)


async def list_orders(request: web.Request) -> Ok:
    merchant = request[ACCESS].merchant
    query = (forms.ADMIN_ORDER_LIST_QUERY if merchant else forms.ORDER_LIST_QUERY).parse(
        request.query
    )
    where = OrderFilter(
        owner_id=owner_scope(request),
        status=query.status,
        user_id=query.user_id,
        search=query.q,
        reader=request[USER]["id"],
        sort=query.sort,
        unread=bool(query.unread),
        awaiting_reply=bool(query.awaiting_reply),
        assignee_id=query.assignee_id,
    )
    found, total = await store_of(request).read(orders.list_orders, where, query.page)
    return Ok(found, total=total)


async def detail(request: web.Request) -> Ok:
    order_id = forms.QUERY_ORDER_ID.parse(request.query)
    store = store_of(request)
    definitions = await store.field_definitions()
    return Ok(
        await store.read(
            orders.order_detail, order_id, owner_scope(request), request[USER]["id"], definitions
        )
    )


async def mark_read(request: web.Request) -> Ok:
    """Move the caller's read marker; answers the caller's unread count after."""
    mark = forms.MARK_READ.parse(await read_json(request))
    unread = await store_of(request).write(
        inbox.mark_read, mark.id, owner_scope(request), sender_of(request), mark.message_id
    )
    return Ok({"unread": unread}, texts.MARKED_READ)


async def update(request: web.Request) -> Ok:
    update = forms.UPDATE_ORDER.parse(await read_json(request))
    if update.changes["order_extra"] is not None:
        await _check_against_fields(request, update.changes["order_extra"], creating=False)
    order = await store_of(request).write(
        orders.update_order, update.id, request[USER]["id"], update.changes, update.version
    )
    return Ok(order, texts.ORDER_UPDATED)


async def accept(request: web.Request) -> Ok:
    accepted = forms.ACCEPT.parse(await read_json(request, numbers_as_text=("quote_price",)))
    order = await store_of(request).write(orders.accept_quote, accepted, request[USER]["id"])
    return Ok(order, texts.QUOTE_ACCEPTED)


async def reject(request: web.Request) -> Ok:
    note = forms.REJECT.parse(await read_json(request))
    order = await store_of(request).write(
        orders.move_order, "reject", note.id, request[USER]["id"], note.reason
    )
    return Ok(order, texts.QUOTE_REJECTED)


async def cancel(request: web.Request) -> Ok:
    note = forms.CANCEL.parse(await read_json(request))
    order = await store_of(request).write(
        orders.move_order, "cancel", note.id, request[USER]["id"], note.reason
    )
    return Ok(order, texts.ORDER_CANCELLED)


async def list_fields(request: web.Request) -> Ok:
    return Ok(await store_of(request).field_definitions())
