"""Notification mail, on both engines, against a real SMTP server (aiosmtpd):
who gets what, the opt-out, the recipient's language, and an SMTP server that is down
when the event happens."""

import base64
import re

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
    PUBLIC_URL,
    assert_fail,
    assert_ok,
    call,
    mail_config,
    make_order,
    query_rows,
    quote,
    register,
)
from tests.live import LiveServer, free_port, run_cli
from tests.receivers import SmtpServer, eventually, eventually_sync

BOSS = "boss@shop.test"
ALICE = "alice@home.test"


@pytest.fixture
def config(db, clock, smtp) -> Config:
    return mail_config(db, clock, smtp)


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


async def test_a_mail_waits_for_an_smtp_server_that_is_down(
    db, clock, server_log, aiohttp_client, caplog
):
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
    (said,) = [r for r in caplog.records if "mail delivery" in r.getMessage()]
    assert said.levelname == "WARNING" and "failed (attempt 1)" in said.getMessage()
    assert said.getMessage().endswith("it is tried again later"), said.getMessage()
    with SmtpServer(port) as smtp:
        clock.advance(60)
        client.server.app[OUTBOX].wake()
        ((rcpts, mail),) = await eventually(smtp.mails)
        assert rcpts == [BOSS] and mail["Subject"] == f"New order #{order['id']}: {ORDER['title']}"
        (row,) = await eventually(lambda: _delivered(failed_attempts))
        assert row[:2] == (2, "delivered")


async def test_a_refused_recipient_is_logged_without_the_address(db, clock, aiohttp_client, caplog):
    with SmtpServer(refuse_recipients=True) as smtp:
        config = Config(db=db, clock=clock, smtp_url=smtp.url, mail_from="orderdesk@shop.test")
        client = await aiohttp_client(create_app(config), cookie_jar=aiohttp.DummyCookieJar())
        await boss(client)
        alice, _ = await register(client, "alice")
        await make_order(client, alice)  # mails the merchant, whose address is refused

        def said() -> list[str]:
            return [r.getMessage() for r in caplog.records if "mail delivery" in r.getMessage()]

        (line,) = await eventually(said)
    assert "failed (attempt 1)" in line and "550" in line and "<address>" in line, line
    assert BOSS not in line and "@" not in line, line


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
    assert started.returncode == 1
    assert "--smtp-url needs --mail-from ADDRESS" in started.stderr


async def test_a_title_with_line_breaks_makes_a_one_line_subject(client, smtp):
    await boss(client)
    alice, _ = await register(client, "alice")
    order = await make_order(client, alice, title="Two\nlines")
    ((rcpts, mail),) = await eventually(smtp.mails)
    assert (rcpts, mail["Subject"]) == ([BOSS], f"New order #{order['id']}: Two lines")


# ---------------------------------------------------------------- header injection

EVIL = "Bcc: victim@evil.test"
# Line breaks of every kind; the email package's parser and many mail readers take
# each of them as the end of a header line.
BREAKS = ["\r", "\n", "\r\n", "\r\r\n", "\n\r", "\u2028", "\u2029", "\x85", "\x0b", "\x0c"]


def _q(text: str) -> str:
    """RFC 2047 Q form of ASCII `text`."""
    return "".join(c if c.isalnum() else f"={ord(c):02X}" for c in text)


