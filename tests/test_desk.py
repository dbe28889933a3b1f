"""The merchant's desk, on both engines, through the HTTP API: the role "staff", the
users page (list, role changes, disabling), assignment, and saved replies."""

import asyncio
import shutil
import sqlite3

import asyncpg
import pytest
from orderdesk import model, security
from orderdesk.keys import STORE
from orderdesk.store import accounts, open_store
from orderdesk.store import sqlite as sqlite_engine

from tests.conftest import (
    PASSWORD,
    assert_fail,
    assert_ok,
    call,
    make_admin,
    make_order,
    make_staff,
    query_rows,
    register,
)
from tests.test_events import open_stream

USERS, UPDATE_USER = "/api/admin/users", "/api/admin/users/update"
ASSIGN = "/api/admin/communication/order/assign"
REPLIES = "/api/admin/replies"


async def login(client, name: str) -> dict:
    body = await call(client, "POST", "/api/login", json={"user_name": name, "password": PASSWORD})
    return body


async def user_id(client, token: str) -> int:
    return assert_ok(await call(client, "GET", "/api/user/detail", token=token))["id"]


async def change_user(client, token: str, **change) -> dict:
    return await call(client, "POST", UPDATE_USER, token=token, json=change)


# ---------------------------------------------------------------- the role in the database


async def test_the_role_check_admits_exactly_user_staff_and_admin(db):
    store = await open_store(db)
    await store.close()
    for n, role in enumerate(model.ROLES, 1):
        await query_rows(
            db,
            f"""INSERT INTO users (id, user_name, password_hash, created_time, role)
                VALUES ({n}, 'u{n}', 'x', 0, '{role}')""",
        )
    with pytest.raises((sqlite3.IntegrityError, asyncpg.CheckViolationError)):
        await query_rows(
            db,
            """INSERT INTO users (id, user_name, password_hash, created_time, role)
               VALUES (9, 'u9', 'x', 0, 'boss')""",
        )


def test_the_sqlite_migration_keeps_users_their_sessions_and_orders(tmp_path):
    """users is rebuilt to widen its role CHECK: a database made before keeps every row
    and every foreign key that refers to its users."""
    steps = tmp_path / "before"
    steps.mkdir()
    for path in sqlite_engine.MIGRATIONS.glob("*.sql"):
        if int(path.name[:4]) < 9:
            shutil.copy(path, steps)
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    sqlite_engine._migrate(conn, steps)
    conn.execute(
        """INSERT INTO users (id, user_name, email, password_hash, created_time, role, language)
           VALUES (1, 'alice', 'a@x.test', 'h', 5, 'admin', 'zh')"""
    )
    conn.execute(
        """INSERT INTO sessions (token_hash, user_id, expires_at, created_time)
           VALUES (x'01', 1, 99, 5)"""
    )
    conn.execute(
        """INSERT INTO comm_orders (id, user_id, archive_id, title, content, phone,
                                    created_time, updated_time)
           VALUES (7, 1, 1, 't', 'c', '12345', 0, 0)"""
    )
    sqlite_engine._migrate(conn)
    assert conn.execute("PRAGMA user_version").fetchone()[0] >= 9
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute(
        "SELECT user_name, email, role, language, last_login_time FROM users"
    ).fetchall() == [("alice", "a@x.test", "admin", "zh", 0)]
    assert conn.execute("SELECT assignee_id FROM comm_orders").fetchall() == [(0,)]
    conn.execute("UPDATE users SET role = 'staff' WHERE id = 1")
    with pytest.raises(sqlite3.IntegrityError):  # foreign keys are enforced again
        conn.execute("DELETE FROM users WHERE id = 1")
    conn.close()


# ---------------------------------------------------------------- staff


async def test_staff_have_the_merchants_view_and_write_as_admin(client):
    admin = await make_admin(client)
    alice, _ = await register(client, "alice")
    bob, _ = await register(client, "bob")
    staff, helper = await make_staff(client, admin)
    assert helper["role"] == "staff"
    first = await make_order(client, alice)
    second = await make_order(client, bob)
    listed = await call(client, "GET", "/api/admin/communication/orders", token=staff)
    assert [o["id"] for o in assert_ok(listed)] == [second["id"], first["id"]]
    message = {"comm_order_id": first["id"], "message_type": "text", "content": "Hello"}
    sent = await call(
        client, "POST", "/api/admin/communication/message/send", token=staff, json=message
    )
    assert assert_ok(sent)["sender_type"] == "admin"
    assert assert_ok(sent)["sender_name"] == "helper"
    seen = await call(
        client, "GET", "/api/communication/order/detail", token=alice, params={"id": first["id"]}
    )
    assert assert_ok(seen)["status"] == 1  # the merchant's first reply opened it
    # Not the merchant's settings.
    for method, path, body in [
        ("POST", "/api/admin/communication/fields", {"fields": []}),
        ("GET", "/api/admin/webhooks", None),
        ("POST", UPDATE_USER, {"id": helper["id"], "role": "admin"}),
        ("POST", "/api/admin/users/password-reset", {"id": helper["id"]}),
    ]:
        answer = await call(client, method, path, token=staff, json=body)
        assert answer == {"code": 1002, "msg": "permission denied"}
    # The stream of a staff member carries every order's events.
    stream = await open_stream(client, staff)
    await make_order(client, bob, title="Streamed")
    event = await stream.next()
    assert event["event"] == "order.created" and event["data"]["title"] == "Streamed"
    stream.close()


