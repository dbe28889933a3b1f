"""A user's personal data, on both engines: the export holds everything stored about
them, and erasing the account leaves none of their name, email, phone or password
hash in any table (every text column read), while orders and threads stay."""

import aiohttp
import orjson
import pytest
from orderdesk.config import Config

from tests.conftest import (
    PASSWORD,
    assert_fail,
    assert_ok,
    call,
    mail_config,
    make_admin,
    make_order,
    make_staff,
    query_rows,
    quote,
    register,
)
from tests.receivers import eventually

NAME, EMAIL, PHONE = "Zelda-Q", "zq@home.test", "+1 555 0199"
ORDER_PHONE = "+44 20 7946 0958"
NEW_PHONE = "+44 20 7946 0177"
DELETE = "/api/user/delete"
EXPORT = "/api/user/export"
PDF = b"%PDF-1.4 a document"


@pytest.fixture
def config(db, clock, smtp) -> Config:
    return mail_config(
        db,
        clock,
        smtp,
        webhook_allow_private=True,  # a webhook on loopback keeps bodies in the outbox
        webhook_retry_base=1000,  # ...pending for the whole test
    )


async def login(client, name: str, password: str = PASSWORD) -> dict:
    return await call(client, "POST", "/api/login", json={"user_name": name, "password": password})


async def upload(client, token: str) -> dict:
    form = aiohttp.FormData()
    form.add_field("file", PDF, filename="my passport.pdf")
    return assert_ok(await call(client, "POST", "/api/attachment/upload", token=token, data=form))


async def send(client, token: str, order_id: int, text: str, admin: bool = False) -> None:
    path = f"/api{'/admin' if admin else ''}/communication/message/send"
    message = {"comm_order_id": order_id, "message_type": "text", "content": text}
    assert_ok(await call(client, "POST", path, token=token, json=message))


async def customer_with_history(client) -> tuple[str, dict, str, dict]:
    """The merchant's token, and a customer with every kind of record: orders in three
    states with messages, a purchase order, an upload, a webhook body and mail in the
    outbox, failed logins."""
    admin = await make_admin(client)
    hook = {"url": "http://127.0.0.1:9/hook"}
    assert_ok(await call(client, "POST", "/api/admin/webhooks", token=admin, json=hook))
    token, user = await register(client, NAME, email=EMAIL, phone=PHONE)
    pending = await make_order(client, token, phone=ORDER_PHONE, title="Logo")
    quoted = await make_order(client, token, phone=PHONE, title="Theme")
    accepted = await make_order(client, token, title="Banner")
    for order in (pending, quoted, accepted):
        await send(client, token, order["id"], "Here is what I want")
        await send(client, admin, order["id"], "Noted", admin=True)
    await quote(client, admin, quoted["id"])
    await quote(client, admin, accepted["id"])
    accept = {"id": accepted["id"]}
    path = "/api/communication/order/accept"
    assert_ok(await call(client, "POST", path, token=token, json=accept))
    attachment = await upload(client, token)
    for login_name in (NAME, EMAIL, "zq@unknown.test"):
        assert_fail(await login(client, login_name, "not the password"))
    orders = {"pending": pending, "quoted": quoted, "accepted": accepted}
    return admin, user, token, {"orders": orders, "attachment": attachment}


