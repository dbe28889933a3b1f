"""Who may do what: every protected endpoint × every kind of caller."""

import aiohttp
import pytest
from aiohttp import web
from orderdesk.access import Access
from orderdesk.app import create_app
from orderdesk.routes import ROUTES

from tests.conftest import call, make_admin, make_order, make_staff, quote, register
from tests.examples import example, order_scoped

# The purchase-order moves that start elsewhere than awaiting payment, and the steps
# that lead there.
PURCHASE_SETUP = {
    "/api/order/finish": ("paid", "deliver"),
    "/api/order/refund": ("paid",),
    "/api/admin/order/deliver": ("paid",),
    "/api/admin/order/refund": ("paid", "refund"),
}
PURCHASE_STEPS = {
    "paid": ("admin", "/api/admin/order/paid", {}),
    "deliver": ("admin", "/api/admin/order/deliver", {}),
    "refund": ("owner", "/api/order/refund", {"reason": "broken"}),
}
PUBLIC_HOOK = "http://93.184.216.34/hook"  # a public literal address: nothing to resolve
CALLERS = ["anonymous", "expired", "revoked", "other customer", "staff", "admin", "owner"]
MERCHANTS = {Access.STAFF: ("staff", "admin"), Access.ADMIN: ("admin",)}

# The event stream answers a stream, not an envelope, to a caller it admits: its access
# (every kind of caller, and whose events each sees) is tested in tests/test_events.py.
STREAM = "/api/events"
PROTECTED = [
    (m, p, access) for m, p, _, access in ROUTES if access is not Access.PUBLIC and p != STREAM
]


def expected(method: str, path: str, access: Access, caller: str) -> tuple[int, str | None]:
    if caller in ("anonymous", "expired", "revoked"):
        return 1001, None
    if access in MERCHANTS:
        return (0, None) if caller in MERCHANTS[access] else (1002, None)
    if order_scoped(method, path) and caller != "owner":
        # Customer routes see only the caller's own orders, an admin's too.
        return -1, "order not found"
    if path == "/api/attachment/delete" and caller != "owner":
        return -1, "attachment not found"  # only the uploader deletes an upload
    if path == "/api/user/delete" and caller == "admin":  # staff may delete their account
        return -1, "the last admin cannot delete their account"
    return 0, None


