"""msg texts in English and Simplified Chinese, chosen by Accept-Language."""

import string

import pytest
from orderdesk import texts

from tests.conftest import ORDER, assert_fail, call, make_order, register


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("name", sorted(texts.ALL))
def test_every_text_has_both_languages_with_the_same_placeholders(name):
    text = texts.ALL[name]
    assert text.en.strip() and text.zh.strip()
    assert text.en != text.zh
    assert placeholders(text.en) == placeholders(text.zh)


@pytest.mark.parametrize(
    "header, language",
    [
        ("", "en"),
        ("zh", "zh"),
        ("zh-CN", "zh"),
        ("zh-Hans-CN,zh;q=0.9", "zh"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("fr-FR;q=0.5, zh;q=0.95", "zh"),
        ("fr-FR, zh;q=0.95", "en"),
        ("de", "en"),
        ("zh;q=abc", "en"),
        ("zhx", "en"),
    ],
)
def test_language_choice(header, language):
    assert texts.language_of(header) == language


async def test_the_seeds_update_answers_in_chinese(client):
    token, _ = await register(client)
    order = await make_order(client, token)
    body = await call(
        client,
        "POST",
        "/api/communication/order/update",
        token=token,
        json={"id": order["id"], "title": "更新后的定制网站主题"},
        headers={"Accept-Language": "zh-CN,zh;q=0.9"},
    )
    assert (body["code"], body["msg"]) == (0, "订单更新成功")


@pytest.mark.parametrize(
    "override, english, chinese",
    [
        ({"title": ""}, "title must not be empty", "title 不能为空"),
        ({"title": "x" * 251}, "title must be 1-250 characters", "title 长度必须为 1-250 个字符"),
        ({"archive_id": -1}, "archive_id must be a positive integer", "archive_id 必须是正整数"),
    ],
)
async def test_errors_answer_in_the_callers_language(client, override, english, chinese):
    token, _ = await register(client)
    path = "/api/communication/order/create"
    body = {**ORDER, **override}
    assert_fail(await call(client, "POST", path, token=token, json=body), msg=english)
    zh = await call(client, "POST", path, token=token, json=body, headers={"Accept-Language": "zh"})
    assert_fail(zh, msg=chinese)


async def test_session_and_routing_errors_are_translated_too(client):
    zh = {"Accept-Language": "zh"}
    assert_fail(await call(client, "GET", "/api/user/detail", headers=zh), code=1001, msg="未登录")
    assert_fail(await call(client, "GET", "/api/nowhere", headers=zh), msg="接口不存在")
    assert_fail(await call(client, "GET", "/api/login", headers=zh), msg="请求方法不允许")
