"""Forgotten passwords and reset links, on both engines, with a real SMTP server
(aiosmtpd): the same answer whatever exists, the limits, tokens (hashed, one hour, one
use, all used up by a reset), what a reset does, disabled accounts, admin-made links."""

import asyncio
import dataclasses
import logging
import re
import statistics
import time

import aiohttp
import pytest
from orderdesk.config import Config

from tests.conftest import (
    PASSWORD,
    PUBLIC_URL,
    assert_fail,
    assert_ok,
    call,
    mail_config,
    make_admin,
    query_rows,
    register,
)
from tests.receivers import eventually

ALICE = "alice@home.test"
NEW_PASSWORD = "a brand new secret"
FORGOT = "/api/user/password/forgot"
RESET = "/api/user/password/reset"
ADMIN_RESET = "/api/admin/users/password-reset"
INVALID = "this reset link is invalid or has expired"
LINK = re.compile(r"https://desk\.shop\.test/#/reset\?token=([A-Za-z0-9_-]+)")


@pytest.fixture
def config(db, clock, smtp) -> Config:
    return mail_config(db, clock, smtp)


async def login(client, name: str, password: str = PASSWORD, language: str = "en") -> dict:
    return await call(
        client,
        "POST",
        "/api/login",
        json={"user_name": name, "password": password},
        headers={"Accept-Language": language},
    )


async def forgot(client, **names: str) -> dict:
    return await call(client, "POST", FORGOT, json=names)


async def reset(client, token: str, password: str = NEW_PASSWORD) -> dict:
    return await call(client, "POST", RESET, json={"token": token, "password": password})


def tokens_mailed(smtp, to: str = ALICE) -> list[str]:
    found = []
    for recipients, mail in smtp.mails():
        if recipients == [to]:
            text = mail.get_body(("plain",)).get_content()
            found += LINK.findall(text)
    return found


async def mailed(smtp, count: int, to: str = ALICE) -> list[str]:
    """Waits for `count` reset mails to `to`; their tokens."""
    return await eventually(
        lambda: len(tokens_mailed(smtp, to)) >= count and tokens_mailed(smtp, to)
    )


async def set_disabled(config, user_id: int, disabled: bool) -> None:
    await query_rows(
        config.db, f"UPDATE users SET disabled = {int(disabled)} WHERE id = ?", user_id
    )


async def test_a_mailed_link_resets_the_password_once(client, smtp, config):
    _, user = await register(client, "alice", email=ALICE)
    session = assert_ok(await login(client, "alice"))["token"]
    body = await forgot(client, email=ALICE.upper())
    assert body == {"code": 0, "msg": body["msg"]}
    (token,) = await mailed(smtp, 1)
    assert len(token) >= 22  # at least 128 random bits, URL-safe
    (recipients, mail) = smtp.mails()[0]
    assert mail["Subject"] == "Reset your orderdesk password"
    assert f"{PUBLIC_URL}#/reset?token={token}" in mail.get_body(("html",)).get_content()

    # Stored only as a hash; the mail's row loses the link once sent.
    rows = await eventually(lambda: _all_sent(config.db))
    assert all(token not in payload for payload, _ in rows)
    for (value,) in await query_rows(config.db, "SELECT token_hash FROM reset_tokens"):
        assert token.encode() not in bytes(value)

    assert_ok(await reset(client, token))
    # Every session revoked; no login made; the old password is gone.
    me = await call(client, "GET", "/api/user/detail", token=session)
    assert_fail(me, 1001)
    assert_fail(await login(client, "alice"), -1, "wrong user name or password")
    assert_ok(await login(client, "alice", NEW_PASSWORD))
    # Once only.
    assert_fail(await reset(client, token, "yet another secret"), -1, INVALID)
    assert_ok(await login(client, "alice", NEW_PASSWORD))
    assert user["id"]


async def _all_sent(db: str):
    rows = await query_rows(db, "SELECT payload, status FROM deliveries")
    return rows if rows and all(status == "delivered" for _, status in rows) else None


