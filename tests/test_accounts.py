"""Accounts: login fields and `remember`, user-name rules, one
login namespace, throttling per (account, address) pair and per address, password
change, log out everywhere, the session cap, the registration rate, and create-admin
revoking sessions. Through the HTTP API, on both engines.

A second client address: the aiohttp test client always connects from 127.0.0.1, so
`elsewhere` is a second session whose sockets are bound to 127.0.0.2."""

import asyncio
import contextlib
import dataclasses
import sqlite3
import time
from pathlib import Path

import aiohttp
import asyncpg
import orderdesk
import pytest
from orderdesk import security
from orderdesk.app import create_app
from orderdesk.config import Config, add_serve_arguments, config_from_args

from tests.conftest import (
    PASSWORD,
    assert_fail,
    assert_ok,
    call,
    make_admin,
    query_rows,
    register,
)
from tests.live import run_cli

WRONG = {"code": -1, "msg": "wrong user name or password"}
TOO_MANY = {"code": -1, "msg": "too many attempts"}
BAD_NAME = "user_name must not contain control, format or line separator characters"
WINDOW = 15 * 60


@pytest.fixture
def make_client(config, aiohttp_client):
    """A client of the app with some settings changed."""

    async def make(**settings):
        app = create_app(dataclasses.replace(config, **settings))
        return await aiohttp_client(app, cookie_jar=aiohttp.DummyCookieJar())

    return make