# ---------------------------------------------------------------- the users page


async def test_the_users_list_searches_filters_and_pages(client, clock):
    admin = await make_admin(client)
    admin_id = await user_id(client, admin)
    clock.advance(10)
    alice, a = await register(client, "Alice", email="Alice@Home.test", phone="+86 138-0000-0001")
    await make_order(client, alice)
    await make_order(client, alice)
    clock.advance(10)
    _, b = await register(client, "jürgen", email="j@x.test")
    clock.advance(10)
    staff, s = await make_staff(client, admin)
    logged_in_at = int(clock())
    [never] = await client.server.app[STORE].write(
        accounts.bulk_create_users, ["quiet"], security.hash_password(PASSWORD)
    )

    body = await call(client, "GET", USERS, token=staff)
    users = assert_ok(body)
    assert body["total"] == 5
    assert [u["id"] for u in users] == [never, s["id"], b["id"], a["id"], admin_id]
    by_id = {u["id"]: u for u in users}
    assert by_id[a["id"]] == {
        **{k: a[k] for k in ("id", "user_name", "email", "phone", "role", "created_time")},
        "notify_email": True,
        "disabled": False,
        "orders_total": 2,
        "last_login_time": a["created_time"],  # registered: logged in
    }
    assert by_id[s["id"]]["last_login_time"] == logged_in_at
    assert by_id[never]["last_login_time"] == 0
    assert by_id[s["id"]]["role"] == "staff" and by_id[b["id"]]["orders_total"] == 0

    async def found(**params) -> list[int]:
        body = await call(client, "GET", USERS, token=admin, params=params)
        return [u["id"] for u in assert_ok(body)]

    assert await found(q="aLIce") == [a["id"]]  # the name, ignoring ASCII case
    assert await found(q="HOME.TEST") == [a["id"]]  # the email
    assert await found(q="0000-0001") == [a["id"]]  # the phone
    assert await found(q="JÜRGEN") == []  # only ASCII case is ignored
    assert await found(q="JüRGEN") == [b["id"]]
    assert await found(q="%") == [] and await found(q="_") == []  # no wildcards
    assert await found(role="staff") == [s["id"]]
    assert await found(role="admin") == [admin_id]
    assert await found(role="user", q="e") == [never, b["id"], a["id"]]
    assert await found(role="") == await found()
    assert await found(page_size=2, current=2) == [b["id"], a["id"]]
    assert_fail(
        await call(client, "GET", USERS, token=admin, params={"role": "boss"}),
        msg="role must be one of admin, staff, user",
    )


async def test_a_role_change_revokes_every_session_and_takes_effect_at_once(client):
    admin = await make_admin(client)
    alice, a = await register(client, "alice")
    second = assert_ok(await login(client, "alice"))["token"]
    stream = await open_stream(client, alice)
    answer = await change_user(client, admin, id=a["id"], role="staff")
    assert assert_ok(answer)["role"] == "staff"
    assert answer["msg"] == "user updated"
    assert await stream.next() is None  # the stream ended with its session
    stream.close()
    for token in (alice, second):
        assert_fail(await call(client, "GET", "/api/user/detail", token=token), 1001)
    staff = assert_ok(await login(client, "alice"))["token"]
    assert_ok(await call(client, "GET", "/api/admin/communication/orders", token=staff))
    # Back to a customer: the staff session ends, and the merchant's side is closed.
    assert_ok(await change_user(client, admin, id=a["id"], role="user"))
    assert_fail(await call(client, "GET", "/api/user/detail", token=staff), 1001)
    customer = assert_ok(await login(client, "alice"))["token"]
    refused = await call(client, "GET", "/api/admin/communication/orders", token=customer)
    assert refused == {"code": 1002, "msg": "permission denied"}
    # Setting the role a user has is no change: the session stays.
    assert_ok(await change_user(client, admin, id=a["id"], role="user"))
    assert_ok(await call(client, "GET", "/api/user/detail", token=customer))


