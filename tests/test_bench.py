"""The benchmark's own code still runs against the current store: its seed, on a
small database (the measured runs themselves are `make bench`, never a test)."""

import importlib.util
import sys

from tests.conftest import query_rows
from tests.live import ROOT
from tests.test_order_counts import COUNTED_THREAD_SIZES, KEPT_THREAD_SIZES


def bench_module(name: str = "run"):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        spec = importlib.util.spec_from_file_location(
            f"bench_{name}", ROOT / "bench" / f"{name}.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT / "bench"))


async def test_the_benchmark_seeds_users_and_their_orders(db):
    await bench_module().seed(db, 3, 7)
    owners = await query_rows(db, "SELECT user_id FROM comm_orders ORDER BY id")
    assert [owner for (owner,) in owners] == [1, 2, 3, 1, 2, 3, 1]


async def test_the_inbox_benchmark_seeds_threads_whose_counts_are_kept(db):
    """bench/inbox.py's seed writes rows directly: the counts the store keeps must come
    out as the store would keep them (it checks the unread total itself before timing)."""
    inbox = bench_module("inbox")
    await inbox.prepare(db, 24, 3)
    ((messages,),) = await query_rows(db, "SELECT count(*) FROM messages")
    assert messages == 72  # 3 per order
    counted = await query_rows(db, inbox._UNREAD_COUNTED, inbox.MERCHANT)
    kept = await query_rows(
        db,
        """SELECT (SELECT sum(talked) FROM order_counts)
                  - (SELECT sum(n) FROM caught_up_counts WHERE user_id = ?)""",
        inbox.MERCHANT,
    )
    assert kept == counted and counted[0][0] > 0
    assert await query_rows(db, KEPT_THREAD_SIZES) == await query_rows(db, COUNTED_THREAD_SIZES)