@contextlib.asynccontextmanager
async def elsewhere(client, address: str = "127.0.0.2"):
    """A client of the same server connecting from another address."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    async with aiohttp.ClientSession(
        base_url=str(client.server.make_url("/")),
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
    ) as session:
        yield session


async def login(client, password: str = PASSWORD, **fields) -> dict:
    fields = fields or {"user_name": "alice"}
    return await call(client, "POST", "/api/login", json={**fields, "password": password})


async def me(client, token: str) -> dict:
    return await call(client, "GET", "/api/user/detail", token=token)


async def fail_logins(client, times: int, password: str = "wrong password", **fields) -> None:
    for _ in range(times):
        assert await login(client, password, **fields) == WRONG


# ---------------------------------------------------------------- login fields, remember


async def test_login_by_the_email_or_phone_field_or_either_in_user_name(client):
    await register(client, "alice", email="alice@x.test", phone="555 0100")
    for fields in (
        {"email": "ALICE@x.test"},
        {"phone": "555 0100"},
        {"user_name": "alice@x.test"},
        {"user_name": "555 0100"},
        {"user_name": "alice", "email": "nobody@x.test", "phone": "000000"},  # user_name first
        {"user_name": None, "email": "alice@x.test", "phone": "000000"},  # null: not sent
    ):
        assert assert_ok(await login(client, **fields))["user_name"] == "alice", fields
    assert await login(client, email="nobody@x.test", phone="555 0100") == WRONG


@pytest.mark.parametrize(
    "body, message",
    [
        ({"password": PASSWORD}, "user_name is required"),
        ({"email": "", "password": PASSWORD}, "email must not be empty"),
        ({"phone": 5550100, "password": PASSWORD}, "phone must be a string"),
        ({"user_name": "alice", "password": PASSWORD, "remember": "yes"},
         "remember must be true or false"),
        ({"user_name": "alice", "password": PASSWORD, "remember": 1},
         "remember must be true or false"),
    ],
)  # fmt: skip
async def test_bad_login_bodies_name_the_field(client, body, message):
    await register(client)
    assert_fail(await call(client, "POST", "/api/login", json=body), msg=message)


async def test_remember_gives_a_long_session_renewed_by_its_own_ttl(make_client, clock):
    client = await make_client(remember_ttl=7200)
    await register(client)
    response = await client.post(
        "/api/login", json={"user_name": "alice", "password": PASSWORD, "remember": True}
    )
    session = assert_ok(await response.json())
    token = session["token"]
    assert session["expire"] == int(clock.now) + 7200
    assert response.cookies["token"]["max-age"] == "7200"
    short = assert_ok(await login(client))
    assert short["expire"] == int(clock.now) + 3600  # --session-ttl without remember

    clock.advance(3500)  # more than half of 7200 left: not renewed
    renewed = await client.get("/api/user/detail", headers={"Cookie": f"token={token}"})
    assert "Set-Cookie" not in renewed.headers
    clock.advance(101)  # 3601 s: the short session is over, the long one is renewed now
    assert_fail(await me(client, short["token"]), code=1001)
    renewed = await client.get("/api/user/detail", headers={"Cookie": f"token={token}"})
    assert (await renewed.json())["code"] == 0
    assert renewed.cookies["token"]["max-age"] == "7200"
    clock.advance(7199)  # 7199 s after the renewal, 10800 s after login
    assert_ok(await me(client, token))
    clock.advance(7200)
    assert_fail(await me(client, token), code=1001)


# ---------------------------------------------------------------- user names


async def test_user_names_are_nfkc_normalized(client):
    await register(client, "alice")
    fullwidth = {"user_name": "ａｌｉｃｅ", "password": PASSWORD}
    assert_fail(await call(client, "POST", "/api/register", json=fullwidth),
                msg="user_name is already taken")  # fmt: skip
    assert assert_ok(await login(client, user_name="ＡＬＩＣＥ"))["user_name"] == "alice"
    _, bob = await register(client, "ｂｏｂ")
    assert bob["user_name"] == "bob"


RESERVED = 'user_name must not be "system": the name is reserved'
MIXED = (
    "user_name must not mix writing systems (Latin letters may be mixed only with "
    "Chinese, Japanese or Korean characters)"
)


async def test_a_wholly_cyrillic_name_is_another_name(client):
    _, latin = await register(client, "alice")
    _, cyrillic = await register(client, "\u0430лиса")
    assert cyrillic["user_name"] == "\u0430лиса" and cyrillic["id"] != latin["id"]
    assert assert_ok(await login(client, user_name="\u0430лиса"))["id"] == cyrillic["id"]


@pytest.mark.parametrize(
    "name",
    [
        "system",
        "System",
        "SYSTEM",
        "  sYsTeM ",
        "ｓｙｓｔｅｍ",  # full-width: NFKC makes it "system"
        "\u017fystem",  # long s: NFKC makes it "system"
    ],
)
async def test_system_can_neither_be_registered_nor_used_to_log_in(client, db, name):
    body = await call(
        client, "POST", "/api/register", json={"user_name": name, "password": PASSWORD}
    )
    assert body == {"code": -1, "msg": RESERVED}
    assert await login(client, user_name=name) == {"code": -1, "msg": RESERVED}
    email = 'email must not be "system": the name is reserved'
    assert await login(client, email=name) == {"code": -1, "msg": email}
    assert await query_rows(db, "SELECT COUNT(*) FROM users") == [(0,)]
    _, near = await register(client, "system2")  # only the name itself is reserved
    assert near["user_name"] == "system2"


@pytest.mark.parametrize(
    "name",
    [
        "m\u0435rchant",  # Cyrillic е among Latin letters
        "\u0430lice",  # Cyrillic а
        "p\u0430ypal",
        "abc\u03b1",  # Greek α
        "\u03a9mega",  # Greek Ω
        "Иван Smith",  # Cyrillic and Latin words
        "Ιωάννης Иван",  # Greek and Cyrillic
        "たろう김",  # Hiragana with Hangul: neither Japanese nor Korean alone
        "mix\u092e\u0930\u093e",  # Devanagari with Latin
        "\u0627\u0644\u0633abc",  # Arabic with Latin
    ],
)
async def test_names_mixing_scripts_beyond_highly_restrictive_are_refused(client, db, name):
    body = await call(
        client, "POST", "/api/register", json={"user_name": name, "password": PASSWORD}
    )
    assert body == {"code": -1, "msg": MIXED}
    assert await query_rows(db, "SELECT COUNT(*) FROM users") == [(0,)]


async def test_names_of_one_script_or_latin_with_chinese_japanese_korean_are_fine(client):
    names = [
        "Alice_123",
        "zoë-o'neil",
        "Иван",
        "Ωμέγα 7",
        "山田たろう",  # Han, Hiragana
        "東京タワー",  # Han, Katakana
        "Tarō山田",  # Latin, Han
        "yamadaたろう",  # Latin, Hiragana
        "Kim김철수",  # Latin, Hangul
        "kim金",
        "wang王ㄅ",  # Latin, Han, Bopomofo
        "\u092e\u0930\u093e\u0920\u0940",  # Devanagari
    ]
    for name in names:
        _, user = await register(client, name)
        assert user["user_name"] == name


@pytest.mark.parametrize(
    "name",
    [
        "alice\u200b",  # zero-width space (Cf)
        "ali\nce",  # newline (Cc)
        "alice\n",  # even where trimming would remove it
        "\u202ealice",  # right-to-left override (Cf)
        "ali\tce",  # tab (Cc)
        "al\u2028ice",  # line separator (Zl)
        "al\u2029ice",  # paragraph separator (Zp)
        "al\u00adice",  # soft hyphen (Cf)
    ],
)
async def test_control_format_and_separator_characters_are_refused(client, name):
    body = {"user_name": name, "password": PASSWORD}
    assert_fail(await call(client, "POST", "/api/register", json=body), msg=BAD_NAME)
    assert await login(client, user_name="alice") == WRONG  # nobody was created


# ---------------------------------------------------------------- one login namespace


@pytest.mark.parametrize(
    "clash, field",
    [
        ({"user_name": "A@X.test"}, "user_name"),  # another account's email, any case
        ({"user_name": "555 0100"}, "user_name"),  # another account's phone
        ({"user_name": "bob", "email": "CAROL@x.test"}, "email"),  # another account's name
        ({"user_name": "bob", "phone": "555 0100"}, "phone"),
        ({"user_name": "sTrAsse"}, "user_name"),  # ASCII case is ignored
    ],
)
async def test_a_value_in_use_as_any_login_cannot_be_taken_as_another(client, clash, field):
    await register(client, "alice", email="a@x.test", phone="555 0100")
    await register(client, "STRASSE")
    await register(client, "carol@x.test")
    body = await call(client, "POST", "/api/register", json={"password": PASSWORD, **clash})
    assert_fail(body, msg=f"{field} is already taken")


async def test_only_ascii_case_is_ignored(client):
    """Unique ignoring ASCII case; other letters keep their case."""
    await register(client, "STRASSE")
    await register(client, "Straße")
    await register(client, "ÄRGER")
    _, other = await register(client, "ärger")
    assert assert_ok(await login(client, user_name="ärger"))["id"] == other["id"]


async def test_one_account_may_use_one_value_twice(client):
    _, user = await register(client, "5550100", phone="5550100")
    assert assert_ok(await login(client, phone="5550100"))["id"] == user["id"]


async def test_a_name_can_no_longer_shadow_another_login(client):
    await register(client, "alice", email="alice@x.test")
    body = {"user_name": "alice@x.test", "password": "another password"}
    assert_fail(await call(client, "POST", "/api/register", json=body),
                msg="user_name is already taken")  # fmt: skip
    assert assert_ok(await login(client, user_name="alice@x.test"))["user_name"] == "alice"


async def test_concurrent_claims_of_one_value_admit_one_account(client):
    value = "shared@x.test"
    bodies = [
        {"user_name": value} if n % 2 else {"user_name": f"user{n}", "email": value}
        for n in range(8)
    ]
    answers = await asyncio.gather(
        *(
            call(client, "POST", "/api/register", json={**body, "password": PASSWORD})
            for body in bodies
        )
    )
    assert sum(answer["code"] == 0 for answer in answers) == 1, answers
    assert all(
        answer["msg"] in ("user_name is already taken", "email is already taken")
        for answer in answers
        if answer["code"]
    ), answers


# ---------------------------------------------------------------- throttling


async def test_five_failures_lock_the_pair_not_the_account_elsewhere(client):
    await register(client)
    await fail_logins(client, 5)
    assert await login(client) == TOO_MANY  # even the right password, from this address
    async with elsewhere(client) as other:
        assert_ok(await login(other))  # the same account from another address


async def test_the_three_aliases_of_an_account_share_one_count(client):
    await register(client, "alice", email="alice@x.test", phone="555 0100")
    await fail_logins(client, 2, user_name="ALICE")
    await fail_logins(client, 2, email="alice@x.test")
    await fail_logins(client, 1, user_name="555 0100")
    for fields in ({"user_name": "alice"}, {"email": "alice@x.test"}, {"phone": "555 0100"}):
        assert await login(client, **fields) == TOO_MANY


async def test_an_unknown_name_counts_under_its_folded_form(client):
    await fail_logins(client, 3, user_name="Ghost")
    await fail_logins(client, 2, user_name="ＧＨＯＳＴ")
    assert await login(client, user_name="ghost") == TOO_MANY


async def test_a_success_clears_its_own_pair_never_the_address_count(client):
    await register(client)
    await fail_logins(client, 4)
    assert_ok(await login(client))
    await fail_logins(client, 4)  # the pair starts again from 0: no refusal yet
    for name in ("ghost1", "ghost2", "ghost3"):
        await fail_logins(client, 4, user_name=name)
    # 4 + 4 + 12 = 20 failures from this address: the success cleared none of them.
    assert await login(client) == TOO_MANY
    assert await login(client, user_name="anyone") == TOO_MANY
    async with elsewhere(client) as other:
        assert_ok(await login(other))


async def test_twenty_failures_from_one_address_refuse_every_name(client, clock):
    await register(client)
    for n in range(5):
        await fail_logins(client, 4, user_name=f"guess{n}")
    assert await login(client) == TOO_MANY
    clock.advance(WINDOW + 1)
    assert_ok(await login(client))


async def test_the_address_limit_is_a_setting_and_zero_turns_it_off(make_client):
    tight = await make_client(max_login_failures_per_address=2)
    await register(tight)
    await fail_logins(tight, 2, user_name="guess")
    assert await login(tight) == TOO_MANY
    client = await make_client(max_login_failures_per_address=0)  # the same database
    for n in range(8):
        await fail_logins(client, 5, user_name=f"guess{n}")
    assert_ok(await login(client))


async def test_a_refused_login_is_not_counted_again(client, clock):
    await register(client)
    await fail_logins(client, 5)
    clock.advance(600)
    for _ in range(3):
        assert await login(client, "wrong password") == TOO_MANY
    clock.advance(WINDOW - 600 + 1)  # the 5 failures are out of the window
    assert_ok(await login(client))


async def test_concurrent_correct_logins_all_succeed(client):
    await register(client)
    answers = await asyncio.gather(*(login(client) for _ in range(15)))
    assert all(answer["code"] == 0 for answer in answers), answers
    assert len({answer["data"]["token"] for answer in answers}) == 15


async def test_concurrent_wrong_guesses_stop_after_the_fifth_failure(client):
    await register(client)
    answers = await asyncio.gather(*(login(client, f"guess {n}") for n in range(12)))
    assert sum(answer == WRONG for answer in answers) == 5, answers
    assert sum(answer == TOO_MANY for answer in answers) == 7, answers
    assert await login(client) == TOO_MANY


async def test_concurrent_guesses_at_many_names_stop_at_the_address_limit(client):
    """Spraying: 30 simultaneous wrong logins under 30 names from one address get 20
    answers and 10 refusals, not 30 answers."""
    guesses = [login(client, "wrong 1", user_name=f"n{n}") for n in range(30)]
    answers = await asyncio.gather(*guesses)
    assert answers.count(WRONG) == 20 and answers.count(TOO_MANY) == 10, answers


async def test_two_app_servers_decide_one_pair_one_attempt_at_a_time(make_client, db):
    """PostgreSQL serves several app servers: the pair's turn is an advisory lock, not
    only a lock in one process. (A SQLite file is served by one process.)"""
    if not db.startswith("postgresql://"):
        pytest.skip("one process per SQLite file")
    first, second = await make_client(), await make_client()
    await register(first)
    answers = await asyncio.gather(
        *(login(server, f"guess {n}") for n in range(6) for server in (first, second))
    )
    assert sum(answer == WRONG for answer in answers) == 5, answers
    assert sum(answer == TOO_MANY for answer in answers) == 7, answers


async def test_old_failures_are_purged(client, db, clock):
    await fail_logins(client, 3, user_name="ghost")
    assert len(await query_rows(db, "SELECT subject FROM login_failures")) == 6
    clock.advance(WINDOW + 1)
    await fail_logins(client, 1, user_name="ghost")
    assert len(await query_rows(db, "SELECT subject FROM login_failures")) == 2


# ---------------------------------------------------------------- password change


async def change_password(client, token: str, old: str, new: str) -> dict:
    body = {"old_password": old, "password": new}
    return await call(client, "POST", "/api/user/password", token=token, json=body)


async def test_a_password_change_revokes_every_other_session(client):
    caller, _ = await register(client)
    others = [assert_ok(await login(client))["token"] for _ in range(2)]
    for token in others:
        assert_ok(await me(client, token))  # used: cached where the engine caches
    changed = await change_password(client, caller, PASSWORD, "a new password")
    assert changed == {"code": 0, "msg": "password changed"}
    assert_ok(await me(client, caller))
    for token in others:
        assert_fail(await me(client, token), code=1001)
    assert await login(client) == WRONG
    assert_ok(await login(client, "a new password"))


async def test_a_wrong_old_password_counts_as_a_failed_login(client):
    token, _ = await register(client)
    for _ in range(4):
        assert_fail(await change_password(client, token, "not it", "a new password"),
                    msg="old_password is wrong")  # fmt: skip
    assert await login(client, "wrong password") == WRONG  # the fifth failure of the pair
    assert await login(client) == TOO_MANY
    assert await change_password(client, token, PASSWORD, "a new password") == TOO_MANY
    async with elsewhere(client) as other:
        assert_ok(await login(other))  # unchanged, and from elsewhere still allowed


@pytest.mark.parametrize(
    "body, message",
    [
        ({"password": "a new password"}, "old_password is required"),
        ({"old_password": PASSWORD}, "password is required"),
        ({"old_password": PASSWORD, "password": "short"}, "password must be 8-128 characters"),
        ({"old_password": PASSWORD, "password": "p" * 129}, "password must be 8-128 characters"),
    ],
)
async def test_bad_password_changes_change_nothing(client, body, message):
    token, _ = await register(client)
    assert_fail(await call(client, "POST", "/api/user/password", token=token, json=body),
                msg=message)  # fmt: skip
    assert_ok(await login(client))


async def test_a_password_change_needs_a_session(client):
    body = {"old_password": PASSWORD, "password": "a new password"}
    assert_fail(await call(client, "POST", "/api/user/password", json=body), code=1001)


# ---------------------------------------------------------------- logout, session cap


async def test_logout_all_revokes_every_session_of_the_user(client):
    tokens = [(await register(client))[0]]
    tokens += [assert_ok(await login(client))["token"] for _ in range(2)]
    bob, _ = await register(client, "bob")
    for token in tokens:
        assert_ok(await me(client, token))
    assert_ok(await call(client, "POST", "/api/logout", token=tokens[0], json={"all": False}))
    assert_fail(await me(client, tokens[0]), code=1001)
    assert_ok(await me(client, tokens[1]))  # a plain logout ends only its own session
    assert_ok(await call(client, "POST", "/api/logout", token=tokens[1], json={"all": True}))
    for token in tokens:
        assert_fail(await me(client, token), code=1001)
    assert_ok(await me(client, bob))


async def test_logout_all_with_a_bad_flag_is_refused(client):
    token, _ = await register(client)
    body = await call(client, "POST", "/api/logout", token=token, json={"all": "yes"})
    assert_fail(body, msg="all must be true or false")
    assert_ok(await me(client, token))


async def test_the_51st_session_revokes_the_oldest(client):
    first, _ = await register(client)
    assert_ok(await me(client, first))
    tokens = [assert_ok(await login(client))["token"] for _ in range(49)]
    assert_ok(await me(client, first))  # 50 live sessions
    tokens.append(assert_ok(await login(client))["token"])
    assert_fail(await me(client, first), code=1001)
    for token in (tokens[0], tokens[1], tokens[-1]):
        assert_ok(await me(client, token))
    tokens.append(assert_ok(await login(client))["token"])
    assert_fail(await me(client, tokens[0]), code=1001)
    assert_ok(await me(client, tokens[1]))


# ---------------------------------------------------------------- registration rate


async def register_as(client, name: str) -> dict:
    return await call(
        client, "POST", "/api/register", json={"user_name": name, "password": PASSWORD}
    )


async def test_registrations_per_address_per_hour(make_client, clock):
    client = await make_client(max_registrations_per_hour=3)
    assert_ok(await register_as(client, "a1"))
    for _ in range(2):  # refused registrations are not counted
        assert_fail(await register_as(client, "a1"), msg="user_name is already taken")
    assert_ok(await register_as(client, "a2"))
    assert_ok(await register_as(client, "a3"))
    assert await register_as(client, "a4") == TOO_MANY
    async with elsewhere(client) as other:
        assert_ok(await register_as(other, "b1"))
    clock.advance(3600)
    assert_ok(await register_as(client, "a4"))


async def test_a_registration_over_the_rate_costs_no_password_hash(make_client, monkeypatch):
    client = await make_client(max_registrations_per_hour=1)
    assert_ok(await register_as(client, "a1"))
    hashed = []
    real = security.hash_password
    monkeypatch.setattr(security, "hash_password", lambda pw: hashed.append(1) or real(pw))
    for n in range(3):
        assert await register_as(client, f"b{n}") == TOO_MANY
    assert hashed == []


async def test_concurrent_registrations_respect_the_rate(make_client):
    client = await make_client(max_registrations_per_hour=3)
    answers = await asyncio.gather(*(register_as(client, f"u{n}") for n in range(7)))
    assert sum(answer["code"] == 0 for answer in answers) == 3, answers
    assert sum(answer == TOO_MANY for answer in answers) == 4, answers


async def test_the_default_rate_is_twenty_and_zero_turns_it_off(make_client):
    client = await make_client()
    for n in range(20):
        assert_ok(await register_as(client, f"u{n}"))
    assert await register_as(client, "u20") == TOO_MANY
    unlimited = await make_client(max_registrations_per_hour=0)
    for n in range(21, 44):
        assert_ok(await register_as(unlimited, f"u{n}"))


# ---------------------------------------------------------------- create-admin


def create_admin(db: str, name: str, password: str = PASSWORD, *extra: str):
    return run_cli("create-admin", "--db", db, "--username", name, "--password", password, *extra)


async def refused_soon(client, token: str, within: float = 2.0) -> float:
    """Seconds until the session is refused; fails past `within` (the SQLite engine's
    cache would keep it for up to 5 s if it missed the other process's commit)."""
    started = time.monotonic()
    while (await me(client, token))["code"] == 0:
        assert time.monotonic() - started < within, "the revoked session still works"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_create_admin_promoting_a_user_revokes_its_sessions(client, db):
    token, user = await register(client, "clerk")
    for _ in range(3):
        assert_ok(await me(client, token))
    promoted = create_admin(db, "CLERK", "new password 1")
    assert promoted.returncode == 0, promoted.stderr
    assert "existing user 'clerk'" in promoted.stdout and "promoted" in promoted.stdout
    await refused_soon(client, token)
    admin = assert_ok(await login(client, "new password 1", user_name="clerk"))
    assert (admin["id"], admin["role"]) == (user["id"], "admin")


async def test_create_admin_enables_a_disabled_account(client, db):
    """The command is how an admin gets back in: what it promotes can log in."""
    _, user = await register(client, "clerk")
    boss = await make_admin(client, "boss")
    disable = {"id": user["id"], "disabled": True}
    assert_ok(await call(client, "POST", "/api/admin/users/update", token=boss, json=disable))
    assert_fail(await login(client, user_name="clerk"), msg="this account is disabled")
    promoted = create_admin(db, "clerk", "new password 1")
    assert promoted.returncode == 0, promoted.stderr
    assert "promoted to admin" in promoted.stdout and "no longer disabled" in promoted.stdout
    admin = assert_ok(await login(client, "new password 1", user_name="clerk"))
    assert (admin["id"], admin["role"]) == (user["id"], "admin")
    again = create_admin(db, "clerk", "new password 2")  # enabled already: not said again
    assert again.returncode == 0 and "disabled" not in again.stdout, again


async def test_create_admin_setting_a_password_revokes_the_admins_sessions(client, db):
    created = create_admin(db, "boss")
    assert created.returncode == 0, created.stderr
    assert "new admin 'boss'" in created.stdout
    token = assert_ok(await login(client, user_name="boss"))["token"]
    assert_ok(await call(client, "GET", "/api/admin/communication/orders", token=token))
    again = create_admin(db, "boss", "another password")
    assert again.returncode == 0 and "promoted" in again.stdout, again
    await refused_soon(client, token)


async def test_create_admin_email_and_namespace(client, db):
    await register(client, "alice", email="alice@x.test", phone="555 0100")
    made = create_admin(db, "boss", PASSWORD, "--email", "Boss@X.test")
    assert made.returncode == 0, made.stderr
    assert assert_ok(await login(client, email="boss@x.test"))["email"] == "Boss@X.test"
    for name, extra, message in (
        ("boss", ("--email", "ALICE@x.test"), "email is already taken"),
        ("boss", ("--email", "555 0100"), "email must be one address such as name@example.com"),
        ("alice@x.test", (), "user_name is already taken"),
        ("555 0100", (), "user_name is already taken"),
    ):
        refused = create_admin(db, name, PASSWORD, *extra)
        assert refused.returncode != 0 and message in refused.stderr, (name, refused)
    assert assert_ok(await login(client, email="boss@x.test"))["role"] == "admin"
    assert assert_ok(await login(client, user_name="alice"))["role"] == "user"
    moved = create_admin(db, "boss", PASSWORD, "--email", "chief@x.test")
    assert moved.returncode == 0, moved.stderr
    assert assert_ok(await login(client, email="chief@x.test"))["user_name"] == "boss"
    assert await login(client, email="boss@x.test") == WRONG
    _, taken = await register(client, "carol", email="boss@x.test")  # free again
    assert taken["email"] == "boss@x.test"


@pytest.mark.parametrize("name", ["boss\u200b", "bo\nss", "\u202eboss"])
def test_create_admin_applies_the_user_name_rules(tmp_path, name):
    refused = create_admin(str(tmp_path / "x.db"), name)
    assert refused.returncode == 2, refused
    assert "username must not contain control, format or line separator" in refused.stderr


@pytest.mark.parametrize(
    "name, message",
    [
        ("System", 'username must not be "system": the name is reserved'),
        ("m\u0435rchant", "username must not mix writing systems"),
    ],
)
def test_create_admin_refuses_system_and_mixed_scripts(tmp_path, name, message):
    refused = create_admin(str(tmp_path / "x.db"), name)
    assert refused.returncode == 2 and message in refused.stderr, refused


def test_create_admin_stores_the_nfkc_name(tmp_path):
    made = create_admin(str(tmp_path / "x.db"), "ｂｏｓｓ")
    assert made.returncode == 0 and "new admin 'boss'" in made.stdout, made


# ---------------------------------------------------------------- settings


def test_the_account_settings_come_from_flags_and_environment():
    import argparse

    def parse(argv, env):
        parser = argparse.ArgumentParser()
        add_serve_arguments(parser, env)
        return config_from_args(parser.parse_args(argv))

    defaults = parse([], {})
    assert (defaults.remember_ttl, defaults.max_login_failures_per_address,
            defaults.max_registrations_per_hour) == (2592000, 20, 20)  # fmt: skip
    env = {
        "ORDERDESK_REMEMBER_TTL": "60",
        "ORDERDESK_MAX_LOGIN_FAILURES_PER_ADDRESS": "0",
        "ORDERDESK_MAX_REGISTRATIONS_PER_HOUR": "7",
    }
    from_env = parse([], env)
    assert (from_env.remember_ttl, from_env.max_login_failures_per_address,
            from_env.max_registrations_per_hour) == (60, 0, 7)  # fmt: skip
    flags = parse(["--remember-ttl", "90", "--max-login-failures-per-address", "3",
                   "--max-registrations-per-hour", "0"], env)  # fmt: skip
    assert (flags.remember_ttl, flags.max_login_failures_per_address,
            flags.max_registrations_per_hour) == (90, 3, 0)  # fmt: skip
    assert defaults == Config()


# ---------------------------------------------------------------- upgrading


async def build_at_migration_2(db: str) -> None:
    """A database as the previous release left it, with two users and a session."""
    folder = Path(orderdesk.__file__).parent / "store" / "migrations"
    rows = """
        INSERT INTO users (user_name, email, phone, password_hash, created_time)
        VALUES ('Alice', 'Alice@X.test', '555 0100', '{hash}', 1), ('bob', NULL, NULL, 'x', 2);
        INSERT INTO sessions (token_hash, user_id, expires_at, created_time)
        VALUES ({token}, 1, 4000000000, 1);"""
    hashed = security.hash_password(PASSWORD)
    token_hash = security.token_hash("old token")
    if db.startswith("postgresql://"):
        conn = await asyncpg.connect(db)
        try:
            await conn.execute(
                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                "applied_time BIGINT NOT NULL); INSERT INTO schema_migrations VALUES (1, 0), (2, 0)"
            )
            for number in ("0001_schema", "0002_login_failures"):
                await conn.execute((folder / "postgres" / f"{number}.sql").read_text())
            await conn.execute(rows.format(hash=hashed, token=f"'\\x{token_hash.hex()}'::bytea"))
        finally:
            await conn.close()
        return
    with sqlite3.connect(db) as conn:
        for number in ("0001_schema", "0002_login_failures"):
            conn.executescript((folder / "sqlite" / f"{number}.sql").read_text())
        conn.executescript(rows.format(hash=hashed, token=f"x'{token_hash.hex()}'"))
        conn.execute("PRAGMA user_version = 2")


async def test_accounts_made_before_the_namespace_keep_working(db, config, aiohttp_client):
    await build_at_migration_2(db)
    client = await aiohttp_client(create_app(config), cookie_jar=aiohttp.DummyCookieJar())
    for fields in ({"user_name": "alice"}, {"email": "alice@x.test"}, {"phone": "555 0100"}):
        assert assert_ok(await login(client, **fields))["user_name"] == "Alice", fields
    assert_ok(await me(client, "old token"))  # its TTL: the server's --session-ttl
    for clash, field in (({"user_name": "ALICE@x.test"}, "user_name"),
                         ({"user_name": "carol", "phone": "555 0100"}, "phone"),
                         ({"user_name": "BOB"}, "user_name")):  # fmt: skip
        body = await call(client, "POST", "/api/register", json={"password": PASSWORD, **clash})
        assert_fail(body, msg=f"{field} is already taken")
