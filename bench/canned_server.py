"""orderdesk as `make run` serves it (run.py's command line: uvloop, the access log on,
the same app factories), except that the store's answer to the order update is canned.
bench/httpside.py starts it to measure what the HTTP side of a request costs.

    python bench/canned_server.py --db FILE --port P [any flag of run.py]

What is canned: the SQLite engine's write transaction for `orders.update_order` only.
The first update runs for real (bench/httpside.py sends one before measuring); its
answer, the order as written, is kept, and every later update gets that same order back
without reaching the database, as a write that committed nothing (no effects: no live
event or delivery to wake, since none was written).

What is real: everything else. The middleware (request id, CORS, the envelope, the
session and role checks), the handler's body parsing and form validation, the field
definitions' check of `order_extra` and the session lookup (both from the SQLite
store's in-memory caches, as every request after a session's first is served in
production), `Store.write`'s own code around the engine, the security headers, the
JSON answer and the access log line.
"""

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orderdesk import cli  # noqa: E402
from orderdesk.store import orders  # noqa: E402
from orderdesk.store.sqlite import SqliteStore  # noqa: E402
from orderdesk.store.tx import Effects  # noqa: E402

_real_write = SqliteStore._write
_canned: list[Any] = []  # the first real update's answer, once it has committed
_NOTHING_COMMITTED = Effects()  # read only, never changed


async def _write(self: SqliteStore, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    if getattr(fn, "func", None) is not orders.update_order:  # Store.write's partial
        return await _real_write(self, fn, *args)
    if not _canned:
        result, effects = await _real_write(self, fn, *args)
        _canned.append(result)
        return result, effects
    return _canned[0], _NOTHING_COMMITTED


SqliteStore._write = _write  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(cli.main(sys.argv[1:]))
