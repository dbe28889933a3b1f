"""Notification mail (spec 9), on both engines, against a real SMTP server (aiosmtpd):
who gets what, the opt-out, the recipient's language, and an SMTP server that is down
when the event happens."""

import aiohttp
import pytest
from orderdesk import security
from orderdesk.app import create_app
from orderdesk.config import Config
from orderdesk.keys import OUTBOX, STORE
from orderdesk.store import accounts

from tests.conftest import (
    ORDER,
    PASSWORD,
    assert_fail,
    assert_ok,
    call,
    make_order,
    query_rows,
    quote,
    register,
)
from tests.live import LiveServer, free_port, run_cli
from tests.receivers import SmtpServer, eventually, eventually_sync

PUBLIC_URL = "https://desk.shop.test/"
BOSS = "boss@shop.test"
ALICE = "alice@home.test"


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def config(db, clock, smtp) -> Config:
    return Config(
        db=db,
        session_ttl=3600,
        clock=clock,
        smtp_url=smtp.url,
        mail_from="orderdesk@shop.test",
        public_url=PUBLIC_URL,
        webhook_retry_base=0.001,
    )


async def login(client, name: str, language: str = "en") -> str:
    body = await call(
        client,
        "POST",
        "/api/login",
        json={"user_name": name, "password": PASSWORD},
        headers={"Accept-Language": language},
    )
    return assert_ok(body)["token"]


async def boss(client) -> str:
    await client.server.app[STORE].write(
        accounts.save_admin, "merchant", BOSS, security.hash_password(PASSWORD)
    )
    return await login(client, "merchant")


async def send(client, token: str, order_id: int, text: str, admin: bool = False) -> None:
    path = f"/api{'/admin' if admin else ''}/communication/message/send"
    message = {"comm_order_id": order_id, "message_type": "text", "content": text}
    assert_ok(await call(client, "POST", path, token=token, json=message))


def parts(mail) -> tuple[str, str]:
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    return text, html


async def test_who_gets_which_mail(client, smtp):
    admin = await boss(client)
    alice, _ = await register(client, "alice", email=ALICE)
    bob, _ = await register(client, "bob")  # no email: never mailed
    first = await make_order(client, alice, title="Theme")
    await send(client, admin, first["id"], "Which colours?", admin=True)
    await send(client, alice, first["id"], "Blue and white")
    await quote(client, admin, first["id"])
    accepted = {"id": first["id"]}
    assert_ok(
        await call(client, "POST", "/api/communication/order/accept", token=alice, json=accepted)
    )
    second = await make_order(client, alice, title="Logo")
    await quote(client, admin, second["id"])
    assert_ok(
        await call(
            client,
            "POST",
            "/api/communication/order/reject",
            token=alice,
            json={"id": second["id"]},
        )
    )
    third = await make_order(client, alice, title="Banner")
    status = {"id": third["id"], "status": -1}
    assert_ok(
        await call(
            client, "POST", "/api/admin/communication/order/status", token=admin, json=status
        )
    )
    fourth = await make_order(client, alice, title="Flyer")
    assert_ok(
        await call(
            client,
            "POST",
            "/api/communication/order/cancel",
            token=alice,
            json={"id": fourth["id"]},
        )
    )
    bobs = await make_order(client, bob, title="Card")
    await send(client, admin, bobs["id"], "Hello Bob", admin=True)
    await quote(client, admin, bobs["id"])

    a, b, c, d, e = (o["id"] for o in (first, second, third, fourth, bobs))
    expected = sorted([
        (BOSS, f"New order #{a}: Theme"),
        (ALICE, f"New message from the merchant on your order #{a}: Theme"),
        (BOSS, f"New message from the customer on order #{a}: Theme"),
        (ALICE, f"You have a quote for your order #{a}: Theme"),
        (BOSS, f"The customer accepted the quote for order #{a}: Theme"),
        (BOSS, f"New order #{b}: Logo"),
        (ALICE, f"You have a quote for your order #{b}: Logo"),
        (BOSS, f"The customer rejected the quote for order #{b}: Logo"),
        (BOSS, f"New order #{c}: Banner"),
        (ALICE, f"The status of your order #{c} changed: Banner"),
        (BOSS, f"New order #{d}: Flyer"),
        (BOSS, f"The customer cancelled order #{d}: Flyer"),
        (BOSS, f"New order #{e}: Card"),
    ])  # fmt: skip
    mails = await eventually(lambda: len(smtp.mails()) >= len(expected) and smtp.mails())
    got = sorted((rcpt, mail["Subject"]) for (rcpt,), mail in mails)
    assert got == expected
    for (rcpt,), mail in mails:
        assert mail["From"] == "orderdesk@shop.test" and mail["To"] == rcpt
    # A mail names the order and links to it in the console, in text and HTML.
    (message,) = [m for _, m in mails if m["Subject"].startswith("New message from the merchant")]
    text, html = parts(message)
    link = f"{PUBLIC_URL}#/order/{a}"
    assert "Which colours?" in text and f"Open the order: {link}" in text
    assert f'<a href="{link}">' in html and "Which colours?" in html
    (new,) = [m for _, m in mails if m["Subject"] == f"New order #{a}: Theme"]
    assert f"{PUBLIC_URL}#/admin/order/{a}" in parts(new)[0]


