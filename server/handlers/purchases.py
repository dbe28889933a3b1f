"""Purchase orders (§12): AnqiCMS's shop order endpoints, the customer's (`/api/orders`,
`/api/order/...`: their own purchase orders) and the merchant's (`/api/admin/order...`:
any, with an API key too)."""

from aiohttp import web

from ..envelope import Ok, read_json
from ..handlers import owner_scope, store_of
from ..keys import ACCESS, CONFIG, USER
from ..store import purchases
from ..validate import purchases as forms
from ..workflow import PURCHASE_MOVES


def _caller(request: web.Request) -> purchases.Caller:
    return purchases.Caller(request[USER]["id"], owner_scope(request))


async def list_purchase_orders(request: web.Request) -> Ok:
    form = forms.ADMIN_LIST_QUERY if request[ACCESS].merchant else forms.LIST_QUERY
    query = form.parse(request.query)
    found, total = await store_of(request).read(
        purchases.list_purchase_orders,
        owner_scope(request),
        query.page,
        query.status,
        query.user_id,
        query.comm_order_id,
    )
    return Ok(found, total=total)


async def detail(request: web.Request) -> Ok:
    order_id = forms.PURCHASE_ORDER_ID.parse(request.query)
    return Ok(
        await store_of(request).read(purchases.purchase_detail, order_id, owner_scope(request))
    )


async def payment(request: web.Request) -> Ok:
    """The customer's choice of how to pay; offline: the merchant's instructions."""
    chosen = forms.PAYMENT.parse(await read_json(request))
    await store_of(request).write(
        purchases.choose_payment, chosen.order_id, chosen.pay_way, _caller(request)
    )
    instructions = request.app[CONFIG].payment_instructions
    data = {"order_id": chosen.order_id, "pay_way": chosen.pay_way, "instructions": instructions}
    return Ok(data, PURCHASE_MOVES["payment"].done)


async def cancel(request: web.Request) -> Ok:
    order_id = forms.PURCHASE_ORDER_ID.parse(await read_json(request))
    order = await store_of(request).write(purchases.cancel, order_id, _caller(request))
    return Ok(order, PURCHASE_MOVES["cancel"].done)


async def finish(request: web.Request) -> Ok:
    order_id = forms.PURCHASE_ORDER_ID.parse(await read_json(request))
    order = await store_of(request).write(purchases.finish, order_id, _caller(request))
    return Ok(order, PURCHASE_MOVES["finish"].done)


async def request_refund(request: web.Request) -> Ok:
    refund = forms.REFUND.parse(await read_json(request))
    order = await store_of(request).write(
        purchases.request_refund, refund.order_id, refund.reason, _caller(request)
    )
    return Ok(order, PURCHASE_MOVES["refund"].done)


async def mark_paid(request: web.Request) -> Ok:
    paid = forms.MARK_PAID.parse(await read_json(request))
    order = await store_of(request).write(
        purchases.mark_paid, paid.order_id, paid.pay_way, paid.payment_reference, _caller(request)
    )
    return Ok(order, PURCHASE_MOVES["paid"].done)


async def deliver(request: web.Request) -> Ok:
    sent = forms.DELIVER.parse(await read_json(request))
    order = await store_of(request).write(
        purchases.deliver,
        sent.order_id,
        sent.express_company,
        sent.tracking_number,
        _caller(request),
    )
    return Ok(order, PURCHASE_MOVES["deliver"].done)


async def decide_refund(request: web.Request) -> Ok:
    decision = forms.DECIDE_REFUND.parse(await read_json(request))
    order = await store_of(request).write(
        purchases.decide_refund, decision.order_id, decision.approve, _caller(request)
    )
    return Ok(order, PURCHASE_MOVES["approve refund" if decision.approve else "refuse refund"].done)


async def close(request: web.Request) -> Ok:
    closing = forms.CLOSE.parse(await read_json(request))
    order = await store_of(request).write(
        purchases.close, closing.order_id, closing.reason, _caller(request)
    )
    return Ok(order, PURCHASE_MOVES["close"].done)
