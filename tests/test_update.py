"""The seed endpoint: POST /api/communication/order/update."""

import asyncio

import pytest

from tests.conftest import (
    admin_detail,
    assert_fail,
    assert_ok,
    call,
    detail,
    make_admin,
    make_order,
    nested,
    quote,
    register,
    update,
)

# The seed's two request examples, verbatim (with the order id of a fresh database).
SEED_TITLE_AND_CONTENT = {
    "id": 1,
    "title": "更新后的定制网站主题",
    "content": "需要定制一个响应式的外贸网站主题,包含多语言功能和支付接口",
    "order_extra": {"delivery_time": "2023-12-31", "requirement": "需要支持中英文切换和在线支付"},
}
SEED_EXTRA_ONLY = {
    "id": 1,
    "order_extra": {"budget": "10000-20000", "maintenance_required": "是"},
}


async def test_seed_examples_verbatim_merge_into_the_order(client):
    token, _ = await register(client)
    order = await make_order(client, token, order_extra={"source": "web"})
    assert order["id"] == 1

    first = await update(client, token, **SEED_TITLE_AND_CONTENT)
    assert first["msg"] == "order updated"
    assert assert_ok(first)["title"] == "更新后的定制网站主题"
    second = assert_ok(await update(client, token, **SEED_EXTRA_ONLY))
    assert second["version"] == 3

    shown = await detail(client, token, 1)
    assert shown["title"] == SEED_TITLE_AND_CONTENT["title"]
    assert shown["content"] == SEED_TITLE_AND_CONTENT["content"]
    assert shown["order_extra"] == {
        "source": "web",
        "delivery_time": "2023-12-31",
        "requirement": "需要支持中英文切换和在线支付",
        "budget": "10000-20000",
        "maintenance_required": "是",
    }
    assert [m["content"] for m in shown["messages"]] == [
        "order updated: title, content, order_extra.delivery_time, order_extra.requirement",
        "order updated: order_extra.budget, order_extra.maintenance_required",
    ]
    assert all(
        (m["sender_type"], m["sender_id"], m["sender_name"], m["message_type"])
        == ("system", 0, "system", "text")
        for m in shown["messages"]
    )


async def test_order_extra_is_an_rfc7396_merge_patch(client):
    token, _ = await register(client)
    order = await make_order(
        client, token, order_extra={"keep": 1, "drop": "x", "nested": {"a": 1, "b": {"c": 2}}}
    )
    patch = {"drop": None, "nested": {"a": None, "b": {"d": 3}}, "list": [1, {"x": None}]}
    updated = assert_ok(await update(client, token, id=order["id"], order_extra=patch))
    assert updated["order_extra"] == {
        "keep": 1,
        "nested": {"b": {"c": 2, "d": 3}},
        "list": [1, {"x": None}],  # arrays are values: kept as sent
    }


async def test_create_drops_nulls_in_nested_objects_but_not_in_arrays(client):
    token, _ = await register(client)
    order = await make_order(
        client, token, order_extra={"a": None, "b": {"c": None, "d": 1}, "e": [None]}
    )
    assert order["order_extra"] == {"b": {"d": 1}, "e": [None]}


async def test_only_sent_fields_change_and_null_means_not_sent(client):
    token, _ = await register(client)
    order = await make_order(client, token, images=["https://x.test/1.png"], event_date="May")
    body = await update(
        client,
        token,
        id=order["id"],
        title=None,
        content=None,
        phone=None,
        images=None,
        event_date=None,
        order_extra=None,
        unknown_field="ignored",
    )
    unchanged = assert_ok(body)
    assert unchanged == order


async def test_every_updatable_field(client):
    token, _ = await register(client)
    order = await make_order(client, token)
    updated = assert_ok(
        await update(
            client,
            token,
            id=str(order["id"]),
            title="  New title  ",
            content="New content",
            phone="(010) 1234-5678",
            images=["https://x.test/a.png", "https://x.test/b.png"],
            event_date="",
            order_extra={"k": "v"},
        )
    )
    assert updated["title"] == "New title"  # trimmed
    assert updated["content"] == "New content"
    assert updated["phone"] == "(010) 1234-5678"
    assert updated["images"] == ["https://x.test/a.png", "https://x.test/b.png"]
    assert updated["version"] == 2
    shown = await detail(client, token, order["id"])
    assert shown["messages"][-1]["content"] == (
        "order updated: title, content, phone, images, order_extra.k"
    )


async def test_an_update_that_changes_nothing_bumps_nothing(client, clock):
    token, _ = await register(client)
    order = await make_order(client, token, order_extra={"a": 1, "n": {"x": True}})
    clock.advance(10)
    body = await update(
        client,
        token,
        id=order["id"],
        title=order["title"],
        phone=order["phone"],
        order_extra={"a": 1, "n": {"x": True}, "gone": None},
    )
    assert body["msg"] == "order updated"
    same = assert_ok(body)
    assert same["version"] == 1 and same["updated_time"] == order["updated_time"]
    assert (await detail(client, token, order["id"]))["messages_total"] == 0


