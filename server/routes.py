"""Every method and path, with who may call it, on one screen."""

from aiohttp import web

from .access import Access
from .handlers import (
    admin,
    api_keys,
    attachments,
    auth,
    desk,
    events,
    messages,
    ops,
    orders,
    personal,
    purchases,
    recovery,
    webhooks,
)
from .keys import ROUTE_ACCESS
from .middlewares import expect_continue

PUBLIC, CUSTOMER, STAFF, ADMIN = Access.PUBLIC, Access.CUSTOMER, Access.STAFF, Access.ADMIN

ROUTES = [
    ("POST", "/api/register", auth.register, PUBLIC),
    ("POST", "/api/login", auth.login, PUBLIC),
    ("POST", "/api/logout", auth.logout, PUBLIC),
    ("GET", "/api/user/detail", auth.user_detail, CUSTOMER),
    ("POST", "/api/user/password", auth.change_password, CUSTOMER),
    ("POST", "/api/user/password/forgot", recovery.forgot, PUBLIC),
    ("POST", "/api/user/password/reset", recovery.reset, PUBLIC),
    ("GET", "/api/user/export", personal.export, CUSTOMER),
    ("POST", "/api/user/delete", personal.delete, CUSTOMER),
    # customer: only the caller's own orders
    ("POST", "/api/communication/order/create", orders.create, CUSTOMER),
    ("GET", "/api/communication/orders", orders.list_orders, CUSTOMER),
    ("GET", "/api/communication/order/detail", orders.detail, CUSTOMER),
    ("POST", "/api/communication/order/update", orders.update, CUSTOMER),
    ("POST", "/api/communication/order/accept", orders.accept, CUSTOMER),
    ("POST", "/api/communication/order/reject", orders.reject, CUSTOMER),
    ("POST", "/api/communication/order/cancel", orders.cancel, CUSTOMER),
    ("GET", "/api/communication/messages", messages.list_messages, CUSTOMER),
    ("POST", "/api/communication/message/send", messages.send, CUSTOMER),
    ("POST", "/api/communication/order/read", orders.mark_read, CUSTOMER),
    ("GET", "/api/communication/fields", orders.list_fields, PUBLIC),
    # customer: purchase orders (AnqiCMS's shop orders), only the caller's own
    ("GET", "/api/orders", purchases.list_purchase_orders, CUSTOMER),
    ("GET", "/api/order/detail", purchases.detail, CUSTOMER),
    ("POST", "/api/order/payment", purchases.payment, CUSTOMER),
    ("POST", "/api/order/cancel", purchases.cancel, CUSTOMER),
    ("POST", "/api/order/finish", purchases.finish, CUSTOMER),
    ("POST", "/api/order/refund", purchases.request_refund, CUSTOMER),
    # merchant: every order, for staff and admins; the field definitions and user
    # changes for admins only
    ("GET", "/api/admin/communication/orders", orders.list_orders, STAFF),
    ("GET", "/api/admin/communication/order/detail", orders.detail, STAFF),
    ("GET", "/api/admin/communication/messages", messages.list_messages, STAFF),
    ("POST", "/api/admin/communication/order/quote", admin.quote, STAFF),
    ("POST", "/api/admin/communication/order/status", admin.set_status, STAFF),
    ("POST", "/api/admin/communication/order/images", admin.set_images, STAFF),
    ("POST", "/api/admin/communication/order/assign", admin.assign, STAFF),
    ("POST", "/api/admin/communication/message/send", messages.send, STAFF),
    ("POST", "/api/admin/communication/order/read", orders.mark_read, STAFF),
    ("POST", "/api/admin/communication/order/note", messages.add_note, STAFF),
    ("GET", "/api/admin/communication/fields", orders.list_fields, STAFF),
    ("POST", "/api/admin/communication/fields", admin.replace_fields, ADMIN),
    ("GET", "/api/admin/replies", desk.list_replies, STAFF),
    ("POST", "/api/admin/replies", desk.create_reply, STAFF),
    ("POST", "/api/admin/replies/update", desk.update_reply, STAFF),
    ("POST", "/api/admin/replies/delete", desk.delete_reply, STAFF),
    ("GET", "/api/admin/users", desk.list_users, STAFF),
    ("POST", "/api/admin/users/update", desk.update_user, ADMIN),
    ("POST", "/api/admin/users/password-reset", recovery.admin_reset_link, ADMIN),
    # merchant: every purchase order
    ("GET", "/api/admin/orders", purchases.list_purchase_orders, STAFF),
    ("GET", "/api/admin/order/detail", purchases.detail, STAFF),
    ("POST", "/api/admin/order/paid", purchases.mark_paid, STAFF),
    ("POST", "/api/admin/order/deliver", purchases.deliver, STAFF),
    ("POST", "/api/admin/order/refund", purchases.decide_refund, STAFF),
    ("POST", "/api/admin/order/close", purchases.close, STAFF),
    ("GET", "/api/events", events.stream, CUSTOMER),  # text/event-stream
    ("GET", "/api/openapi.json", ops.openapi_json, PUBLIC),
    # attachments: upload and delete with a session; files to anyone with the URL
    ("POST", "/api/attachment/upload", attachments.upload, CUSTOMER),
    ("POST", "/api/attachment/delete", attachments.delete, CUSTOMER),
    ("GET", "/uploads/{name}", attachments.serve_file, PUBLIC),
    ("GET", "/uploads/thumb/{name}", attachments.serve_thumb, PUBLIC),
    # webhooks and mail
    ("GET", "/api/admin/webhooks", webhooks.list_webhooks, ADMIN),
    ("POST", "/api/admin/webhooks", webhooks.create, ADMIN),
    ("POST", "/api/admin/webhooks/update", webhooks.update, ADMIN),
    ("POST", "/api/admin/webhooks/delete", webhooks.delete, ADMIN),
    ("POST", "/api/admin/webhooks/rotate", webhooks.rotate, ADMIN),
    ("GET", "/api/admin/webhooks/deliveries", webhooks.deliveries, ADMIN),
    ("POST", "/api/admin/webhooks/redeliver", webhooks.redeliver, ADMIN),
    ("POST", "/api/user/notifications", webhooks.set_notifications, CUSTOMER),
    # API keys for other systems (admins only)
    ("GET", "/api/admin/api-keys", api_keys.list_keys, ADMIN),
    ("POST", "/api/admin/api-keys", api_keys.create, ADMIN),
    ("POST", "/api/admin/api-keys/delete", api_keys.delete, ADMIN),
    # outside the envelope
    ("GET", "/", ops.console, PUBLIC),
    ("GET", "/static/vocabulary.js", ops.vocabulary_module, PUBLIC),  # before /static/
    ("GET", "/docs", ops.docs_page, PUBLIC),
    ("GET", "/docs/openapi.json", ops.docs_openapi_json, PUBLIC),
    ("GET", "/docs/init.js", ops.docs_script, PUBLIC),
    ("GET", "/docs/static/{name}", ops.docs_asset, PUBLIC),
    ("GET", "/healthz", ops.healthz, PUBLIC),
    ("GET", "/metrics", ops.metrics, PUBLIC),  # loopback peers or the bearer token only
]


def setup_routes(app: web.Application) -> None:
    """Every route gets its access level here; one missing from the table is refused."""
    access: dict[web.AbstractRoute, Access] = {}
    for method, path, handler, level in ROUTES:
        # A handler may return Ok, which the envelope middleware answers.
        route = app.router.add_route(
            method,
            path,
            handler,  # type: ignore[arg-type]
            expect_handler=expect_continue,
        )
        access[route] = level
    for route in app.router.add_static("/static/", ops.WEB, expect_handler=expect_continue):
        access[route] = PUBLIC
    app[ROUTE_ACCESS] = access
