"""Every hot query is answered through an index, so its cost does not grow with the data."""

import sqlite3

import pytest
from orderdesk import model
from orderdesk.store import accounts, changes, orders, outbox, threads, tx
from orderdesk.store import sqlite as engine


@pytest.fixture
def conn(tmp_path):
    db = sqlite3.connect(tmp_path / "plan.db", isolation_level=None)
    engine._migrate(db)
    yield db
    db.close()


HOT_QUERIES = [
    (
        "the customer's order",
        f"SELECT {tx.ORDER_COLUMNS} FROM comm_orders WHERE id = ? AND user_id = ?",
        (1, 1),
    ),
    ("the merchant's order", f"SELECT {tx.ORDER_COLUMNS} FROM comm_orders WHERE id = ?", (1,)),
    ("a thread page", threads.THREAD_OLDEST_FIRST, (1, 10, 0)),
    ("a detail's last messages", threads.THREAD_NEWEST_FIRST, (1, 100)),
    ("a thread's size", "SELECT count(*) FROM messages WHERE comm_order_id = ?", (1,)),
    (
        "the customer's list",
        "SELECT id FROM comm_orders WHERE user_id = ? ORDER BY id DESC LIMIT 10",
        (1,),
    ),
    (
        "the customer's list by status",
        "SELECT id FROM comm_orders WHERE user_id = ? AND status = ? ORDER BY id DESC LIMIT 10",
        (1, 0),
    ),
    (
        "the merchant's list by status",
        "SELECT id FROM comm_orders WHERE status = ? ORDER BY id DESC LIMIT 10",
        (0,),
    ),
    ("a session", accounts.SESSION_USER, (b"x",)),
    ("a login", accounts.LOGIN_USER, ("alice",)),
    ("the update", changes.sqlite_update(orders.UPDATE_ASSIGNMENTS), (None,) * 6 + (1, 1, 1, 1)),
    (
        "failed logins",
        "SELECT count(*) FROM login_failures WHERE subject = ? AND failed_at > ?",
        ("addr:x", 0),
    ),
    ("purging failed logins", "DELETE FROM login_failures WHERE failed_at <= ?", (0,)),
    ("registrations", "SELECT count(*) FROM registrations WHERE address = ?", ("x",)),
    ("purging registrations", "DELETE FROM registrations WHERE created_time <= ?", (0,)),
    ("mail to the admins", outbox._mail_deliveries(model.NEW_ORDER), (1, "t", "{}", 0, 0, 0)),
    ("mail to an assignee", outbox._mail_deliveries(model.ASSIGNED), (1, "t", "{}", 0, 0, 1)),
    ("mail to a customer", outbox._mail_deliveries(model.QUOTED), (1, "t", "{}", 0, 0, 1)),
    (
        "the oldest sessions",
        "SELECT serial FROM sessions WHERE user_id = ? ORDER BY serial DESC LIMIT 1 OFFSET 50",
        (1,),
    ),
]


@pytest.mark.parametrize("name, sql, params", HOT_QUERIES, ids=[q[0] for q in HOT_QUERIES])
def test_hot_queries_use_an_index(conn, name, sql, params):
    plan = " | ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
    assert "USING" in plan, plan  # an index, a covering index or the integer primary key
    assert "TEMP B-TREE" not in plan, plan  # no sort of the whole match
    for step in plan.split(" | "):
        assert not (step.startswith("SCAN") and "USING" not in step), plan


def test_mail_to_the_admins_reads_only_the_admins(conn):
    """By role first (admins and staff): not every user with an email (most are
    customers)."""
    sql = outbox._mail_deliveries(model.NEW_ORDER)
    params = (1, "t", "{}", 0, 0, 0)
    plan = " | ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
    assert "users_role_email (role=?" in plan, plan
