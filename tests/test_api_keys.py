"""API keys for other systems: made, listed and revoked by admins; sent as the Token
header or Authorization: Bearer (never as the cookie); acting as their admin with their
own role while that admin is enabled and an admin. Both engines, through HTTP."""

import asyncio

import pytest
from orderdesk import security, texts
from orderdesk.access import Access
from orderdesk.routes import ROUTES

from tests.conftest import (
    PASSWORD,
    assert_fail,
    assert_ok,
    call,
    make_admin,
    make_order,
    make_staff,
    query_rows,
    quote,
    register,
)
from tests.examples import example
from tests.test_events import ended_within, open_stream

KEYS = "/api/admin/api-keys"
DELETE = "/api/admin/api-keys/delete"
DETAIL = "/api/user/detail"
MERCHANT_ORDERS = "/api/admin/communication/orders"  # a STAFF route
WEBHOOKS = "/api/admin/webhooks"  # an ADMIN route
EVIL = "https://evil.example"
NOT_LOGGED_IN = texts.NOT_LOGGED_IN.en
PERMISSION_DENIED = texts.PERMISSION_DENIED.en
NEEDS_SESSION = texts.NEEDS_LOGIN_SESSION.en
# The routes about a login session or the account itself: a key is refused there.
SESSION_ONLY = {"/api/user/password", "/api/user/export", "/api/user/delete"}


async def make_key(client, admin: str, role: str = "staff", name: str = "payments") -> dict:
    made = await call(client, "POST", KEYS, token=admin, json={"name": name, "role": role})
    return assert_ok(made)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def user_id(client, token: str) -> int:
    return assert_ok(await call(client, "GET", DETAIL, token=token))["id"]


