"""Image lists hold only links a browser may safely follow:
absolute http(s) URLs with a host, or paths of this server's uploads."""

import pytest

from tests.conftest import (
    admin_detail,
    assert_fail,
    assert_ok,
    call,
    detail,
    make_admin,
    make_order,
    register,
    update,
)

IMAGES = "/api/admin/communication/order/images"
# The payload of a stored-XSS attack, as a customer would store it.
ATTACK = (
    "javascript:fetch('/api/admin/communication/order/quote',{method:'POST',"
    "headers:{'Content-Type':'application/json'},"
    "body:JSON.stringify({id:1,quote_price:'0.01',quote_content:'ok'})})"
)
REFUSED = [
    ATTACK,
    "JavaScript:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "\x01javascript:alert(1)",
    "javascript://x.test/%0aalert(1)",
    "data:image/png;base64,iVBORw0KGgo=",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "ftp://x.test/a.png",
    "mailto:a@x.test",
    "blob:https://x.test/0b1c",
    "about:blank",
    "//evil.test/x.png",
    "\\\\evil.test\\x.png",
    "a.png",
    "images/a.png",
    "/a.png",
    "../uploads/a.png",
    "uploads/a.png",
    "/uploads/",
    "/uploads/a",
    "/uploads/.png",
    "/uploads/a.png/",
    "/uploads/../a.png",
    "/uploads/a..png",
    "/uploads/a/b.png",
    "/uploads/thumb/../a.png",
    "/uploads/a.png?x=1",
    "/uploads/a%2e.png",
    "/UPLOADS/a.png",
    "http:/x.test/a.png",
    "http:x.test/a.png",
    "http://",
    "https:///evil.test/a.png",
    "https://:443/a.png",
    "https://x.test:99999/a.png",
    "https://x.test:port/a.png",
    "https://[not-an-address]/a.png",
    "https:\\\\evil.test\\a.png",
    "https://x.test\\@evil.test/",
    "https://x.test/a b.png",
    "https://\u200bx.test/a.png",
    "https://x.test/\u202egnp.exe",
    "https://x.test/\u2028a.png",
    'https://"><script>alert(1)</script>',
    'https://x.test/a.png"onerror="alert(1)',
    "https://x.test/<img src=x onerror=alert(1)>",
    "https://x%2etest/a.png",
]
ACCEPTED = [
    "https://x.test/a.png",
    "http://x.test",
    "HTTPS://X.TEST/A.PNG",
    "https://x.test:8443/a.png?size=2&v=3#top",
    "https://[2001:db8::1]/a.png",
    "http://192.0.2.7/a.png",
    "https://例子.测试/图.png",
    "https://x.test/a%20b.png",
    "/uploads/3q2-7wEjXDS0_ZWVkfJ0Rg.png",
    "/uploads/thumb/3q2-7wEjXDS0_ZWVkfJ0Rg.jpg",
]


def refusal(field: str) -> str:
    return f"each of {field} must be an http:// or https:// URL with a host, or an /uploads/ path"


@pytest.mark.parametrize("url", REFUSED)
async def test_an_unsafe_image_url_is_refused_everywhere_and_changes_nothing(client, url):
    token, _ = await register(client)
    admin = await make_admin(client)
    images = ["https://x.test/fine.png", url]

    body = await call(
        client,
        "POST",
        "/api/communication/order/create",
        token=token,
        json={
            "archive_id": 1, "title": "t", "content": "c", "phone": "12345", "images": images,
        },
    )  # fmt: skip
    assert_fail(body, msg=refusal("images"))
    listed = await call(client, "GET", "/api/communication/orders", token=token)
    assert listed["total"] == 0

    order = await make_order(client, token)
    before = await admin_detail(client, admin, order["id"])
    assert_fail(await update(client, token, id=order["id"], images=images), msg=refusal("images"))
    for field in ("sketch_images", "finished_images"):
        body = await call(
            client, "POST", IMAGES, token=admin, json={"id": order["id"], field: images}
        )
        assert_fail(body, msg=refusal(field))
    assert await admin_detail(client, admin, order["id"]) == before


async def test_safe_image_urls_are_stored_trimmed_in_every_list(client):
    token, _ = await register(client)
    admin = await make_admin(client)
    padded = [f"  {url}\t" for url in ACCEPTED]

    order = await make_order(client, token, images=padded)
    assert order["images"] == ACCEPTED
    changed = assert_ok(await update(client, token, id=order["id"], images=ACCEPTED[::-1]))
    assert changed["images"] == ACCEPTED[::-1]
    body = await call(
        client,
        "POST",
        IMAGES,
        token=admin,
        json={"id": order["id"], "sketch_images": padded, "finished_images": ACCEPTED[:2]},
    )
    set_by_merchant = assert_ok(body)
    assert set_by_merchant["sketch_images"] == ACCEPTED
    assert set_by_merchant["finished_images"] == ACCEPTED[:2]
    shown = await detail(client, token, order["id"])
    assert shown["images"] == ACCEPTED[::-1] and shown["sketch_images"] == ACCEPTED


async def test_the_refusal_speaks_chinese_too(client):
    token, _ = await register(client)
    body = await call(
        client,
        "POST",
        "/api/communication/order/create",
        token=token,
        json={"archive_id": 1, "title": "t", "content": "c", "phone": "12345", "images": [ATTACK]},
        headers={"Accept-Language": "zh-CN"},
    )
    assert_fail(
        body, msg="images 的每一项必须是带主机名的 http:// 或 https:// 网址，或 /uploads/ 路径"
    )
