"""Accounts and sessions."""

import asyncio
import os
import subprocess
import sys

import pytest
from orderdesk import security
from orderdesk.keys import STORE
from orderdesk.store import accounts, orders

from tests.conftest import PASSWORD, assert_fail, assert_ok, call, register


async def login(client, user_name: str, password: str = PASSWORD) -> dict:
    return await call(
        client, "POST", "/api/login", json={"user_name": user_name, "password": password}
    )


async def me(client, token: str | None = None, **kwargs) -> dict:
    return await call(client, "GET", "/api/user/detail", token=token, **kwargs)


async def test_register_logs_in_and_returns_the_user(client):
    body = await call(
        client,
        "POST",
        "/api/register",
        json={"user_name": " Alice ", "password": PASSWORD, "email": "a@x.test", "phone": "12345"},
    )
    user = assert_ok(body)
    assert set(user) == {
        "id", "user_name", "email", "phone", "role", "created_time", "notify_email", "token",
        "expire",
    }  # fmt: skip
    assert (user["user_name"], user["email"], user["phone"], user["role"]) == (
        "Alice", "a@x.test", "12345", "user",
    )  # fmt: skip
    assert len(user["token"]) >= 22 and user["expire"] == user["created_time"] + 3600
    shown = assert_ok(await me(client, user["token"]))
    assert shown == {k: v for k, v in user.items() if k not in ("token", "expire")}


async def test_the_password_is_stored_hashed_and_never_returned(client):
    token, user = await register(client)
    assert "password" not in str(assert_ok(await me(client, token)))
    stored = await client.server.app[STORE].read(accounts.get_login_user, "alice")
    assert stored["password_hash"].startswith("scrypt$") and PASSWORD not in stored["password_hash"]