async def test_the_answer_is_the_same_whatever_exists(client, smtp, config):
    _, alice = await register(client, "alice", email=ALICE, phone="+1 555 0100")
    await register(client, "bob")  # no email
    _, carol = await register(client, "carol", email="carol@home.test")
    await set_disabled(config, carol["id"], True)
    answers = [
        await forgot(client, user_name="nobody"),
        await forgot(client, email="nobody@home.test"),
        await forgot(client, user_name="bob"),
        await forgot(client, user_name="carol"),
        await forgot(client, phone="+1 555 0100"),
    ]
    assert all(answer == answers[0] for answer in answers), answers
    assert answers[0]["code"] == 0 and "data" not in answers[0]
    # Only alice (by her phone) gets a mail; the disabled account none.
    await mailed(smtp, 1)
    await asyncio.sleep(0.3)  # the outbox runs meanwhile
    assert [recipients for recipients, _ in smtp.mails()] == [[ALICE]]
    assert alice["id"]


async def test_five_requests_per_address_per_window(client, smtp, clock):
    for n in range(5):
        assert_ok(await forgot(client, user_name=f"someone{n}"))
    assert_fail(await forgot(client, user_name="someone5"), -1, "too many attempts")
    clock.advance(15 * 60 + 1)
    assert_ok(await forgot(client, user_name="someone6"))


async def no_fourth_mail_within_the_hour(client, smtp, clock) -> None:
    await asyncio.sleep(0.5)  # the outbox runs meanwhile
    assert len(smtp.mails()) == 3
    clock.advance(60 * 60 + 1)
    assert_ok(await forgot(client, user_name="alice"))
    await mailed(smtp, 4)


async def test_three_mails_per_account_per_hour(client, smtp, clock):
    await register(client, "alice", email=ALICE)
    for _ in range(4):
        assert_ok(await forgot(client, user_name="alice"))
    await mailed(smtp, 3)
    await no_fourth_mail_within_the_hour(client, smtp, clock)


async def test_a_reset_does_not_start_the_mail_count_over(client, smtp, clock):
    """The mails an account had this hour still count after a reset used their tokens
    up: no more than three an hour, reset or not."""
    await register(client, "alice", email=ALICE)
    for _ in range(3):
        assert_ok(await forgot(client, user_name="alice"))
    *_, last = await mailed(smtp, 3)
    assert_ok(await reset(client, last))
    for _ in range(2):
        assert_ok(await forgot(client, user_name="alice"))
    await no_fourth_mail_within_the_hour(client, smtp, clock)


async def test_a_token_lives_one_hour(client, smtp, clock):
    await register(client, "alice", email=ALICE)
    assert_ok(await forgot(client, user_name="alice"))
    (token,) = await mailed(smtp, 1)
    clock.advance(60 * 60)
    assert_fail(await reset(client, token), -1, INVALID)
    assert_ok(await login(client, "alice"))


async def test_a_reset_uses_up_every_token_of_the_user(client, smtp):
    await register(client, "alice", email=ALICE)
    assert_ok(await forgot(client, user_name="alice"))
    assert_ok(await forgot(client, email=ALICE))
    first, second = await mailed(smtp, 2)
    assert first != second
    assert_ok(await reset(client, second))
    assert_fail(await reset(client, first), -1, INVALID)
    assert_fail(await reset(client, "not-a-token-at-all"), -1, INVALID)
    assert_fail(await reset(client, first, "short"), -1)  # the password rule first


async def test_a_reset_clears_the_login_failures(client, smtp):
    await register(client, "alice", email=ALICE)
    for _ in range(5):
        assert_fail(await login(client, "alice", "wrong password!"))
    assert_fail(await login(client, "alice"), -1, "too many attempts")
    assert_ok(await forgot(client, user_name="alice"))
    (token,) = await mailed(smtp, 1)
    assert_ok(await reset(client, token))
    assert_ok(await login(client, "alice", NEW_PASSWORD))


async def test_a_disabled_account(client, smtp, config):
    _, alice = await register(client, "alice", email=ALICE)
    assert_ok(await forgot(client, user_name="alice"))
    (token,) = await mailed(smtp, 1)
    await set_disabled(config, alice["id"], True)
    assert_fail(await login(client, "alice"), -1, "this account is disabled")
    assert_fail(await login(client, "alice", "wrong password!"), -1, "wrong user name or password")
    assert_fail(await reset(client, token), -1, INVALID)
    assert_ok(await forgot(client, user_name="alice"))
    await asyncio.sleep(0.5)  # the outbox runs meanwhile
    assert len(smtp.mails()) == 1  # nothing more for a disabled account
    await set_disabled(config, alice["id"], False)
    assert_ok(await reset(client, token))  # the link was only refused while disabled
    assert_ok(await login(client, "alice", NEW_PASSWORD))


