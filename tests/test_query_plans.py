"""Every hot query is answered through an index, so its cost does not grow with the data."""

import sqlite3

import pytest
from orderdesk import model
from orderdesk.store import (
    ANY_OWNER,
    OrderFilter,
    accounts,
    changes,
    inbox,
    orders,
    outbox,
    threads,
    tx,
)
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
    ("the merchant's detail", orders._detail_sql("sqlite", inbox.MERCHANT), (1, 1, 1)),
    ("the customer's detail", orders._detail_sql("sqlite", inbox.CUSTOMER), (1, 1, 1, 1)),
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
    (
        "the update",
        changes.sqlite_change(orders.UPDATE_ASSIGNMENTS, inbox.SYSTEM),
        (0, 1, 1, 1, 0) + (None,) * 6,
    ),
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
    steps = plan.split(" | ")
    # A subquery's rows, which the plan reads itself by an index (a detail's last
    # messages, at most 100), are scanned as they come.
    subqueries = {f"SCAN {step.split()[-1]}" for step in steps if step.startswith("CO-ROUTINE")}
    for step in steps:
        assert not (step.startswith("SCAN") and "USING" not in step) or step in subqueries, plan


def test_mail_to_the_admins_reads_only_the_admins(conn):
    """By role first (admins and staff): not every user with an email (most are
    customers)."""
    sql = outbox._mail_deliveries(model.NEW_ORDER)
    params = (1, "t", "{}", 0, 0, 0)
    plan = " | ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
    assert "users_role_email (role=?" in plan, plan


def _inbox_queries() -> list[tuple[str, str, tuple]]:
    """The inbox's lists (sort=activity, unread=1, awaiting_reply=1, on each side) and
    the reader keys of a page, as the store builds them."""
    merchant = dict(owner_id=ANY_OWNER, reader=1)
    customer = dict(owner_id=1, reader=1)
    lists = {
        "merchant, by activity": OrderFilter(**merchant, sort="activity"),
        "merchant, unread": OrderFilter(**merchant, unread=True),
        "merchant, unread by activity": OrderFilter(**merchant, unread=True, sort="activity"),
        "merchant, awaiting a reply": OrderFilter(**merchant, awaiting_reply=True),
        "merchant, awaiting a reply by activity": OrderFilter(
            **merchant, awaiting_reply=True, sort="activity"
        ),
        "customer, by activity": OrderFilter(**customer, sort="activity"),
        "customer, unread": OrderFilter(**customer, unread=True),
        "customer, unread by activity": OrderFilter(**customer, unread=True, sort="activity"),
    }
    queries = []
    for name, where in lists.items():
        parts = orders.list_parts("sqlite", where)
        queries.append((f"the inbox: {name}", parts.page, (*parts.page_params, 100, 0)))
        queries.append((f"the inbox's count: {name}", parts.total, tuple(parts.total_params)))
    return queries


@pytest.mark.parametrize(
    "name, sql, params", _inbox_queries(), ids=[q[0] for q in _inbox_queries()]
)
def test_the_inbox_uses_indexes(conn, name, sql, params):
    plan = " | ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
    assert "TEMP B-TREE" not in plan, plan  # no sort of the whole match
    for step in plan.split(" | "):
        # A count made of two subqueries scans one constant row; the merchant's whole
        # list sums the order counts (16 rows per status, whatever the orders).
        table_scan = step.startswith("SCAN") and not step.startswith(
            ("SCAN CONSTANT ROW", "SCAN order_counts")
        )
        assert not (table_scan and "USING" not in step), plan


@pytest.mark.parametrize(
    "sql, params",
    [(inbox._COUNT_NEW_TALK, (1, 2)), (inbox._COUNT_MARKER_MOVE, (1, 2, 3))],
    ids=["message", "marker"],
)
def test_the_counts_a_message_moves_read_one_order_and_its_readers(conn, sql, params):
    """What every message and marker move adds to its write: the order by its key, its
    readers by their index (the sort is of those few readers, for PostgreSQL's locks)."""
    plan = " | ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
    assert "USING INTEGER PRIMARY KEY (rowid=?)" in plan, plan
    for step in plan.split(" | "):
        assert not step.startswith("SCAN") or step in ("SCAN CONSTANT ROW", "SCAN d"), plan


def _whole_lists() -> list[tuple[str, OrderFilter]]:
    merchant = dict(owner_id=ANY_OWNER, reader=1)
    return [
        ("merchant", OrderFilter(**merchant)),
        ("merchant, unread by activity", OrderFilter(**merchant, unread=True, sort="activity")),
        ("merchant, search", OrderFilter(**merchant, search="x")),
        ("customer, by activity", OrderFilter(owner_id=1, reader=1, sort="activity")),
    ]


@pytest.mark.parametrize("name, where", _whole_lists(), ids=[n for n, _ in _whole_lists()])
def test_a_list_as_one_statement_walks_its_parts_as_they_are(conn, name, where):
    """The one statement a list is (its count, its page, the page's reader keys) plans
    its count and its page as they are planned alone, and sorts only the page's rows
    (the top level's sort, over the page's at most 100)."""
    sql, params = orders.list_statement("sqlite", where)
    rows = conn.execute("EXPLAIN QUERY PLAN " + sql, (1, 1, *params, 100, 0)).fetchall()
    parts = orders.list_parts("sqlite", where)
    for part, part_params in (
        (parts.total, parts.total_params),
        (parts.page, [*parts.page_params, 100, 0]),
    ):
        alone = [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + part, part_params)]
        steps = [r[3] for r in rows]
        assert all(step in steps for step in alone if step.startswith(("SEARCH", "SCAN"))), (
            alone,
            steps,
        )
    sorts = [(parent, detail) for _, parent, _, detail in rows if "TEMP B-TREE" in detail]
    assert sorts == [(0, "USE TEMP B-TREE FOR ORDER BY")], rows
