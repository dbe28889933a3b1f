"""Each operation's documented example request (openapi.Operation.example), with its
IDs (1 in the document) replaced by those of the test's own rows. The tests' per-path
tables (who may call what, the boundaries of each field) are built from these."""

import copy
from typing import Any

from orderdesk import openapi

WEBHOOKS = "/api/admin/webhooks"


def example(
    method: str,
    path: str,
    *,
    order: int | None = None,
    webhook: int | None = None,
    delivery: int | None = None,
) -> dict[str, Any]:
    found = copy.deepcopy(openapi.OPERATIONS[(method, path)].example)
    assert found is not None, f"{method} {path} documents no example request"
    ids = {
        "id": webhook if path.startswith(WEBHOOKS) else order,
        "comm_order_id": order,
        "webhook_id": webhook,
        "delivery_id": delivery,
    }
    for name, value in ids.items():
        if name in found and value is not None:
            found[name] = value
    return found


def order_scoped(method: str, path: str) -> bool:
    """Whether the example names an order (so a caller who may not see it is refused)."""
    names = openapi.OPERATIONS[(method, path)].example or {}
    return not path.startswith(WEBHOOKS) and ("id" in names or "comm_order_id" in names)
