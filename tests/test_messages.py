"""The message thread."""

import pytest

from tests.conftest import assert_fail, assert_ok, call, detail, make_order, register

SEND = "/api/communication/message/send"
THREAD = "/api/communication/messages"


async def send(client, token, order_id, content="hello", kind="text", **extra):
    body = {"comm_order_id": order_id, "message_type": kind, "content": content, **extra}
    return await call(client, "POST", SEND, token=token, json=body)


async def test_the_sender_is_the_session_user_whatever_the_body_says(client):
    token, user = await register(client)
    order = await make_order(client, token)
    body = await send(client, token, str(order["id"]), "  hi  ", sender_id=999, sender_name="admin")
    message = assert_ok(body)
    assert message == {
        "id": message["id"],
        "comm_order_id": order["id"],
        "sender_id": user["id"],
        "sender_type": "user",
        "sender_name": "alice",
        "message_type": "text",
        "content": "hi",
        "created_time": message["created_time"],
    }
    after = await detail(client, token, order["id"])
    assert after["status"] == 0 and after["version"] == 1  # a customer message moves nothing


async def test_thread_is_oldest_first_and_paginated(client):
    token, _ = await register(client)
    order = await make_order(client, token)
    for i in range(7):
        assert_ok(await send(client, token, order["id"], f"m{i}"))
    page = await call(
        client,
        "GET",
        THREAD,
        token=token,
        params={"comm_order_id": order["id"], "current": 2, "page_size": 3},
    )
    assert page["total"] == 7
    assert [m["content"] for m in page["data"]] == ["m3", "m4", "m5"]


@pytest.mark.parametrize(
    "override, message",
    [
        ({"comm_order_id": None}, "comm_order_id is required"),
        ({"comm_order_id": "one"}, "comm_order_id must be a positive integer"),
        ({"message_type": None}, "message_type is required"),
        (
            {"message_type": "fax"},
            "message_type must be one of audio, contact, file, image, location, quote, "
            "sticker, text, unknown, video",
        ),
        ({"content": ""}, "content must not be empty"),
        ({"content": "x" * 10001}, "content must be 1-10000 characters"),
        ({"content": ["x"]}, "content must be a string"),
    ],
)
async def test_bad_messages_are_refused_and_stored_nowhere(client, override, message):
    token, _ = await register(client)
    order = await make_order(client, token)
    body = {"comm_order_id": order["id"], "message_type": "text", "content": "hi", **override}
    assert_fail(await call(client, "POST", SEND, token=token, json=body), msg=message)
    assert (await detail(client, token, order["id"]))["messages_total"] == 0


async def test_every_message_type_is_accepted(client):
    token, _ = await register(client)
    order = await make_order(client, token)
    kinds = [
        "text",
        "image",
        "quote",
        "video",
        "file",
        "audio",
        "location",
        "contact",
        "sticker",
        "unknown",
    ]
    for kind in kinds:
        assert assert_ok(await send(client, token, order["id"], kind=kind))["message_type"] == kind


async def test_messages_are_closed_on_a_cancelled_order(client):
    token, _ = await register(client)
    order = await make_order(client, token)
    await call(
        client, "POST", "/api/communication/order/cancel", token=token, json={"id": order["id"]}
    )
    assert_fail(
        await send(client, token, order["id"]), msg="messages are closed on a cancelled order"
    )
    assert (await detail(client, token, order["id"]))["messages_total"] == 1  # the cancel note


@pytest.mark.parametrize(
    "params, message",
    [
        ({}, "comm_order_id is required"),
        ({"comm_order_id": "0"}, "comm_order_id must be a positive integer"),
        ({"comm_order_id": "1", "current": "0"}, "current must be a positive integer"),
    ],
)
async def test_bad_thread_parameters(client, params, message):
    token, _ = await register(client)
    await make_order(client, token)
    assert_fail(await call(client, "GET", THREAD, token=token, params=params), msg=message)


async def test_thread_and_send_need_a_session(client):
    assert_fail(await call(client, "GET", THREAD, params={"comm_order_id": 1}), code=1001)
    assert_fail(
        await call(
            client, "POST", SEND, json={"comm_order_id": 1, "message_type": "text", "content": "x"}
        ),
        code=1001,
    )
