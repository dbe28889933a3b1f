"""Each operation's documented example request (openapi.Operation.example), with its
IDs (1 in the document) replaced by those of the test's own rows. The tests' per-path
tables (who may call what, the boundaries of each field) are built from these."""

import copy
from typing import Any

from orderdesk import openapi

WEBHOOKS = "/api/admin/webhooks"
ATTACHMENTS = "/api/attachment/"
REPLIES = "/api/admin/replies"
USERS = "/api/admin/users"
API_KEYS = "/api/admin/api-keys"


def example(
    method: str,
    path: str,
    *,
    order: int | None = None,
    webhook: int | None = None,
    delivery: int | None = None,
    attachment: int | None = None,
    reply: int | None = None,
    user: int | None = None,
    assignee: int | None = None,
    purchase: str | None = None,
    api_key: int | None = None,
) -> dict[str, Any]:
    found = copy.deepcopy(openapi.OPERATIONS[(method, path)].example)
    assert found is not None, f"{method} {path} documents no example request"
    ids = {
        "id": _owner_of_id(
            path,
            order=order,
            webhook=webhook,
            attachment=attachment,
            reply=reply,
            user=user,
            api_key=api_key,
        ),
        "comm_order_id": order,
        "webhook_id": webhook,
        "delivery_id": delivery,
        "assignee_id": assignee,
        "order_id": purchase,
    }
    for name, value in ids.items():
        if name in found and value is not None:
            found[name] = value
    return found


def _owner_of_id(path: str, **ids: int | None) -> int | None:
    """What a body's `id` names on this path: a webhook, an upload, a saved reply, a
    user, an API key, or an order."""
    if path.startswith(WEBHOOKS):
        return ids["webhook"]
    if path.startswith(ATTACHMENTS):
        return ids["attachment"]
    if path.startswith(REPLIES):
        return ids["reply"]
    if path.startswith(USERS):
        return ids["user"]
    if path.startswith(API_KEYS):
        return ids["api_key"]
    return ids["order"]


def order_scoped(method: str, path: str) -> bool:
    """Whether the example names an order (so a caller who may not see it is refused)."""
    names = openapi.OPERATIONS[(method, path)].example or {}
    if path.startswith((WEBHOOKS, ATTACHMENTS, REPLIES, USERS, API_KEYS)):
        return False
    return bool({"id", "comm_order_id", "order_id"} & set(names))