@pytest.mark.parametrize("method, path, access", PROTECTED)
async def test_access_matrix(client, clock, method, path, access):
    expired, _ = await register(client, "late")
    clock.advance(3601)
    revoked, _ = await register(client, "gone")
    assert (await call(client, "POST", "/api/logout", token=revoked))["code"] == 0
    owner, _ = await register(client, "owner")
    other, _ = await register(client, "other")
    admin = await make_admin(client)
    hook = await call(client, "POST", "/api/admin/webhooks", token=admin, json={"url": PUBLIC_HOOK})
    webhook = hook["data"]["id"]
    staff, _ = await make_staff(client, admin)
    target, _ = await register(client, "target")  # whom the admin changes
    target_id = (await call(client, "GET", "/api/user/detail", token=target))["data"]["id"]
    # The merchant's callers each act on their own order and saved reply, so that what one
    # changes (a status, a deletion) leaves the other's request as valid as it was.
    orders, replies = {}, {}
    for caller in ("staff", "admin", "owner"):
        orders[caller] = order = await make_order(client, owner)
        await quote(client, admin, order["id"])
        reply = {"title": caller, "content": "Thank you"}
        made = await call(client, "POST", "/api/admin/replies", token=admin, json=reply)
        replies[caller] = made["data"]["id"]
    # And on their own purchase order, brought to where the route's move starts.
    purchases = {}
    for caller in ("staff", "admin", "owner"):
        accepted = await make_order(client, owner)
        await quote(client, admin, accepted["id"])
        body = {"id": accepted["id"]}
        await call(client, "POST", "/api/communication/order/accept", token=owner, json=body)
        listed = await call(
            client, "GET", "/api/orders", token=owner, params={"comm_order_id": accepted["id"]}
        )
        purchases[caller] = number = listed["data"][0]["order_id"]
        for step in PURCHASE_SETUP.get(path, ()):
            who, step_path, extra = PURCHASE_STEPS[step]
            moved = await call(
                client,
                "POST",
                step_path,
                token=owner if who == "owner" else admin,
                json={"order_id": number, **extra},
            )
            assert moved["code"] == 0, moved
    order = orders["owner"]
    form = aiohttp.FormData()
    form.add_field("file", b"%PDF-1.4 the owner's", filename="owner.pdf")
    upload = await call(client, "POST", "/api/attachment/upload", token=owner, data=form)
    attachment = upload["data"]["id"]
    sent = await call(
        client, "GET", "/api/admin/webhooks/deliveries", token=admin, params={"webhook_id": webhook}
    )
    delivery = sent["data"][0]["id"]
    made = await call(
        client, "POST", "/api/admin/api-keys", token=admin, json={"name": "ci", "role": "staff"}
    )
    api_key = made["data"]["id"]
    tokens = {
        "anonymous": None,
        "expired": expired,
        "revoked": revoked,
        "other customer": other,
        "staff": staff,
        "admin": admin,
        "owner": owner,
    }
    self_ids = {}
    for caller in ("staff", "admin"):
        me = await call(client, "GET", "/api/user/detail", token=tokens[caller])
        self_ids[caller] = me["data"]["id"]

    async def send(caller, shift=0):
        """The caller's example request, its order and upload ids `shift` past the real
        ones."""
        token = tokens[caller]
        mine = caller if caller in ("staff", "admin") else "owner"
        payload = example(
            method,
            path,
            order=orders[mine]["id"] + shift,
            webhook=webhook,
            delivery=delivery,
            attachment=attachment + shift,
            reply=replies[mine],
            user=target_id,
            assignee=self_ids.get(caller, self_ids["admin"]),
            purchase=purchases[mine] if not shift else "9" * 18,
            api_key=api_key,
        )
        if method == "GET":
            return await call(client, method, path, token=token, params=payload)
        if path == "/api/attachment/upload":
            form = aiohttp.FormData()
            form.add_field("file", payload["file"].encode(), filename="brief.pdf")
            return await call(client, method, path, token=token, data=form)
        return await call(client, method, path, token=token, json=payload)

    for caller in CALLERS:  # the caller that may change the order comes last
        body = await send(caller)
        code, msg = expected(method, path, access, caller)
        assert body["code"] == code, (caller, body)
        if msg is not None:
            assert body == {"code": code, "msg": msg}
            # Indistinguishable from an order (or upload) that does not exist.
            assert await send(caller, 1000) == body


async def test_a_route_missing_from_the_access_table_is_refused(config, server_log, aiohttp_client):
    """Access is granted by the table, never assumed: a route added without an entry
    answers 1002 to everyone, the merchant included, and its handler never runs."""
    ran = []

    async def unlisted(request: web.Request) -> web.Response:
        ran.append(request.path)
        return web.json_response({"code": 0, "msg": "ok"})

    app = create_app(config)
    app.router.add_post("/api/unlisted", unlisted)
    app.router.add_get("/unlisted", unlisted)
    client = await aiohttp_client(app, cookie_jar=aiohttp.DummyCookieJar())
    customer, _ = await register(client)
    admin = await make_admin(client)
    for token in (None, customer, admin):
        body = await call(client, "POST", "/api/unlisted", token=token, json={})
        assert body == {"code": 1002, "msg": "permission denied"}
    assert (await client.get("/unlisted")).status == 403
    assert ran == []
    # Route and method still come first.
    wrong_method = await call(client, "GET", "/api/unlisted")
    assert wrong_method == {"code": -1, "msg": "method not allowed"}
