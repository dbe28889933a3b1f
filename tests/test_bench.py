"""The benchmark's own code still runs against the current store: its seed, on a
small database (the measured runs themselves are `make bench`, never a test)."""

import importlib.util
import sys

from tests.conftest import query_rows
from tests.live import ROOT


def bench_module():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT / "bench"))


async def test_the_benchmark_seeds_users_and_their_orders(db):
    await bench_module().seed(db, 3, 7)
    owners = await query_rows(db, "SELECT user_id FROM comm_orders ORDER BY id")
    assert [owner for (owner,) in owners] == [1, 2, 3, 1, 2, 3, 1]