def test_passwords_are_hashed_at_the_real_cost_unless_lowered():
    """The suite lowers the scrypt cost (conftest); a server without the setting hashes
    at N=2^14, and every hash verifies at its own stored cost, whichever is set."""
    made = subprocess.run(
        [
            sys.executable,
            "-c",
            "from orderdesk import security; print(security.hash_password('pw'))",
        ],
        env={k: v for k, v in os.environ.items() if k != "ORDERDESK_SCRYPT_COST"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert made.startswith("scrypt$16384$8$1$")
    assert security.SCRYPT_COST < security.SCRYPT_COST_DEFAULT
    cheap = security.hash_password("pw")
    assert cheap.startswith(f"scrypt${2**security.SCRYPT_COST}$8$1$")
    for stored in (made, cheap):
        assert security.verify_password("pw", stored)
        assert not security.verify_password("pW", stored)


@pytest.mark.parametrize(
    "clash, field",
    [
        ({"user_name": "ALICE"}, "user_name"),
        ({"user_name": "bob", "email": "A@X.TEST"}, "email"),
        ({"user_name": "bob", "phone": "12345"}, "phone"),
    ],
)
async def test_user_name_email_and_phone_are_unique(client, clash, field):
    await register(client, "alice", email="a@x.test", phone="12345")
    body = await call(client, "POST", "/api/register", json={"password": PASSWORD, **clash})
    assert_fail(body, msg=f"{field} is already taken")


BAD_REGISTRATIONS = [
    ({"password": PASSWORD}, "user_name is required"),
    ({"user_name": "a", "password": PASSWORD}, "user_name must be 2-64 characters"),
    ({"user_name": "a" * 65, "password": PASSWORD}, "user_name must be 2-64 characters"),
    ({"user_name": 42, "password": PASSWORD}, "user_name must be a string"),
    ({"user_name": "bob"}, "password is required"),
    ({"user_name": "bob", "password": "short"}, "password must be 8-128 characters"),
    ({"user_name": "bob", "password": "p" * 129}, "password must be 8-128 characters"),
    (
        {"user_name": "bob", "password": PASSWORD, "email": "nope"},
        "email must be one address such as name@example.com",
    ),
    (
        {"user_name": "bob", "password": PASSWORD, "email": "a@" + "x" * 253},
        "email must be at most 254 characters",
    ),
    (
        {"user_name": "bob", "password": PASSWORD, "phone": "phone!"},
        "phone may contain only digits, spaces and + - ( )",
    ),
]


@pytest.mark.parametrize("body, message", BAD_REGISTRATIONS)
async def test_bad_registrations_are_refused_and_create_nobody(client, body, message):
    assert_fail(await call(client, "POST", "/api/register", json=body), msg=message)
    assert await client.server.app[STORE].read(accounts.get_login_user, "bob") is None


async def test_passwords_are_not_trimmed(client):
    await call(
        client, "POST", "/api/register", json={"user_name": "bob", "password": " spaced pw "}
    )
    assert_fail(await login(client, "bob", "spaced pw"))
    assert_ok(await login(client, "bob", " spaced pw "))


async def test_login_by_name_ignoring_case_email_or_phone(client):
    await register(client, "Alice", email="alice@x.test", phone="555 0100")
    for login_name in ("alice", "ALICE", "Alice@X.test", "555 0100"):
        user = assert_ok(await login(client, login_name))
        assert user["user_name"] == "Alice" and user["token"]


async def test_wrong_credentials_answer_one_message(client):
    await register(client)
    wrong_password = await login(client, "alice", "not the password")
    unknown_user = await login(client, "nobody", PASSWORD)
    assert wrong_password == unknown_user == {"code": -1, "msg": "wrong user name or password"}


async def test_logout_revokes_the_session_at_once_and_clears_the_cookie(client):
    token, _ = await register(client)
    response = await client.post("/api/logout", headers={"Token": token})
    assert (await response.json())["code"] == 0
    assert 'token=""' in response.headers["Set-Cookie"]
    assert_fail(await me(client, token), code=1001)


async def test_logout_without_a_session_still_answers_ok(client):
    assert_ok(await call(client, "POST", "/api/logout"))


async def test_cookie_attributes_and_cookie_login(client):
    response = await client.post("/api/register", json={"user_name": "alice", "password": PASSWORD})
    cookie = response.cookies["token"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert cookie["max-age"] == "3600"
    assert not cookie["secure"]  # plain HTTP here
    token = (await response.json())["data"]["token"]
    assert cookie.value == token
    assert_ok(await me(client, headers={"Cookie": f"token={token}"}))


async def test_the_header_wins_over_the_cookie(client):
    alice, _ = await register(client, "alice")
    bob, _ = await register(client, "bob")
    shown = assert_ok(await me(client, alice, headers={"Cookie": f"token={bob}"}))
    assert shown["user_name"] == "alice"


@pytest.mark.parametrize("token", ["", "garbage", "x" * 500])
async def test_unknown_tokens_are_not_logged_in(client, token):
    assert_fail(await me(client, headers={"Token": token}), code=1001)


async def test_sessions_expire_after_the_ttl(client, clock):
    token, _ = await register(client)
    clock.advance(3599)
    assert_ok(await me(client, token))  # used late: renewed for another hour
    clock.advance(3599)
    assert_ok(await me(client, token))
    clock.advance(3600)
    assert_fail(await me(client, token), code=1001)


async def test_a_session_is_renewed_only_past_half_its_life(client, clock):
    token, _ = await register(client)
    clock.advance(1700)  # more than half left: not renewed
    response = await client.get("/api/user/detail", headers={"Cookie": f"token={token}"})
    assert "Set-Cookie" not in response.headers
    clock.advance(1901)  # 3601 s since login: expired, no renewal happened
    assert_fail(await me(client, token), code=1001)


async def test_renewal_refreshes_a_browsers_cookie(client, clock):
    token, _ = await register(client)
    clock.advance(2000)
    response = await client.get("/api/user/detail", headers={"Cookie": f"token={token}"})
    assert response.cookies["token"].value == token
    assert response.cookies["token"]["max-age"] == "3600"


async def test_anonymous_user_detail_is_not_logged_in(client):
    assert_fail(await me(client), code=1001)


# ---------------------------------------------------------------- throttling

TOO_MANY = {"code": -1, "msg": "too many attempts"}
WRONG = {"code": -1, "msg": "wrong user name or password"}


async def test_five_failures_lock_the_pair_for_fifteen_minutes(client, clock):
    await register(client)
    for _ in range(5):
        assert await login(client, "alice", "wrong password") == WRONG
    assert await login(client, "alice") == TOO_MANY  # even the right password
    assert await login(client, "ALICE") == TOO_MANY
    clock.advance(15 * 60 + 1)
    assert_ok(await login(client, "alice"))


async def test_unknown_users_are_throttled_alike(client):
    for _ in range(5):
        assert await login(client, "ghost", "whatever1") == WRONG
    assert await login(client, "ghost", "whatever1") == TOO_MANY


async def test_a_success_resets_the_count(client):
    await register(client)
    for _ in range(4):
        await login(client, "alice", "wrong password")
    assert_ok(await login(client, "alice"))
    for _ in range(4):
        assert await login(client, "alice", "wrong password") == WRONG
    assert_ok(await login(client, "alice"))


@pytest.mark.faults_expected
async def test_tokens_and_passwords_never_reach_the_logs(client, caplog, monkeypatch):
    caplog.set_level("DEBUG")
    token, _ = await register(client)
    login_token = assert_ok(await login(client, "alice"))["token"]
    assert_ok(await me(client, token))
    await me(client, headers={"Cookie": f"token={login_token}"})

    async def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(orders, "list_orders", broken)
    await client.get("/api/communication/orders", headers={"Token": token})  # the fault
    await call(client, "POST", "/api/logout", token=token)
    logged = "\n".join(
        record.getMessage() + (caplog.text if record.exc_info else "") for record in caplog.records
    )
    assert "boom" in logged  # the fault was logged...
    for secret in (token, login_token, PASSWORD):
        assert secret not in logged  # ...without any secret


async def test_a_used_session_is_still_revoked_at_once_by_logout(client):
    token, _ = await register(client)
    for _ in range(3):  # used: whatever caching there is has seen it
        assert_ok(await me(client, token))
    assert_ok(await call(client, "POST", "/api/logout", token=token))
    assert_fail(await me(client, token), code=1001)


async def test_logout_racing_with_use_never_lets_the_token_back(client):
    token, _ = await register(client)
    uses = [me(client, token) for _ in range(20)]
    await asyncio.gather(*uses, call(client, "POST", "/api/logout", token=token))
    assert_fail(await me(client, token), code=1001)


async def test_a_used_session_still_expires_on_time(client, clock):
    token, _ = await register(client)
    clock.advance(1000)
    assert_ok(await me(client, token))  # more than half left: used, not renewed
    clock.advance(2601)  # 3601 s after login
    assert_fail(await me(client, token), code=1001)


async def test_a_promotion_revokes_live_sessions_at_once(client):
    token, _ = await register(client, "clerk")
    assert_ok(await me(client, token))  # used: cached where the engine caches
    _, done = await client.server.app[STORE].write(
        accounts.save_admin, "clerk", None, "scrypt$1$1$1$AA==$AA=="
    )
    assert done == "promoted"
    assert_fail(await me(client, token), code=1001)
