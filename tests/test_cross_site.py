"""Forms across sites: a POST authenticated by the `token` cookie alone, whose Origin
header names neither this server (the request's scheme and Host, or --public-url) nor
a --cors-origin, answers 1002 and changes nothing; logout and the upload included.
The Token header, or no Origin header at all, is not affected. Both engines."""

import dataclasses
import io

import aiohttp
import pytest
from orderdesk.app import create_app
from PIL import Image

from tests.conftest import (
    ORDER,
    assert_fail,
    assert_ok,
    call,
    make_admin,
    make_order,
    query_rows,
    register,
)

EVIL = "https://evil.example"
SIBLING = "https://blog.desk.example"  # a sibling of --public-url: the same site, another origin
PUBLIC_URL = "https://desk.example/"
SHOP = "https://shop.example"
DENIED = {"code": 1002, "msg": "permission denied"}
CREATE = "/api/communication/order/create"
UPLOAD = "/api/attachment/upload"


@pytest.fixture
async def site(config, server_log, aiohttp_client):
    """The app served with a public URL and one CORS origin; no cookie jar: each request
    carries only the cookie a test gives it."""
    settings = dataclasses.replace(config, public_url=PUBLIC_URL, cors_origins=(SHOP,))
    return await aiohttp_client(create_app(settings), cookie_jar=aiohttp.DummyCookieJar())


def own_origin(client) -> str:
    return f"http://{client.server.host}:{client.server.port}"


def cookie(token: str, origin: str | None = None) -> dict[str, str]:
    headers = {"Cookie": f"token={token}"}
    if origin is not None:
        headers["Origin"] = origin
    return headers


def png_form() -> aiohttp.FormData:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(out, "PNG")
    form = aiohttp.FormData(quote_fields=False, default_to_multipart=True)
    form.add_field("file", io.BytesIO(out.getvalue()), filename="a.png")
    return form


async def counts(db: str) -> tuple:
    tables = ("comm_orders", "attachments", "sessions", "messages")
    return tuple([(await query_rows(db, f"SELECT COUNT(*) FROM {t}"))[0][0] for t in tables])


@pytest.mark.parametrize("origin", [EVIL, SIBLING, "null", "https://desk.example:8443", "x"])
async def test_a_cookie_post_from_another_site_changes_nothing(site, db, origin):
    token, _ = await register(site, "alice")
    order = await make_order(site, token)
    before = await counts(db)
    attempts = [
        (CREATE, {"json": ORDER}),
        ("/api/communication/order/update", {"json": {"id": order["id"], "title": "changed"}}),
        ("/api/communication/order/cancel", {"json": {"id": order["id"]}}),
        ("/api/user/password", {"json": {"old_password": "x", "password": "y" * 10}}),
        (UPLOAD, {"data": png_form()}),
        ("/api/logout", {"json": {"all": True}}),
        ("/api/logout", {}),  # an empty body: what a form without fields posts
    ]
    for path, body in attempts:
        response = await site.post(path, headers=cookie(token, origin), **body)
        assert await response.json() == DENIED, path
        assert "Set-Cookie" not in response.headers  # the cookie is not cleared either
    assert await counts(db) == before
    shown = await call(site, "GET", "/api/communication/order/detail", token=token,
                       params={"id": order["id"]})  # fmt: skip
    assert (assert_ok(shown)["title"], shown["data"]["status"]) == (ORDER["title"], 0)


async def test_the_merchants_cookie_from_another_site_changes_nothing(site, db):
    customer, _ = await register(site, "alice")
    order = await make_order(site, customer)
    admin = await make_admin(site)
    offer = {"id": order["id"], "quote_price": "100", "quote_content": "q"}
    path = "/api/admin/communication/order/quote"
    response = await site.post(path, json=offer, headers=cookie(admin, EVIL))
    assert await response.json() == DENIED
    assert await query_rows(db, "SELECT status FROM comm_orders") == [(0,)]


@pytest.mark.parametrize(
    "origin",
    [
        None,  # not a browser's form
        "own",  # the console itself
        "HTTP://127.0.0.1:{port}",  # the same origin, written in capitals
        PUBLIC_URL.rstrip("/"),
        "https://DESK.example:443",  # --public-url's origin with its default port
        SHOP,
    ],
)
async def test_a_cookie_post_from_this_server_or_an_allowed_origin_works(site, origin):
    token, _ = await register(site, "alice")
    if origin == "own":
        origin = own_origin(site)
    elif origin is not None:
        origin = origin.format(port=site.server.port)
    created = await call(site, "POST", CREATE, json=ORDER, headers=cookie(token, origin))
    assert_ok(created)
    uploaded = await call(site, "POST", UPLOAD, data=png_form(), headers=cookie(token, origin))
    assert_ok(uploaded)
    assert_ok(await call(site, "POST", "/api/logout", headers=cookie(token, origin)))
    assert_fail(await call(site, "GET", "/api/user/detail", token=token), 1001)


async def test_the_token_header_is_not_affected(site):
    token, _ = await register(site, "alice")
    headers = {"Origin": EVIL, "Cookie": f"token={token}"}
    assert_ok(await call(site, "POST", CREATE, token=token, json=ORDER, headers=headers))
    assert_ok(await call(site, "POST", UPLOAD, token=token, data=png_form(), headers=headers))
    assert_ok(await call(site, "POST", "/api/logout", token=token, headers={"Origin": EVIL}))
    assert_fail(await call(site, "GET", "/api/user/detail", token=token), 1001)


async def test_reading_with_the_cookie_and_posting_without_it_are_not_affected(site):
    token, _ = await register(site, "alice")
    shown = await call(site, "GET", "/api/user/detail", headers=cookie(token, EVIL))
    assert assert_ok(shown)["user_name"] == "alice"
    login = {"user_name": "alice", "password": "correct horse battery"}
    assert_ok(await call(site, "POST", "/api/login", json=login, headers={"Origin": EVIL}))
    assert_ok(await call(site, "POST", "/api/logout", headers={"Origin": EVIL}))


async def test_the_checks_keep_their_order(site):
    """Route and method (-1), session (1001), role (1002), then input (-1)."""
    token, _ = await register(site, "alice")
    evil = cookie(token, EVIL)
    missing = await call(site, "POST", "/api/nowhere", headers=evil)
    assert missing == {"code": -1, "msg": "not found"}
    wrong_method = await call(site, "POST", "/api/user/detail", headers=evil)
    assert wrong_method == {"code": -1, "msg": "method not allowed"}
    stale = await call(site, "POST", CREATE, json=ORDER, headers=cookie("no-such-token", EVIL))
    assert stale == {"code": 1001, "msg": "not logged in"}
    admin_only = await call(site, "POST", "/api/admin/communication/order/quote", headers=evil)
    assert admin_only == DENIED
    bad_input = await call(site, "POST", CREATE, data=b"{", headers=evil)
    assert bad_input == DENIED  # refused before its input is read
