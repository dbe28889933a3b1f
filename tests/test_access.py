"""Who may do what: every protected endpoint × every kind of caller."""

import aiohttp
import pytest
from aiohttp import web
from orderdesk.access import Access
from orderdesk.app import create_app
from orderdesk.routes import ROUTES

from tests.conftest import ORDER, PASSWORD, call, make_admin, make_order, quote, register

PUBLIC_HOOK = "http://93.184.216.34/hook"  # a public literal address: nothing to resolve
CALLERS = ["anonymous", "expired", "revoked", "other customer", "admin", "owner"]

# A request each protected route accepts from the right caller; "{id}" is the order.
REQUESTS = {
    "/api/user/detail": {},
    "/api/user/password": {"old_password": PASSWORD, "password": PASSWORD},
    "/api/communication/order/create": ORDER,
    "/api/communication/orders": {},
    "/api/communication/order/detail": {"id": "{id}"},
    "/api/communication/order/update": {"id": "{id}", "title": "changed"},
    "/api/communication/order/accept": {"id": "{id}"},
    "/api/communication/order/reject": {"id": "{id}"},
    "/api/communication/order/cancel": {"id": "{id}"},
    "/api/communication/messages": {"comm_order_id": "{id}"},
    "/api/communication/message/send": {
        "comm_order_id": "{id}", "message_type": "text", "content": "hi",
    },
    "/api/admin/communication/orders": {},
    "/api/admin/communication/order/detail": {"id": "{id}"},
    "/api/admin/communication/messages": {"comm_order_id": "{id}"},
    "/api/admin/communication/order/quote": {
        "id": "{id}", "quote_price": "10", "quote_content": "ok",
    },
    "/api/admin/communication/order/status": {"id": "{id}", "status": 1},
    "/api/admin/communication/order/images": {"id": "{id}", "sketch_images": ["https://x.test/s.png"]},
    "/api/admin/communication/message/send": {
        "comm_order_id": "{id}", "message_type": "text", "content": "hi",
    },
    "/api/admin/communication/fields": {"fields": []},
    "/api/attachment/upload": {"file": b"%PDF-1.4 a small document"},  # sent as multipart
    "/api/attachment/delete": {"id": "{attachment}"},  # an upload of the owner's
    # Spec 9: "{webhook}" and "{delivery}" are a webhook and one of its deliveries.
    "/api/user/notifications": {"email": False},
    "/api/admin/webhooks": {"url": PUBLIC_HOOK},
    "/api/admin/webhooks/update": {"id": "{webhook}", "enabled": False},
    "/api/admin/webhooks/delete": {"id": "{webhook}"},
    "/api/admin/webhooks/rotate": {"id": "{webhook}"},
    "/api/admin/webhooks/deliveries": {"webhook_id": "{webhook}"},
    "/api/admin/webhooks/redeliver": {"delivery_id": "{delivery}"},
}  # fmt: skip

# The event stream answers a stream, not an envelope, to a caller it admits: its access
# (every kind of caller, and whose events each sees) is tested in tests/test_events.py.
STREAM = "/api/events"
PROTECTED = [
    (m, p, access) for m, p, _, access in ROUTES if access is not Access.PUBLIC and p != STREAM
]


def expected(path: str, access: Access, caller: str) -> tuple[int, str | None]:
    if caller in ("anonymous", "expired", "revoked"):
        return 1001, None
    if access is Access.ADMIN:
        return (0, None) if caller == "admin" else (1002, None)
    order_scoped = "{id}" in str(REQUESTS[path])
    if order_scoped and caller != "owner":
        # Customer routes see only the caller's own orders, an admin's too.
        return -1, "order not found"
    if "{attachment}" in str(REQUESTS[path]) and caller != "owner":
        return -1, "attachment not found"  # only the uploader deletes an upload
    return 0, None


def test_every_protected_route_is_in_the_matrix():
    assert {p for _, p, _ in PROTECTED} == set(REQUESTS)


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
    order = await make_order(client, owner)
    await quote(client, admin, order["id"])
    form = aiohttp.FormData()
    form.add_field("file", b"%PDF-1.4 the owner's", filename="owner.pdf")
    upload = await call(client, "POST", "/api/attachment/upload", token=owner, data=form)
    attachment = upload["data"]["id"]
    sent = await call(
        client, "GET", "/api/admin/webhooks/deliveries", token=admin, params={"webhook_id": webhook}
    )
    ids = {"{webhook}": webhook, "{delivery}": sent["data"][0]["id"]}
    tokens = {
        "anonymous": None,
        "expired": expired,
        "revoked": revoked,
        "other customer": other,
        "admin": admin,
        "owner": owner,
    }

    def request_for(shift: int) -> dict:
        """The request, its order and upload ids `shift` past the real ones."""
        values = {**ids, "{id}": order["id"] + shift, "{attachment}": attachment + shift}
        return {k: values.get(v, v) if isinstance(v, str) else v for k, v in REQUESTS[path].items()}

    async def send(token, shift=0):
        payload = request_for(shift)
        if method == "GET":
            return await call(client, method, path, token=token, params=payload)
        if path == "/api/attachment/upload":
            form = aiohttp.FormData()
            form.add_field("file", payload["file"], filename="brief.pdf")
            return await call(client, method, path, token=token, data=form)
        return await call(client, method, path, token=token, json=payload)

    for caller in CALLERS:  # the caller that may change the order comes last
        body = await send(tokens[caller])
        code, msg = expected(path, access, caller)
        assert body["code"] == code, (caller, body)
        if msg is not None:
            assert body == {"code": code, "msg": msg}
            # Indistinguishable from an order (or upload) that does not exist.
            assert await send(tokens[caller], 1000) == body


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