def _b(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


INJECTED = f"\r\n{EVIL}\r\nReply-To: attacker@evil.test\r\nContent-Type: text/html\r\n\r\n<b>x</b>"
TRICKS = [
    *(f"Invoice{br}{EVIL}{br}Reply-To: attacker@evil.test{br}{br}<b>x</b>" for br in BREAKS),
    "=?utf-8?q?Invoice=0D=0AReply-To:_attacker@evil.test=0D=0A?=",
    f"Invoice =?utf-8?q?{_q(INJECTED)}?= end",
    f"=?UTF-8?Q?{_q(INJECTED)}?=",
    f"=?utf-8?b?{_b(INJECTED)}?=",
    f"=?UTF-8?B?{_b(INJECTED)}?= =?iso-8859-1?q?=0A{_q(EVIL)}?=",
    f"=?utf-8*en?b?{_b(INJECTED)}?=",  # with an RFC 2231 language
    f"=?utf-8?q?a?=\r\n =?utf-8?q?=0D=0A{_q(EVIL)}?=",  # folded
    "主题 =?utf-8?b?" + _b("\n" + EVIL) + "?= " + "长" * 60,  # long, encoded anyway
]
# The headers of every mail, each once; the parts' own headers.
MAIL_HEADERS = ["Subject", "From", "To", "Date", "Message-ID", "MIME-Version", "Content-Type"]
PART_HEADERS = {"Content-Type", "Content-Transfer-Encoding", "MIME-Version"}


def one_line(text: str) -> str:
    """What a subject shows of a text: every control character and line or paragraph
    separator a space, runs of spaces one."""
    return " ".join(re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", " ", text).split())


def assert_only_the_mail_we_built(rcpts: list[str], mail, raw: bytes) -> None:
    """One recipient, the headers the server writes and no other (each once, as sent
    and as parsed), two parts and no more."""
    assert len(rcpts) == 1 and mail["To"] == rcpts[0] and mail["From"] == "orderdesk@shop.test"
    assert list(mail.keys()) == MAIL_HEADERS, mail.keys()
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    names = [line.split(b":", 1)[0].decode() for line in head if not line[:1].isspace()]
    assert names == MAIL_HEADERS
    assert all(len(line) <= 78 for line in head)
    assert b"evil" not in b"\r\n".join(head)
    assert mail.get_content_type() == "multipart/alternative"
    parts = list(mail.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    for part in parts:
        assert set(part.keys()) <= PART_HEADERS and not part.is_multipart()
    assert len(list(mail.walk())) == 3
    # The user's text is in the HTML as text, never markup.
    assert "<b>" not in parts[1].get_content().split("<body>", 1)[1]


async def test_no_user_text_can_add_change_or_end_a_mail_header(client, smtp):
    """Every line-break and encoded-word trick, in an order's title, content and field
    values, the customer's name, message contents and a quote's content, through a
    real SMTP server: each mail arrives with exactly the headers the server built, to
    one recipient, the subject the rendered text on one line, two parts and no more."""
    admin = await boss(client)
    field = {"field_name": "note", "type": "text"}
    fields = {"fields": [field]}
    assert_ok(
        await call(client, "POST", "/api/admin/communication/fields", token=admin, json=fields)
    )
    name = "=?utf-8?q?x=0D=0ABcc:_v@evil.test?="
    alice, _ = await register(client, name, email=ALICE)
    expected = []  # (recipient, subject)
    for trick in TRICKS:
        order = await make_order(
            client, alice, title=trick, content=trick, order_extra={"note": trick}
        )
        shown = one_line(trick)
        expected.append((BOSS, f"New order #{order['id']}: {shown}"))
        await send(client, alice, order["id"], trick)
        expected.append((BOSS, f"New message from the customer on order #{order['id']}: {shown}"))
        await send(client, admin, order["id"], trick, admin=True)
        expected.append(
            (ALICE, f"New message from the merchant on your order #{order['id']}: {shown}")
        )
        quoted = {"id": order["id"], "quote_price": "100", "quote_content": trick}
        assert_ok(
            await call(
                client, "POST", "/api/admin/communication/order/quote", token=admin, json=quoted
            )
        )
        expected.append((ALICE, f"You have a quote for your order #{order['id']}: {shown}"))

    mails = await eventually(lambda: len(smtp.mails()) >= len(expected) and smtp.mails(), 60)
    assert len(mails) == len(expected)
    assert sorted((rcpts[0], mail["Subject"]) for rcpts, mail in mails) == sorted(expected)
    for (rcpts, mail), raw in zip(mails, smtp.raw(), strict=True):
        assert_only_the_mail_we_built(rcpts, mail, raw)


# ---------------------------------------------------------------- email addresses

EMAIL_FORM = "email must be one address such as name@example.com"
NOT_ONE_ADDRESS = [
    "a@x.test, victim1@evil.test, victim2@evil.test",
    "a@x.test,victim@evil.test",
    "a@x.test;victim@evil.test",
    "a@x.test victim@evil.test",
    "a@x.test\r\nBcc: victim@evil.test",
    "a@x.test\nBcc: victim@evil.test",
    "a@x.test\rBcc: victim@evil.test",
    "a\u2028@x.test",
    "a\x85@x.test",
    "a\x07b@x.test",
    "a\u200b@x.test",  # an invisible format character
    "a\u3000b@x.test",  # an ideographic space
    "Victim <victim@evil.test>",
    "<a@x.test>",
    '"a b"@x.test',
    "o'x@x.test",
    "a(comment)@x.test",
    "group: a@x.test;",
    "a[1]@x.test",
    "a\\b@x.test",
    "a@b@x.test",
    "a@@x.test",
    "=?utf-8?b?" + _b("\r\nBcc: victim@evil.test") + "?=@x.test",
    "a@x=?q?.test",
    "nope",
    "a@",
    "@x.test",
    "a@localhost",
    "a@x",
    "a@x.",
    "a@.x.test",
    "a@x..test",
]
ONE_ADDRESS = [
    "a@x.test",
    "First.Last+tag@sub.x.test",
    "o_x-1!#$%&*/=^`{|}~@x.test",
    "用户@例子.中国",
]


@pytest.mark.parametrize("email", NOT_ONE_ADDRESS)
async def test_an_email_is_exactly_one_address(client, db, email):
    body = await call(
        client,
        "POST",
        "/api/register",
        json={"user_name": "bob", "password": PASSWORD, "email": email},
    )
    assert_fail(body, -1, EMAIL_FORM)
    assert await query_rows(db, "SELECT count(*) FROM users") == [(0,)]


async def test_addresses_of_that_form_are_taken(client):
    for n, email in enumerate(ONE_ADDRESS):
        _, user = await register(client, f"user{n}", email=f"  {email} ")
        assert user["email"] == email
    _, user = await register(client, "nobody", email="")  # no email
    assert user["email"] in ("", None)


def test_create_admin_takes_one_address_only(tmp_path):
    db = str(tmp_path / "admin.db")
    for email in ("boss@shop.test, victim@evil.test", "boss@shop.test\nBcc: victim@evil.test"):
        made = run_cli(
            "create-admin", "--db", db, "--username", "merchant", "--password", PASSWORD,
            "--email", email,
        )  # fmt: skip
        assert made.returncode == 2 and EMAIL_FORM in made.stderr, made.stderr


def test_the_sender_must_be_one_address(tmp_path):
    for sender in ("a@x.test, victim@evil.test", "Shop\r\nBcc: v@evil.test <a@x.test>"):
        started = run_cli(
            "--db", str(tmp_path / "x.db"), "--smtp-url", "smtp://127.0.0.1:25",
            "--mail-from", sender,
        )  # fmt: skip
        assert started.returncode == 1 and "--mail-from" in started.stderr, started.stderr


async def test_a_stored_address_that_breaks_the_rule_fails_its_mail_at_once(client, db, smtp):
    """An address written before the rule (here straight into the database) is mailed
    to no one: its delivery fails at its first attempt, with no retry, and the other
    recipients' mail goes out as usual."""
    await boss(client)
    mallory, _ = await register(client, "mallory", email="mallory@home.test")
    await register(client, "carol", email="carol@home.test")
    await query_rows(db, "UPDATE users SET role = 'admin' WHERE user_name = 'carol'")
    stored = "carol@home.test, victim1@evil.test, victim2@evil.test"
    await query_rows(db, f"UPDATE users SET email = '{stored}' WHERE user_name = 'carol'")
    order = await make_order(client, mallory)

    async def finished() -> list:
        rows = await query_rows(
            db,
            "SELECT u.user_name, d.status, d.attempts, d.error FROM deliveries d"
            " JOIN users u ON u.id = d.recipient_id ORDER BY u.user_name",
        )
        return rows if rows and all(row[1] != "pending" for row in rows) else []

    rows = await eventually(finished)
    assert rows == [
        ("carol", "failed", 1, "the recipient's email address is not valid"),
        ("merchant", "delivered", 1, ""),
    ]
    ((rcpts, mail),) = smtp.mails()
    assert rcpts == [BOSS] and mail["Subject"] == f"New order #{order['id']}: {ORDER['title']}"
