"""AnqiCMS clients, replayed: each request is the example of the AnqiCMS documentation
for this API family (api-user 3499 login, anqiapi-other 3512 register, api-order
10528-10534), as the documentation shows it, with only the ids adapted; each answer is
checked against the response fields that page documents.

Where orderdesk deliberately differs, the test says so and README.md lists it under
"Differences from AnqiCMS": the sender of a message is the session's user (sender_id
and sender_name are ignored), passwords need 8 characters, the accept body needs the
order's `id`, and fields of AnqiCMS's wider user model (real_name, balance, ...) are
not kept.
"""

import pytest

from tests.conftest import assert_fail, assert_ok, call, make_admin, quote

# The documented fields (field names as the pages' tables spell them).
USER_FIELDS = {"id", "user_name", "email", "phone", "created_time", "token"}
# 3512 documents these too; orderdesk keeps no such data (a deliberate difference).
USER_FIELDS_NOT_KEPT = {
    "parent_id", "real_name", "avatar_url", "group_id", "is_retailer", "balance",
    "total_reward", "invite_code", "last_login", "expire_time", "updated_time", "status",
}  # fmt: skip
ORDER_FIELDS = {
    "id", "order_id", "user_id", "created_time", "archive_id", "phone", "images",
    "sketch_images", "finished_images", "title", "content", "event_date", "status",
    "admin_id", "quote_price", "quote_content", "order_extra", "thumb",
}  # fmt: skip
DETAIL_FIELDS = ORDER_FIELDS | {"order_fields", "user", "messages"}
MESSAGE_FIELDS = {
    "id", "comm_order_id", "sender_id", "sender_type", "sender_name", "message_type", "content",
}  # fmt: skip

ZH = {"Accept-Language": "zh-CN"}
DOC_PASSWORD = "123456"  # 3512's example: too short for orderdesk
PASSWORD = "anqicms-123456"


async def register_as_documented(client) -> dict:
    """3512's request data example, with a password of 8 or more characters."""
    example = {
        "user_name": "admin",
        "password": DOC_PASSWORD,
        "real_name": "Anqi CMS",
        "email": "admin@anqicms.com",
    }
    refused = await call(client, "POST", "/api/register", json=example)
    assert_fail(refused, msg="password must be 8-128 characters")  # difference: 8 characters
    answer = await call(client, "POST", "/api/register", json={**example, "password": PASSWORD})
    return assert_ok(answer)


async def test_register_3512(client):
    user = await register_as_documented(client)
    assert set(user) >= USER_FIELDS
    assert not USER_FIELDS_NOT_KEPT & set(user)
    assert user["user_name"] == "admin" and user["email"] == "admin@anqicms.com"
    assert isinstance(user["id"], int) and user["token"]


@pytest.mark.parametrize(
    "login",
    [
        {"platform": "website", "user_name": "admin"},
        {"platform": "website", "email": "admin@anqicms.com"},
        {"platform": "website", "phone": "13888888888", "remember": True},
    ],
)
async def test_login_3499(client, login):
    await call(
        client,
        "POST",
        "/api/register",
        json={"user_name": "admin", "password": PASSWORD, "email": "admin@anqicms.com",
              "phone": "13888888888"},
    )  # fmt: skip
    answer = await call(
        client, "POST", "/api/login", json={**login, "password": PASSWORD}, headers=ZH
    )
    user = assert_ok(answer)
    assert answer["msg"] == "登录成功"  # the text of AnqiCMS's guide (api-guide 10560)
    assert set(user) >= USER_FIELDS and user["user_name"] == "admin"


async def order_as_documented(client, token: str) -> dict:
    """10529's request example (its image URL adapted to a whole one)."""
    example = {
        "archive_id": 188,
        "title": "定制网站主题",
        "content": "需要定制一个响应式的外贸网站主题,包含多语言功能",
        "phone": "13888888888",
        "images": ["https://en.anqicms.com/uploads/202311/example.webp"],
    }
    answer = await call(
        client, "POST", "/api/communication/order/create", token=token, json=example, headers=ZH
    )
    assert answer["code"] == 0 and answer["msg"] == "订单创建成功"
    return answer["data"]