async def test_true_and_one_are_different_values(client):
    token, _ = await register(client)
    order = await make_order(client, token, order_extra={"flag": 1})
    updated = assert_ok(await update(client, token, id=order["id"], order_extra={"flag": True}))
    assert updated["order_extra"] == {"flag": True}
    assert updated["version"] == 2


async def test_version_and_updated_time_move_on_change(client, clock):
    token, _ = await register(client)
    order = await make_order(client, token)
    clock.advance(60)
    updated = assert_ok(await update(client, token, id=order["id"], title="Other"))
    assert updated["version"] == 2
    assert updated["updated_time"] == order["updated_time"] + 60
    assert updated["created_time"] == order["created_time"]


async def test_optimistic_version_check(client):
    token, _ = await register(client)
    order = await make_order(client, token)
    assert_ok(await update(client, token, id=order["id"], title="v2", version=1))
    stale = await update(client, token, id=order["id"], title="v3", version=1)
    assert_fail(stale)
    assert stale["data"] == {"version": 2}
    assert (await detail(client, token, order["id"]))["title"] == "v2"
    assert_ok(await update(client, token, id=order["id"], title="v3", version="2"))


async def test_requirement_edit_sends_a_quoted_order_back_to_communication(client):
    token, _ = await register(client)
    admin = await make_admin(client)
    order = await make_order(client, token)

    await quote(client, admin, order["id"])
    kept = assert_ok(await update(client, token, id=order["id"], phone="12345", images=[]))
    assert kept["status"] == 2  # contact details are not requirements

    await quote(client, admin, order["id"])
    back = assert_ok(await update(client, token, id=order["id"], order_extra={"size": "XL"}))
    assert back["status"] == 1
    accept = await call(
        client, "POST", "/api/communication/order/accept", token=token, json={"id": order["id"]}
    )
    assert_fail(accept)

    await quote(client, admin, order["id"])
    assert assert_ok(await update(client, token, id=order["id"], title="Changed"))["status"] == 1


@pytest.mark.parametrize("final_action", ["accept", "cancel"])
async def test_final_orders_can_no_longer_be_modified(client, final_action):
    token, _ = await register(client)
    admin = await make_admin(client)
    order = await make_order(client, token)
    await quote(client, admin, order["id"])
    assert_ok(
        await call(
            client,
            "POST",
            f"/api/communication/order/{final_action}",
            token=token,
            json={"id": order["id"]},
        )
    )
    before = await detail(client, token, order["id"])
    body = await update(client, token, id=order["id"], title="Too late")
    assert_fail(body, msg="order can no longer be modified")
    assert await detail(client, token, order["id"]) == before


async def test_another_users_order_and_a_missing_order_answer_the_same(client):
    owner, _ = await register(client, "owner")
    intruder, _ = await register(client, "intruder")
    order = await make_order(client, owner)
    foreign = await update(client, intruder, id=order["id"], title="mine now")
    missing = await update(client, intruder, id=order["id"] + 1000, title="mine now")
    assert foreign == missing == {"code": -1, "msg": "order not found"}
    assert (await detail(client, owner, order["id"]))["title"] == order["title"]


async def test_anonymous_update_is_not_logged_in(client):
    token, _ = await register(client)
    order = await make_order(client, token)
    body = await call(
        client, "POST", "/api/communication/order/update", json={"id": order["id"], "title": "x"}
    )
    assert_fail(body, code=1001)