async def test_the_export_holds_everything_stored_about_me(client):
    admin, user, token, made = await customer_with_history(client)
    body = await call(client, "GET", EXPORT, token=token)
    data = assert_ok(body)
    assert data["user"] == assert_ok(await call(client, "GET", "/api/user/detail", token=token))
    assert [set(s) for s in data["sessions"]] == [{"created_time", "last_used_time", "expire"}]
    orders = {order["title"]: order for order in data["orders"]}
    assert set(orders) == {"Logo", "Theme", "Banner"}
    banner = orders["Banner"]
    assert [m["content"] for m in banner["messages"]][:2] == ["Here is what I want", "Noted"]
    assert banner["messages"][-1]["sender_type"] == "system"
    (purchase,) = data["purchase_orders"]
    assert purchase["comm_order_id"] == banner["id"] and purchase["amount"] == 1200000
    (attachment,) = data["attachments"]
    assert attachment == made["attachment"]
    raw = orjson.dumps(data).decode()
    assert token not in raw and "scrypt$" not in raw
    # Only the caller's own.
    other, _ = await register(client, "bob")
    theirs = assert_ok(await call(client, "GET", EXPORT, token=other))
    assert theirs["orders"] == theirs["purchase_orders"] == theirs["attachments"] == []
    assert admin


async def test_the_export_gives_each_sessions_last_use(client, clock):
    """A session's use is written when the one written is a minute old: the export (a
    use itself) shows it to within that minute."""
    token, _ = await register(client, "alice")
    made = int(clock())

    async def last_uses() -> list[tuple[int, int]]:
        data = assert_ok(await call(client, "GET", EXPORT, token=token))
        return [(one["created_time"], one["last_used_time"]) for one in data["sessions"]]

    assert await last_uses() == [(made, made)]
    clock.advance(59)
    assert await last_uses() == [(made, made)]
    clock.advance(1)
    assert await last_uses() == [(made, made + 60)]
    clock.advance(59)
    assert_ok(await call(client, "GET", "/api/user/detail", token=token))
    assert await last_uses() == [(made, made + 60)]
    clock.advance(1)
    assert_ok(await call(client, "GET", "/api/user/detail", token=token))
    clock.advance(30)
    assert await last_uses() == [(made, made + 120)]
    # A renewal (past half of the hour's TTL) is a use too, whenever the last one was.
    clock.advance(1800 - 150 + 1)
    renewed_at = int(clock())
    assert_ok(await call(client, "GET", "/api/user/detail", token=token))
    clock.advance(5)
    assert await last_uses() == [(made, renewed_at)]


async def _text_values(db: str, tables: list[str]) -> dict[str, list[str]]:
    """Every value of every text (and JSON, and BLOB) column of these tables."""
    found: dict[str, list[str]] = {}
    for table in tables:
        if db.startswith("postgresql://"):
            columns = [
                row[0]
                for row in await query_rows(
                    db,
                    """SELECT column_name FROM information_schema.columns
                       WHERE table_schema = current_schema() AND table_name = ?
                         AND data_type IN ('text', 'json', 'jsonb', 'bytea',
                                           'character varying')""",
                    table,
                )
            ]
        else:
            columns = [
                row[1]
                for row in await query_rows(db, f"PRAGMA table_info('{table}')")
                if row[2].upper() in ("TEXT", "BLOB")
            ]
        assert columns, table
        values = []
        for column in columns:
            for (value,) in await query_rows(db, f"SELECT {column} FROM {table}"):
                if isinstance(value, bytes | memoryview):
                    value = bytes(value).decode("latin-1")
                if value is not None:
                    values.append(str(value))
        found[table] = values
    return found


PERSONAL_TABLES = [
    "users",
    "sessions",
    "login_names",
    "messages",
    "comm_orders",
    "purchase_orders",
    "login_failures",
    "deliveries",
    "events",
    "reset_tokens",
    "attachments",
]