async def test_the_mail_is_in_the_recipients_language(client, smtp):
    await register(client, "alice", email=ALICE)
    assert_ok(await login(client, "alice", language="zh-CN"))
    assert_ok(await forgot(client, user_name="alice"))
    await mailed(smtp, 1)
    _, mail = smtp.mails()[0]
    assert mail["Subject"] == "重置您的 orderdesk 密码"
    assert mail.get_body(("html",))["Content-Type"]
    assert '<html lang="zh-CN">' in mail.get_body(("html",)).get_content()


async def test_an_admin_makes_a_reset_link(client, smtp):
    admin = await make_admin(client)
    alice_token, alice = await register(client, "alice", email=ALICE)
    _, bob = await register(client, "bob")
    body = await call(client, "POST", ADMIN_RESET, token=admin, json={"id": alice["id"]})
    url = assert_ok(body)["reset_url"]
    (token,) = LINK.fullmatch(url).groups()
    assert await mailed(smtp, 1) == [token]
    # Without an email: the link is answered, nothing is mailed.
    bob_url = assert_ok(
        await call(client, "POST", ADMIN_RESET, token=admin, json={"id": bob["id"]})
    )["reset_url"]
    (bob_token,) = LINK.fullmatch(bob_url).groups()
    assert_ok(await reset(client, bob_token))
    assert_ok(await login(client, "bob", NEW_PASSWORD))
    assert_ok(await reset(client, token))
    assert_fail(await call(client, "GET", "/api/user/detail", token=alice_token), 1001)
    unknown = await call(client, "POST", ADMIN_RESET, token=admin, json={"id": 999999})
    assert_fail(unknown, -1, "user not found")
    customer = await call(client, "POST", ADMIN_RESET, token=alice_token, json={"id": bob["id"]})
    assert_fail(customer, 1001)  # alice's session was revoked by her reset
    bob_session = assert_ok(await login(client, "bob", NEW_PASSWORD))["token"]
    refused = await call(client, "POST", ADMIN_RESET, token=bob_session, json={"id": bob["id"]})
    assert_fail(refused, 1002)


async def test_links_use_the_requests_own_address_without_public_url(
    aiohttp_client, config, server_log
):
    from aiohttp.test_utils import TestServer
    from orderdesk.app import create_app

    plain = dataclasses.replace(config, public_url="", smtp_url="", mail_from="")
    server = TestServer(create_app(plain))
    client = await aiohttp_client(server, cookie_jar=aiohttp.DummyCookieJar())
    admin = await make_admin(client)
    _, alice = await register(client, "alice", email=ALICE)
    body = await call(
        client,
        "POST",
        ADMIN_RESET,
        token=admin,
        json={"id": alice["id"]},
        headers={"Host": "shop.example:8443"},
    )
    url = assert_ok(body)["reset_url"]
    assert re.fullmatch(r"http://shop\.example:8443/#/reset\?token=[A-Za-z0-9_-]{43}", url), url


async def test_the_token_is_never_logged(client, smtp, caplog):
    caplog.set_level(logging.DEBUG)
    await register(client, "alice", email=ALICE)
    assert_ok(await forgot(client, user_name="alice"))
    (token,) = await mailed(smtp, 1)
    assert_ok(await reset(client, token))
    # Everything the server logged, debug included (the test's SMTP server aside).
    logged = [r.getMessage() for r in caplog.records if not r.name.startswith("mail.")]
    assert logged and not [line for line in logged if token in line]


async def test_the_answer_takes_as_long_whatever_exists(client, smtp, clock):
    """20 requests for an account that gets a mail, 20 for a name no account has: the
    medians differ by less than the spread of either (and, on a shared machine, by less
    than 15 ms)."""
    await register(client, "alice", email=ALICE)
    times: dict[str, list[float]] = {"alice": [], "nobody": []}
    for _ in range(20):
        for name in times:
            clock.advance(60 * 60 + 1)  # below every limit, every time
            started = time.perf_counter()
            assert_ok(await forgot(client, user_name=name))
            times[name].append((time.perf_counter() - started) * 1000)
    medians = {name: statistics.median(ms) for name, ms in times.items()}
    spreads = {name: _iqr(ms) for name, ms in times.items()}
    print(f"forgot timing ms: medians {medians}, interquartile ranges {spreads}")
    difference = abs(medians["alice"] - medians["nobody"])
    assert difference < max(*spreads.values(), 15.0), (medians, spreads)


def _iqr(values: list[float]) -> float:
    quartiles = statistics.quantiles(values, n=4)
    return quartiles[2] - quartiles[0]