async def test_disabling_revokes_sessions_and_refuses_login_until_enabled(client):
    admin = await make_admin(client)
    alice, a = await register(client, "alice")
    answer = assert_ok(await change_user(client, admin, id=a["id"], disabled=True))
    assert answer["disabled"] is True and answer["role"] == "user"
    assert_fail(await call(client, "GET", "/api/user/detail", token=alice), 1001)
    assert_fail(await login(client, "alice"), msg="this account is disabled")
    wrong = await call(
        client, "POST", "/api/login", json={"user_name": "alice", "password": "x" * 8}
    )
    assert_fail(wrong, msg="wrong user name or password")
    listed = assert_ok(await call(client, "GET", USERS, token=admin, params={"q": "alice"}))
    assert listed[0]["disabled"] is True
    assert (
        assert_ok(await change_user(client, admin, id=a["id"], disabled=False))["disabled"] is False
    )
    assert_ok(await login(client, "alice"))


async def test_an_admin_cannot_change_their_own_role_or_disable_themselves(client):
    admin = await make_admin(client)
    me = await user_id(client, admin)
    for change in ({"role": "staff"}, {"role": "user"}, {"disabled": True}):
        assert_fail(
            await change_user(client, admin, id=me, **change),
            msg="an admin cannot change their own role or disable themselves",
        )
    assert_ok(await call(client, "GET", "/api/user/detail", token=admin))  # still there
    assert_ok(await change_user(client, admin, id=me, role="admin", disabled=False))  # no change
    assert_fail(await change_user(client, admin, id=me + 100, role="staff"), msg="user not found")


async def test_two_admins_disabling_each_other_at_once_leave_one_enabled_admin(client, db):
    """The last enabled admin is never demoted or disabled: two admins who disable (or
    demote) each other at the same moment cannot both succeed."""
    first = await make_admin(client, "first")
    second = await make_admin(client, "second")
    ids = [await user_id(client, first), await user_id(client, second)]
    for change in ({"disabled": True}, {"role": "staff"}):
        answers = await asyncio.gather(
            change_user(client, first, id=ids[1], **change),
            change_user(client, second, id=ids[0], **change),
        )
        codes = sorted(answer["code"] for answer in answers)
        assert codes[0] != 0 or codes[1] != 0, answers
        assert 0 in codes, answers
        for answer in answers:
            if answer["code"] == -1:
                assert answer["msg"] == "the last enabled admin cannot be demoted or disabled"
        rows = await query_rows(
            db, "SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0"
        )
        assert rows == [(1,)]
        # Both admins again, for the next round.
        await query_rows(db, "UPDATE users SET role = 'admin', disabled = 0")
        first = assert_ok(await login(client, "first"))["token"]
        second = assert_ok(await login(client, "second"))["token"]


# ---------------------------------------------------------------- assignment


async def test_assignment_is_a_change_of_the_order_without_a_message(client):
    admin = await make_admin(client)
    alice, _ = await register(client, "alice")
    _, bob = await register(client, "bob")
    staff, helper = await make_staff(client, admin)
    order = await make_order(client, alice)
    assert order["assignee_id"] == 0
    stream = await open_stream(client, alice)
    assigned = await call(
        client, "POST", ASSIGN, token=admin, json={"id": order["id"], "assignee_id": helper["id"]}
    )
    moved = assert_ok(assigned)
    assert assigned["msg"] == "order assigned"
    assert moved["assignee_id"] == helper["id"]
    assert moved["version"] == order["version"] + 1
    event = await stream.next()
    assert event["event"] == "order.updated" and event["data"]["assignee_id"] == helper["id"]
    stream.close()
    # Both sides see it; the customer's thread holds no message about it.
    mine = await call(
        client, "GET", "/api/communication/order/detail", token=alice, params={"id": order["id"]}
    )
    assert assert_ok(mine)["assignee_id"] == helper["id"]
    assert assert_ok(mine)["messages"] == []
    listed = await call(client, "GET", "/api/admin/communication/orders", token=staff)
    assert assert_ok(listed)[0]["assignee_id"] == helper["id"]
    # In any status; to an admin, to oneself, to nobody.
    cancelled = {"id": order["id"], "reason": "no"}
    assert_ok(
        await call(client, "POST", "/api/communication/order/cancel", token=alice, json=cancelled)
    )
    admin_id = await user_id(client, admin)
    for assignee in (admin_id, helper["id"], 0):
        body = {"id": order["id"], "assignee_id": assignee}
        assert (
            assert_ok(await call(client, "POST", ASSIGN, token=staff, json=body))["assignee_id"]
            == assignee
        )
    # Again to nobody: nothing changes.
    again = await call(
        client, "POST", ASSIGN, token=staff, json={"id": order["id"], "assignee_id": "0"}
    )
    assert assert_ok(again)["version"] == assert_ok(mine)["version"] + 4
    # A customer, an unknown user, an unknown order.
    for assignee in (bob["id"], helper["id"] + 100):
        refused = await call(
            client, "POST", ASSIGN, token=admin, json={"id": order["id"], "assignee_id": assignee}
        )
        assert_fail(refused, msg="assignee_id must be the id of a staff member or an admin, or 0")
    unknown = await call(
        client, "POST", ASSIGN, token=admin, json={"id": order["id"] + 100, "assignee_id": 0}
    )
    assert_fail(unknown, msg="order not found")
    for bad in (-1, 1.5, True, "", "x"):
        refused = await call(
            client, "POST", ASSIGN, token=admin, json={"id": order["id"], "assignee_id": bad}
        )
        assert_fail(refused)
        assert "assignee_id" in refused["msg"]