async def test_create_10529_list_10528_detail_10530(client):
    token = (await register_as_documented(client))["token"]
    created = await order_as_documented(client, token)
    listed = await call(
        client,
        "GET",
        "/api/communication/orders",
        token=token,
        params={"current": 1, "page_size": 10},
    )
    (item,) = assert_ok(listed)
    assert set(item) >= ORDER_FIELDS and item["id"] == created["id"]
    assert item["archive_id"] == 188 and item["status"] == 0
    shown = await call(
        client, "GET", "/api/communication/order/detail", token=token, params={"id": created["id"]}
    )
    detail = assert_ok(shown)
    assert set(detail) >= DETAIL_FIELDS
    assert detail["title"] == "定制网站主题" and detail["phone"] == "13888888888"
    assert detail["images"] == ["https://en.anqicms.com/uploads/202311/example.webp"]


async def test_update_10531(client):
    token = (await register_as_documented(client))["token"]
    order = await order_as_documented(client, token)
    example = {
        "id": order["id"],
        "title": "更新后的定制网站主题",
        "content": "需要定制一个响应式的外贸网站主题,包含多语言功能和支付接口",
        "order_extra": {
            "delivery_time": "2023-12-31",
            "requirement": "需要支持中英文切换和在线支付",
        },
    }
    answer = await call(
        client, "POST", "/api/communication/order/update", token=token, json=example, headers=ZH
    )
    updated = assert_ok(answer)
    assert answer["msg"] == "订单更新成功"
    assert updated["title"] == example["title"] and updated["order_extra"] == example["order_extra"]


async def test_accept_10532_needs_the_order_id(client):
    """10532 documents the shop order's body (goods_id, remark, ...) and no order id;
    orderdesk needs `id` (a deliberate difference) and ignores the shop fields."""
    token = (await register_as_documented(client))["token"]
    order = await order_as_documented(client, token)
    await quote(client, await make_admin(client), order["id"])
    example = {"remark": "请尽快安排", "type": "goods"}
    path = "/api/communication/order/accept"
    assert_fail(await call(client, "POST", path, token=token, json=example), msg="id is required")
    accepted = assert_ok(
        await call(client, "POST", path, token=token, json={**example, "id": order["id"]})
    )
    assert set(accepted) >= ORDER_FIELDS and accepted["status"] == 3
    assert accepted["order_id"] > 0


async def test_send_10534_and_thread_10533(client):
    """10534's two examples; the sender is the session's user whatever sender_id and
    sender_name say (a deliberate difference)."""
    registered = await register_as_documented(client)
    token = registered["token"]
    order = await order_as_documented(client, token)
    examples = [
        {"message_type": "text", "content": "您好,我想了解这个定制方案的详细信息"},
        {"message_type": "image", "content": "https://www.anqicms.com/uploads/image.jpg"},
    ]
    for example in examples:
        body = {"comm_order_id": order["id"], "sender_id": 1000, "sender_name": "testuser"}
        answer = await call(
            client,
            "POST",
            "/api/communication/message/send",
            token=token,
            json={**body, **example},
        )
        assert answer["code"] == 0
    thread = await call(
        client,
        "GET",
        "/api/communication/messages",
        token=token,
        params={"comm_order_id": order["id"]},
    )
    messages = assert_ok(thread)
    assert [m["content"] for m in messages] == [e["content"] for e in examples]
    for message in messages:
        assert set(message) >= MESSAGE_FIELDS
        assert message["sender_id"] == registered["id"] and message["sender_name"] == "admin"
        assert message["sender_type"] == "user"
    assert thread["total"] == 2