BAD_UPDATES = [
    ({}, "id is required"),
    ({"id": 0}, "id must be a positive integer"),
    ({"id": -1}, "id must be a positive integer"),
    ({"id": 1.0}, "id must be a positive integer"),
    ({"id": True}, "id must be a positive integer"),
    ({"id": ""}, "id must be a positive integer"),
    ({"id": " 1"}, "id must be a positive integer"),
    ({"id": "+1"}, "id must be a positive integer"),
    (
        {"id": 2**63},
        "id must be an integer of at most 19 digits, no larger than 9223372036854775807",
    ),
    ({"id": "1", "title": ""}, "title must not be empty"),
    ({"id": "1", "title": "   "}, "title must not be empty"),
    ({"id": "1", "title": 5}, "title must be a string"),
    ({"id": "1", "title": "x" * 251}, "title must be 1-250 characters"),
    ({"id": "1", "content": ""}, "content must not be empty"),
    ({"id": "1", "content": "x" * 20001}, "content must be 1-20000 characters"),
    ({"id": "1", "phone": "abc12345"}, "phone may contain only digits, spaces and + - ( )"),
    ({"id": "1", "phone": "1234"}, "phone must be 5-32 characters"),
    ({"id": "1", "images": "x"}, "images must be a list of strings"),
    ({"id": "1", "images": [1]}, "images must be a list of strings"),
    ({"id": "1", "images": ["u"] * 21}, "images may hold at most 20 items"),
    ({"id": "1", "images": ["u" * 1001]}, "each of images must be 1-1000 characters"),
    ({"id": "1", "event_date": "x" * 65}, "event_date must be at most 64 characters"),
    ({"id": "1", "version": 0}, "version must be a positive integer"),
    ({"id": "1", "version": "v1"}, "version must be a positive integer"),
    ({"id": "1", "order_extra": []}, "order_extra must be a JSON object"),
    ({"id": "1", "order_extra": "a=b"}, "order_extra must be a JSON object"),
    (
        {"id": "1", "order_extra": {f"k{i}": i for i in range(101)}},
        "order_extra may have at most 100 keys",
    ),
    ({"id": "1", "order_extra": {"": 1}}, "order_extra keys must be 1-64 characters"),
    ({"id": "1", "order_extra": {"k" * 65: 1}}, "order_extra keys must be 1-64 characters"),
    ({"id": "1", "order_extra": {"a": {"b" * 65: 1}}}, "order_extra keys must be 1-64 characters"),
    ({"id": "1", "order_extra": nested(5)}, "order_extra may nest at most 4 levels"),
    ({"id": "1", "order_extra": {"a": [[[[1]]]]}}, "order_extra may nest at most 4 levels"),
    (
        {"id": "1", "order_extra": {"big": "x" * 16384}},
        "order_extra must be at most 16384 bytes as JSON",
    ),
]


@pytest.mark.parametrize("body, message", BAD_UPDATES)
async def test_bad_input_is_refused_and_changes_nothing(client, body, message):
    token, _ = await register(client)
    order = await make_order(client, token, order_extra={"a": 1})
    before = await detail(client, token, order["id"])
    assert_fail(await update(client, token, **body), msg=message)
    assert await detail(client, token, order["id"]) == before


async def test_limits_are_accepted_at_the_boundary(client):
    token, _ = await register(client)
    order = await make_order(client, token)
    extra = {f"k{i:02}": i for i in range(99)}
    extra["n" * 64] = nested(3)
    body = await update(
        client,
        token,
        id=order["id"],
        title="t" * 250,
        content="c" * 20000,
        phone="1" * 32,
        images=["https://x.test/" + "u" * 985] * 20,
        event_date="e" * 64,
        order_extra=extra,
    )
    assert len(assert_ok(body)["order_extra"]) == 100


async def test_limits_hold_on_the_merged_result(client):
    token, _ = await register(client)
    order = await make_order(client, token, order_extra={f"a{i}": i for i in range(60)})
    too_many = await update(
        client, token, id=order["id"], order_extra={f"b{i}": i for i in range(41)}
    )
    assert_fail(too_many, msg="order_extra may have at most 100 keys")
    assert_ok(await update(client, token, id=order["id"], order_extra={"big1": "x" * 9000}))
    too_big = await update(client, token, id=order["id"], order_extra={"big2": "y" * 9000})
    assert_fail(too_big, msg="order_extra must be at most 16384 bytes as JSON")
    assert set((await detail(client, token, order["id"]))["order_extra"]) == {
        *(f"a{i}" for i in range(60)),
        "big1",
    }


async def test_order_extra_values_are_kept_as_sent(client):
    token, _ = await register(client)
    order = await make_order(client, token)
    value = {"note": "  spaced  ", "emoji": "🎨", "n": -1.5, "z": None}
    updated = assert_ok(await update(client, token, id=order["id"], order_extra={"v": value}))
    assert updated["order_extra"] == {"v": {"note": "  spaced  ", "emoji": "🎨", "n": -1.5}}


async def test_concurrent_updates_of_different_keys_lose_nothing(client):
    token, _ = await register(client)
    order = await make_order(client, token)
    results = await asyncio.gather(
        *(update(client, token, id=order["id"], order_extra={f"key{i}": i}) for i in range(50))
    )
    assert all(body["code"] == 0 for body in results)
    final = await detail(client, token, order["id"])
    assert final["order_extra"] == {f"key{i}": i for i in range(50)}
    assert final["version"] == 51
    assert final["messages_total"] == 50


async def test_concurrent_versioned_updates_let_exactly_one_win(client):
    token, _ = await register(client)
    order = await make_order(client, token)
    results = await asyncio.gather(
        *(update(client, token, id=order["id"], title=f"t{i}", version=1) for i in range(10))
    )
    assert sorted(body["code"] for body in results) == [-1] * 9 + [0]
    assert (await detail(client, token, order["id"]))["version"] == 2


async def test_the_merchant_sees_the_customers_update(client):
    token, _ = await register(client)
    admin = await make_admin(client)
    order = await make_order(client, token)
    assert_ok(await update(client, token, id=order["id"], order_extra={"budget": "1000"}))
    assert (await admin_detail(client, admin, order["id"]))["order_extra"] == {"budget": "1000"}