async def test_an_erased_account_leaves_no_personal_data(client, config, smtp):
    admin, user, token, made = await customer_with_history(client)
    user_id = user["id"]
    (stored_hash,) = (
        await query_rows(config.db, "SELECT password_hash FROM users WHERE id = ?", user_id)
    )[0]
    assert_ok(await call(client, "POST", "/api/user/password/forgot", json={"email": EMAIL}))
    await eventually(lambda: [m for m in smtp.mails() if m[0] == [EMAIL]])
    # A second session, in another browser.
    other_session = assert_ok(await login(client, EMAIL))["token"]
    before = await _text_values(config.db, PERSONAL_TABLES)
    assert any(PHONE in value for value in before["events"])  # the check can see them
    assert any(ORDER_PHONE in value for value in before["deliveries"])

    wrong = await call(client, "POST", DELETE, token=token, json={"password": "not it at all"})
    assert_fail(wrong, -1, "password is wrong")
    assert_ok(await call(client, "POST", DELETE, token=token, json={"password": PASSWORD}))

    for session in (token, other_session):
        assert_fail(await call(client, "GET", "/api/user/detail", token=session), 1001)
    gone = await client.get(made["attachment"]["logo"])
    assert gone.status == 404

    after = await _text_values(config.db, PERSONAL_TABLES)
    for table, values in after.items():
        for secret in (NAME, EMAIL, PHONE, ORDER_PHONE, stored_hash):
            held = [value for value in values if secret.lower() in value.lower()]
            assert not held, f"{table} still holds {secret!r}: {held[:3]}"
    for login_name in (NAME, EMAIL, PHONE):
        assert_fail(await login(client, login_name), -1, "wrong user name or password")

    # Orders and threads stay for the merchant; the open ones are cancelled.
    orders = made["orders"]
    for kind, status in (("pending", -1), ("quoted", -1), ("accepted", 3)):
        order = assert_ok(
            await call(
                client,
                "GET",
                "/api/admin/communication/order/detail",
                token=admin,
                params={"id": orders[kind]["id"]},
            )
        )
        assert order["status"] == status and order["phone"] == ""
        assert order["user"] == {"id": user_id, "user_name": f"deleted-{user_id}"}
        senders = {m["sender_name"] for m in order["messages"] if m["sender_type"] == "user"}
        assert senders == {f"deleted-{user_id}"}
        if status == -1:
            assert order["messages"][-1]["content"] == "order cancelled"
            assert order["messages"][-1]["sender_type"] == "system"
    # The freed name, email and phone can be registered again.
    again, again_user = await register(client, NAME, email=EMAIL, phone=PHONE)
    assert again_user["id"] != user_id
    assert_ok(await login(client, NAME))
    assert again


async def _events_and_bodies(db: str, order_id: int) -> list[tuple]:
    """The events of an order and the webhook bodies of those events, as stored."""
    rows = await query_rows(
        db,
        "SELECT id, CAST(data AS TEXT) FROM events WHERE comm_order_id = ? ORDER BY id",
        order_id,
    )
    bodies = await query_rows(
        db, "SELECT event_id, payload FROM deliveries WHERE webhook_id IS NOT NULL"
    )
    ids = {event_id for event_id, _ in rows}
    return rows + sorted(body for body in bodies if body[0] in ids)