async def test_the_key_is_answered_once_and_never_listed(client, clock):
    admin = await make_admin(client)
    admin_id = await user_id(client, admin)
    body = await call(
        client, "POST", KEYS, token=admin, json={"name": "  payments ", "role": "staff"}
    )
    assert body["msg"] == texts.API_KEY_CREATED.en
    made = assert_ok(body)
    key = made.pop("key")
    assert key.startswith("odk_") and len(key) >= len("odk_") + 43  # 256 bits, base64url
    assert set(key[4:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert made == {
        "id": made["id"],
        "name": "payments",
        "role": "staff",
        "user_id": admin_id,
        "created_time": clock(),
        "last_used_time": 0,
    }
    clock.advance(5)
    second = await make_key(client, admin, "admin", "scripts")
    assert second["key"] != key
    listed = assert_ok(await call(client, "GET", KEYS, token=admin))
    assert [k["id"] for k in listed] == [second["id"], made["id"]]  # newest first
    assert listed[1] == made
    assert all("key" not in k for k in listed)


@pytest.mark.parametrize(
    "body, msg",
    [
        ({"role": "staff"}, "name is required"),
        ({"name": "   ", "role": "staff"}, "name must not be empty"),
        ({"name": "x" * 101, "role": "staff"}, "name must be 1-100 characters"),
        ({"name": 5, "role": "staff"}, "name must be a string"),
        ({"name": "ci"}, "role is required"),
        ({"name": "ci", "role": "user"}, "role must be one of admin, staff"),
        ({"name": "ci", "role": "ADMIN"}, "role must be one of admin, staff"),
        ({"name": "ci", "role": True}, "role must be a string"),
    ],
)
async def test_a_key_needs_a_name_and_a_role(client, body, msg):
    admin = await make_admin(client)
    assert_fail(await call(client, "POST", KEYS, token=admin, json=body), -1, msg)
    assert assert_ok(await call(client, "GET", KEYS, token=admin)) == []
    made = await make_key(client, admin, name="x" * 100)
    assert made["name"] == "x" * 100


async def test_only_an_admin_manages_keys(client):
    admin = await make_admin(client)
    made = await make_key(client, admin)
    staff, _ = await make_staff(client, admin)
    customer, _ = await register(client, "carol")
    requests = [("GET", KEYS, None), ("POST", KEYS, {"name": "x", "role": "staff"}),
                ("POST", DELETE, {"id": made["id"]})]  # fmt: skip
    for method, path, body in requests:
        for token, code, msg in ((staff, 1002, PERMISSION_DENIED),
                                 (customer, 1002, PERMISSION_DENIED),
                                 (None, 1001, NOT_LOGGED_IN)):  # fmt: skip
            refused = await call(client, method, path, token=token, json=body)
            assert refused == {"code": code, "msg": msg}
    assert [k["id"] for k in assert_ok(await call(client, "GET", KEYS, token=admin))] == [
        made["id"]
    ]


async def test_a_key_is_sent_as_token_or_bearer_but_never_as_the_cookie(client, clock):
    admin = await make_admin(client)
    me = assert_ok(await call(client, "GET", DETAIL, token=admin))
    key = (await make_key(client, admin))["key"]
    for headers in ({"Token": key}, bearer(key), {"Authorization": f"bearer  {key}"}):
        answer = await client.get(DETAIL, headers=headers)
        assert answer.headers.getall("Set-Cookie", []) == []
        # The admin who made it, with the key's role.
        assert assert_ok(await answer.json()) == {**me, "role": "staff"}
    refused = await call(client, "GET", DETAIL, headers={"Cookie": f"token={key}"})
    assert refused == {"code": 1001, "msg": NOT_LOGGED_IN}
    # The header wins over a cookie, whatever the cookie holds.
    both = {"Token": key, "Cookie": f"token={admin}"}
    assert assert_ok(await call(client, "GET", DETAIL, headers=both))["role"] == "staff"
    # A session token works as Bearer too, and a renewal sets no cookie for it either.
    clock.advance(2000)  # past half of the 3600 s session: due for renewal
    answer = await client.get(DETAIL, headers=bearer(admin))
    assert assert_ok(await answer.json())["role"] == "admin"
    assert answer.headers.getall("Set-Cookie", []) == []
    # Nor does any answer to a key, a POST's included.
    reply = {"title": "hello", "content": "Thank you"}
    answer = await client.post("/api/admin/replies", headers=bearer(key), json=reply)
    assert assert_ok(await answer.json())["title"] == "hello"
    assert answer.headers.getall("Set-Cookie", []) == []
    unknown = await call(client, "GET", DETAIL, headers=bearer("odk_" + "A" * 43))
    assert unknown == {"code": 1001, "msg": NOT_LOGGED_IN}


async def test_a_key_acts_with_its_own_role(client):
    admin = await make_admin(client)
    staff_key = (await make_key(client, admin, "staff"))["key"]
    admin_key = (await make_key(client, admin, "admin"))["key"]
    customer, _ = await register(client)
    order = await make_order(client, customer)
    # STAFF routes: both; the merchant writes as "admin", named as the key's admin.
    for key in (staff_key, admin_key):
        listed = await call(client, "GET", MERCHANT_ORDERS, headers=bearer(key))
        assert [o["id"] for o in assert_ok(listed)] == [order["id"]]
    quoted = await quote(client, staff_key, order["id"])
    assert quoted["status"] == 2  # quoted
    thread = await call(client, "GET", "/api/communication/messages", token=customer,
                        params={"comm_order_id": order["id"]})  # fmt: skip
    last = assert_ok(thread)[-1]
    assert (last["sender_type"], last["sender_name"]) == ("admin", "merchant")
    # ADMIN routes: the admin key only, like a staff session.
    hook = {"url": "http://93.184.216.34/hook"}
    for path, body in ((WEBHOOKS, None), (KEYS, None)):
        refused = await call(client, "GET", path, headers=bearer(staff_key), json=body)
        assert refused == {"code": 1002, "msg": PERMISSION_DENIED}
    refused = await call(client, "POST", WEBHOOKS, headers=bearer(staff_key), json=hook)
    assert refused == {"code": 1002, "msg": PERMISSION_DENIED}
    assert assert_ok(await call(client, "POST", WEBHOOKS, headers=bearer(admin_key), json=hook))
    made = await make_key(client, admin_key, "staff", "made by a key")
    assert made["user_id"] == await user_id(client, admin)


async def test_every_route_answers_a_key_without_an_internal_error(client):
    """Each protected route's example request, sent with a staff and an admin key:
    refused for the role or for needing a login session exactly where it should be,
    never as not logged in, never an internal error (`call` checks that)."""
    admin = await make_admin(client)
    keys = {role: (await make_key(client, admin, role))["key"] for role in ("staff", "admin")}
    # Not here: the stream (its own test below), an upload (multipart), and revoking a
    # key (the one in use).
    skipped = {"/api/events", "/api/attachment/upload", DELETE}
    for method, path, _, access in ROUTES:
        if access is Access.PUBLIC or path in skipped:
            continue
        for role, key in keys.items():
            payload = example(method, path)
            if method == "GET":
                body = await call(client, method, path, token=key, params=payload)
            else:
                body = await call(client, method, path, token=key, json=payload)
            if path in SESSION_ONLY:
                assert body == {"code": -1, "msg": NEEDS_SESSION}, (path, body)
            elif access is Access.ADMIN and role == "staff":
                assert body == {"code": 1002, "msg": PERMISSION_DENIED}, (path, body)
            else:
                assert body["code"] not in (1001, 1002), (role, path, body)


async def test_routes_about_the_login_session_refuse_a_key(client):
    admin = await make_admin(client)
    key = (await make_key(client, admin, "admin"))["key"]
    refusals = [
        ("/api/logout", {}),
        ("/api/logout", {"all": True}),
        ("/api/user/password", {"old_password": PASSWORD, "password": "another password"}),
        ("/api/user/delete", {"password": PASSWORD}),
    ]
    for path, body in refusals:
        for headers in ({"Token": key}, bearer(key)):
            refused = await call(client, "POST", path, headers=headers, json=body)
            assert refused == {"code": -1, "msg": NEEDS_SESSION}, path
    zh = await call(client, "GET", "/api/user/export", token=key,
                    headers={"Accept-Language": "zh"})  # fmt: skip
    assert zh == {"code": -1, "msg": texts.NEEDS_LOGIN_SESSION.zh}
    # Nothing was revoked or changed: the key, the session and the password still work.
    assert assert_ok(await call(client, "GET", DETAIL, token=key))
    assert assert_ok(await call(client, "GET", DETAIL, token=admin))
    login = {"user_name": "merchant", "password": PASSWORD}
    assert assert_ok(await call(client, "POST", "/api/login", json=login))
    # A key in the cookie is no credential: logging out with it ends nothing.
    logout = await client.post("/api/logout", headers={"Cookie": f"token={key}"})
    assert assert_ok(await logout.json()) is None
    assert assert_ok(await call(client, "GET", DETAIL, token=key))


async def test_a_key_post_from_another_site_is_not_a_forged_form(client):
    admin = await make_admin(client)
    key = (await make_key(client, admin))["key"]
    reply = {"title": "hello", "content": "Thank you"}
    for headers in ({"Token": key}, bearer(key)):
        sent = await call(client, "POST", "/api/admin/replies", json=reply,
                          headers={**headers, "Origin": EVIL})  # fmt: skip
        assert assert_ok(sent)["title"] == "hello"
    # The cookie alone is still checked (a session's), and a key there counts for nothing.
    forged = await call(client, "POST", "/api/admin/replies", json=reply,
                        headers={"Cookie": f"token={admin}", "Origin": EVIL})  # fmt: skip
    assert forged == {"code": 1002, "msg": PERMISSION_DENIED}
    in_cookie = await call(client, "POST", "/api/admin/replies", json=reply,
                           headers={"Cookie": f"token={key}", "Origin": EVIL})  # fmt: skip
    assert in_cookie == {"code": 1001, "msg": NOT_LOGGED_IN}


async def test_a_revoked_key_is_refused_at_once(client):
    admin = await make_admin(client)
    made, kept = await make_key(client, admin), await make_key(client, admin, name="kept")
    assert assert_ok(await call(client, "GET", MERCHANT_ORDERS, token=made["key"])) == []
    deleted = await call(client, "POST", DELETE, token=admin, json={"id": made["id"]})
    assert deleted == {"code": 0, "msg": texts.API_KEY_DELETED.en}
    refused = await call(client, "GET", MERCHANT_ORDERS, token=made["key"])
    assert refused == {"code": 1001, "msg": NOT_LOGGED_IN}
    again = await call(client, "POST", DELETE, token=admin, json={"id": made["id"]})
    assert again == {"code": -1, "msg": texts.API_KEY_NOT_FOUND.en}
    assert_fail(await call(client, "POST", DELETE, token=admin, json={"id": "x"}), -1,
                "id must be a positive integer")  # fmt: skip
    listed = assert_ok(await call(client, "GET", KEYS, token=admin))
    assert [k["id"] for k in listed] == [kept["id"]]
    assert assert_ok(await call(client, "GET", MERCHANT_ORDERS, token=kept["key"])) == []


@pytest.mark.parametrize("change", [{"disabled": True}, {"role": "staff"}, {"role": "user"}])
async def test_disabling_or_demoting_the_admin_stops_their_keys(client, change):
    boss = await make_admin(client, "boss")
    admin = await make_admin(client)
    admin_id = await user_id(client, admin)
    key = (await make_key(client, admin, "staff"))["key"]
    others = (await make_key(client, boss, "staff"))["key"]
    assert_ok(await call(client, "GET", MERCHANT_ORDERS, token=key))
    changed = await call(client, "POST", "/api/admin/users/update", token=boss,
                         json={"id": admin_id, **change})  # fmt: skip
    assert_ok(changed)
    refused = await call(client, "GET", MERCHANT_ORDERS, token=key)
    assert refused == {"code": 1001, "msg": NOT_LOGGED_IN}
    assert_ok(await call(client, "GET", MERCHANT_ORDERS, token=others))


async def test_erasing_an_admins_account_deletes_their_keys(client):
    boss = await make_admin(client, "boss")
    admin = await make_admin(client)
    key = (await make_key(client, admin))["key"]
    kept = await make_key(client, boss)
    assert_ok(
        await call(client, "POST", "/api/user/delete", token=admin, json={"password": PASSWORD})
    )
    assert (await call(client, "GET", DETAIL, token=key))["code"] == 1001
    assert [k["id"] for k in assert_ok(await call(client, "GET", KEYS, token=boss))] == [kept["id"]]


async def test_the_last_use_is_written_at_most_once_a_minute(client, clock):
    admin = await make_admin(client)
    made = await make_key(client, admin)

    async def last_used() -> int:
        listed = assert_ok(await call(client, "GET", KEYS, token=admin))
        return next(k["last_used_time"] for k in listed if k["id"] == made["id"])

    assert await last_used() == 0  # never
    first = clock()
    assert_ok(await call(client, "GET", MERCHANT_ORDERS, token=made["key"]))
    assert await last_used() == first
    clock.advance(59)
    assert_ok(await call(client, "GET", MERCHANT_ORDERS, headers=bearer(made["key"])))
    assert await last_used() == first  # not rewritten within the minute
    clock.advance(1)
    assert_ok(await call(client, "GET", MERCHANT_ORDERS, token=made["key"]))
    assert await last_used() == first + 60


async def test_the_database_holds_no_key(client, db):
    admin = await make_admin(client)
    made = await make_key(client, admin)
    assert_ok(await call(client, "GET", DETAIL, token=made["key"]))  # its last use written
    rows = await query_rows(db, "SELECT * FROM api_keys")
    assert len(rows) == 1
    secret = made["key"].encode()
    for value in rows[0]:
        stored = bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
        assert secret not in stored and secret[4:] not in stored
    assert security.token_hash(made["key"]) in [
        bytes(value) for value in rows[0] if isinstance(value, bytes | memoryview)
    ]


@pytest.mark.parametrize(
    "how", ["revoked", "deleted by another process", "admin disabled", "admin demoted"]
)
async def test_a_stream_opened_with_a_key_ends_with_the_key(client, db, how):
    """Revoked here it ends at once; by another app server or process, or with its admin
    disabled or demoted, the streams' regular look at their credentials ends it."""
    boss = await make_admin(client, "boss")
    admin = await make_admin(client)
    admin_id = await user_id(client, admin)
    made = await make_key(client, admin, "admin")
    customer, _ = await register(client)
    order = await make_order(client, customer)
    stream = await open_stream(client, made["key"])
    await quote(client, boss, order["id"])
    assert (await stream.next())["event"] == "order.updated"  # the merchant's events
    started = asyncio.get_running_loop().time()
    if how == "revoked":
        assert_ok(await call(client, "POST", DELETE, token=boss, json={"id": made["id"]}))
    elif how == "deleted by another process":
        await query_rows(db, "DELETE FROM api_keys WHERE id = ?", made["id"])
    else:
        change = {"disabled": True} if how == "admin disabled" else {"role": "staff"}
        assert_ok(await call(client, "POST", "/api/admin/users/update", token=boss,
                             json={"id": admin_id, **change}))  # fmt: skip
    await ended_within(stream, started)
    stream.close()