async def test_a_customer_turns_mail_off_and_on(client, smtp):
    admin = await boss(client)
    alice, user = await register(client, "alice", email=ALICE)
    assert user["notify_email"] is True
    order = await make_order(client, alice)
    await eventually(lambda: len(smtp.mails()) == 1)  # the merchant's new-order mail

    off = await call(client, "POST", "/api/user/notifications", token=alice, json={"email": False})
    assert assert_ok(off)["notify_email"] is False
    shown = await call(client, "GET", "/api/user/detail", token=alice)
    assert assert_ok(shown)["notify_email"] is False
    await send(client, admin, order["id"], "Not mailed", admin=True)
    await send(client, alice, order["id"], "Mailed to the merchant")
    await eventually(lambda: len(smtp.mails()) == 2)
    assert [rcpt for (rcpt,), _ in smtp.mails()] == [BOSS, BOSS]

    on = await call(client, "POST", "/api/user/notifications", token=alice, json={"email": True})
    assert assert_ok(on)["notify_email"] is True
    await send(client, admin, order["id"], "Mailed again", admin=True)
    (rcpts, mail) = (await eventually(lambda: len(smtp.mails()) == 3 and smtp.mails()))[2]
    assert rcpts == [ALICE] and "Mailed again" in parts(mail)[0]

    for sent, msg in (({"email": "no"}, "email must be true or false"), ({}, "email is required")):
        body = await call(client, "POST", "/api/user/notifications", token=alice, json=sent)
        assert_fail(body, msg=msg)


async def test_mail_is_in_the_language_of_the_last_login(client, smtp):
    admin = await boss(client)
    await register(client, "alice", email=ALICE)
    alice = await login(client, "alice", "zh-CN,zh;q=0.9,en;q=0.5")
    order = await make_order(client, alice, title="主题")
    await send(client, admin, order["id"], "您好", admin=True)
    mails = await eventually(lambda: len(smtp.mails()) == 2 and smtp.mails())
    by_rcpt = {rcpt: mail for (rcpt,), mail in mails}
    assert by_rcpt[BOSS]["Subject"] == f"New order #{order['id']}: 主题"
    chinese = by_rcpt[ALICE]
    assert chinese["Subject"] == f"商家在您的订单 #{order['id']}（主题）中发来新消息"
    assert f"查看订单：{PUBLIC_URL}#/order/{order['id']}" in parts(chinese)[0]
    assert 'lang="zh-CN"' in parts(chinese)[1]

    await login(client, "alice", "en-US")  # the next login decides the next mail
    await send(client, admin, order["id"], "Hello", admin=True)
    latest = (await eventually(lambda: len(smtp.mails()) == 3 and smtp.mails()))[2][1]
    assert latest["Subject"] == f"New message from the merchant on your order #{order['id']}: 主题"


async def test_a_mail_waits_for_an_smtp_server_that_is_down(db, clock, server_log, aiohttp_client):
    port = free_port()
    config = Config(
        db=db,
        session_ttl=3600,
        clock=clock,
        smtp_url=f"smtp://127.0.0.1:{port}",
        mail_from="orderdesk@shop.test",
        webhook_retry_base=0.001,
    )
    client = await aiohttp_client(create_app(config), cookie_jar=aiohttp.DummyCookieJar())
    await boss(client)
    alice, _ = await register(client, "alice")
    order = await make_order(client, alice)

    async def failed_attempts() -> list:
        return await query_rows(
            db, "SELECT attempts, status, error FROM deliveries WHERE recipient_id IS NOT NULL"
        )

    (row,) = await eventually(lambda: _tried(failed_attempts))
    assert row[0] == 1 and row[1] == "pending" and row[2]
    with SmtpServer(port) as smtp:
        clock.advance(60)
        client.server.app[OUTBOX].wake()
        ((rcpts, mail),) = await eventually(smtp.mails)
        assert rcpts == [BOSS] and mail["Subject"] == f"New order #{order['id']}: {ORDER['title']}"
        (row,) = await eventually(lambda: _delivered(failed_attempts))
        assert row[:2] == (2, "delivered")


async def _tried(rows) -> list:
    found = await rows()
    return found if found and found[0][0] >= 1 else []


async def _delivered(rows) -> list:
    found = await rows()
    return found if found and found[0][1] == "delivered" else []


@pytest.mark.slow  # a real server process
def test_a_default_install_mails_the_merchant_a_new_order(tmp_path):
    db = str(tmp_path / "live.db")
    made = run_cli(
        "create-admin", "--db", db, "--username", "merchant", "--password", PASSWORD,
        "--email", BOSS,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    with SmtpServer() as smtp:
        flags = ("--smtp-url", smtp.url, "--mail-from", "orderdesk@shop.test")
        with LiveServer(db, *flags) as server:
            customer = server.register("alice")
            body = server.call("POST", "/api/communication/order/create", ORDER, token=customer)
            ((rcpts, mail),) = eventually_sync(smtp.mails)
            assert rcpts == [BOSS]
            assert mail["Subject"] == f"New order #{body['data']['id']}: {ORDER['title']}"
            server.assert_no_faults()
            server.stop()


def test_smtp_without_a_sender_is_refused_at_start(tmp_path):
    started = run_cli("--db", str(tmp_path / "x.db"), "--smtp-url", "smtp://127.0.0.1:25")
    assert started.returncode == 2
    assert "--smtp-url needs --mail-from ADDRESS" in started.stderr


async def test_a_title_with_line_breaks_makes_a_one_line_subject(client, smtp):
    await boss(client)
    alice, _ = await register(client, "alice")
    order = await make_order(client, alice, title="Two\nlines")
    ((rcpts, mail),) = await eventually(smtp.mails)
    assert (rcpts, mail["Subject"]) == ([BOSS], f"New order #{order['id']}: Two lines")