async def test_an_erasure_leaves_other_users_events_as_written(client, config):
    """The erased user's phone and name leave the events and webhook bodies of their
    orders and of the messages they sent, and no others: not another customer's order
    that holds the same phone, nor the same name in its order_extra, nor a message the
    merchant sent there."""
    admin = await make_admin(client)
    hook = {"url": "http://127.0.0.1:9/hook"}
    assert_ok(await call(client, "POST", "/api/admin/webhooks", token=admin, json=hook))
    staff, staff_user = await make_staff(client, admin, "Sam-Staff")
    token, user = await register(client, NAME)
    theirs = await make_order(client, token, phone=ORDER_PHONE, order_extra={"by": NAME})
    await send(client, token, theirs["id"], "Mine")
    # The order's phone changes: its first events keep the one it had.
    changed = {"id": theirs["id"], "phone": NEW_PHONE}
    assert_ok(
        await call(client, "POST", "/api/communication/order/update", token=token, json=changed)
    )
    bystander, _ = await register(client, "Bea")
    extra = {"note": {"sender_name": NAME}, "staff": {"sender_name": "Sam-Staff"}}
    other = await make_order(client, bystander, phone=ORDER_PHONE, order_extra=extra)
    await send(client, bystander, other["id"], "Hello")
    await send(client, admin, other["id"], "Noted", admin=True)
    await send(client, staff, other["id"], "On it", admin=True)
    before = await _events_and_bodies(config.db, other["id"])
    assert any(ORDER_PHONE in text for _, text in before)  # the check can see them

    assert_ok(await call(client, "POST", DELETE, token=token, json={"password": PASSWORD}))
    assert await _events_and_bodies(config.db, other["id"]) == before
    erased = await _events_and_bodies(config.db, theirs["id"])
    assert erased and not [text for _, text in erased if ORDER_PHONE in text or NEW_PHONE in text]
    senders = {
        orjson.loads(text)["sender_name"]
        for _, text in erased
        if orjson.loads(text).get("sender_type") == "user"
    }
    assert senders == {f"deleted-{user['id']}"}

    # A member of staff erased: their message in another customer's order is renamed,
    # the rest of that order's events and bodies stay.
    assert_ok(await call(client, "POST", DELETE, token=staff, json={"password": PASSWORD}))
    after = await _events_and_bodies(config.db, other["id"])
    changed = [(old, new) for old, new in zip(before, after, strict=True) if old != new]
    assert len(changed) == 2  # the message's event and its webhook body
    for old, new in changed:
        old_text = old[1].replace('"sender_name":"Sam-Staff"', "")
        new_text = new[1].replace(f'"sender_name":"deleted-{staff_user["id"]}"', "")
        assert old_text == new_text and '"content":"On it"' in new[1]


async def test_a_wrong_password_counts_as_a_failed_login(client):
    token, _ = await register(client, NAME)
    for _ in range(5):
        wrong = await call(client, "POST", DELETE, token=token, json={"password": "not it at all"})
        assert_fail(wrong, -1, "password is wrong")
    refused = await call(client, "POST", DELETE, token=token, json={"password": PASSWORD})
    assert_fail(refused, -1, "too many attempts")
    assert_fail(await login(client, NAME), -1, "too many attempts")
    assert_ok(await call(client, "GET", "/api/user/detail", token=token))  # still there


async def test_the_last_admin_cannot_delete_itself(client):
    first = await make_admin(client, "merchant")
    refused = await call(client, "POST", DELETE, token=first, json={"password": PASSWORD})
    assert_fail(refused, -1, "the last admin cannot delete their account")
    assert_ok(await call(client, "GET", "/api/user/detail", token=first))
    second = await make_admin(client, "partner")
    assert_ok(await call(client, "POST", DELETE, token=first, json={"password": PASSWORD}))
    refused = await call(client, "POST", DELETE, token=second, json={"password": PASSWORD})
    assert_fail(refused, -1, "the last admin cannot delete their account")


async def test_a_disabled_admin_does_not_count_as_another_admin(client):
    first = await make_admin(client, "merchant")
    partner = await make_admin(client, "partner")
    partner_id = assert_ok(await call(client, "GET", "/api/user/detail", token=partner))["id"]
    disabled = {"id": partner_id, "disabled": True}
    assert_ok(await call(client, "POST", "/api/admin/users/update", token=first, json=disabled))
    refused = await call(client, "POST", DELETE, token=first, json={"password": PASSWORD})
    assert_fail(refused, -1, "the last admin cannot delete their account")
    assert_ok(await call(client, "GET", "/api/user/detail", token=first))


async def test_erased_names_are_reserved(client):
    token, user = await register(client, NAME)
    assert_ok(await call(client, "POST", DELETE, token=token, json={"password": PASSWORD}))
    taken = await call(
        client,
        "POST",
        "/api/register",
        json={"user_name": f"Deleted-{user['id']}", "password": PASSWORD},
    )
    assert_fail(taken, -1)
    assert "reserved" in taken["msg"]