# ---------------------------------------------------------------- saved replies


async def test_saved_replies_are_shared_by_staff_and_admins(client, clock):
    admin = await make_admin(client)
    staff, _ = await make_staff(client, admin)
    customer, _ = await register(client, "alice")
    made = await call(
        client, "POST", REPLIES, token=staff, json={"title": " Thanks ", "content": "Thank you!"}
    )
    first = assert_ok(made)
    assert made["msg"] == "reply saved"
    assert first["title"] == "Thanks" and first["content"] == "Thank you!"
    assert first["created_time"] == first["updated_time"]
    second = assert_ok(
        await call(client, "POST", REPLIES, token=admin, json={"title": "Soon", "content": "Soon."})
    )
    listed = assert_ok(await call(client, "GET", REPLIES, token=admin))
    assert [r["id"] for r in listed] == [first["id"], second["id"]]  # oldest first
    clock.advance(5)
    changed = await call(
        client,
        "POST",
        f"{REPLIES}/update",
        token=admin,
        json={"id": first["id"], "content": "Many thanks"},
    )
    updated = assert_ok(changed)
    assert updated == {**first, "content": "Many thanks", "updated_time": first["created_time"] + 5}
    deleted = await call(
        client, "POST", f"{REPLIES}/delete", token=staff, json={"id": second["id"]}
    )
    assert deleted == {"code": 0, "msg": "saved reply deleted"}
    assert [r["id"] for r in assert_ok(await call(client, "GET", REPLIES, token=staff))] == [
        first["id"]
    ]
    for path in (f"{REPLIES}/update", f"{REPLIES}/delete"):
        gone = await call(
            client, "POST", path, token=admin, json={"id": second["id"], "title": "x"}
        )
        assert_fail(gone, msg="saved reply not found")
    # The limits, exactly.
    for title, content, ok in [
        ("t" * 100, "c" * 10000, True),
        ("t" * 101, "c", False),
        ("", "c", False),
        ("t", "c" * 10001, False),
        ("t", " ", False),
    ]:
        answer = await call(
            client, "POST", REPLIES, token=admin, json={"title": title, "content": content}
        )
        assert (answer["code"] == 0) is ok, (len(title), len(content), answer)
    refused = await call(client, "GET", REPLIES, token=customer)
    assert refused == {"code": 1002, "msg": "permission denied"}


async def test_at_most_500_saved_replies_even_when_created_at_once(client, db):
    """At 499 replies, 20 creations at the same moment leave exactly 500: the count is
    decided by the database, one creation at a time."""
    admin = await make_admin(client)
    now = 1
    values = ", ".join(f"('r{n}', 'c', {now}, {now})" for n in range(model.SAVED_REPLIES_MAX - 1))
    await query_rows(
        db,
        f"INSERT INTO saved_replies (title, content, created_time, updated_time) VALUES {values}",
    )
    answers = await asyncio.gather(
        *(
            call(client, "POST", REPLIES, token=admin, json={"title": f"new {n}", "content": "c"})
            for n in range(20)
        )
    )
    assert sorted(answer["code"] for answer in answers) == [-1] * 19 + [0]
    for answer in answers:
        if answer["code"]:
            assert answer["msg"] == "there may be at most 500 saved replies: delete one first"
    assert len(assert_ok(await call(client, "GET", REPLIES, token=admin))) == 500
    assert await query_rows(db, "SELECT count(*) FROM saved_replies") == [(500,)]
