"""Typed API errors: each carries the envelope's code and msg.

The envelope middleware is the only place that turns them into responses; the
store raises the domain ones (order not found, final, version conflict) so the
message for each fact is written once.
"""

from typing import Any


class ApiError(Exception):
    code = -1
    msg = "error"

    def __init__(self, msg: str | None = None, data: Any = None) -> None:
        super().__init__(msg or self.msg)
        if msg is not None:
            self.msg = msg
        self.data = data


class NotLoggedIn(ApiError):
    code = 1001
    msg = "not logged in"


class Forbidden(ApiError):
    code = 1002
    msg = "permission denied"


class Invalid(ApiError):
    """Bad input or a request the current state does not allow (code -1)."""


class OrderNotFound(Invalid):
    # Also the answer for another user's order: no caller learns which ids exist.
    msg = "order not found"


class OrderFinal(Invalid):
    msg = "order can no longer be modified"


class VersionConflict(Invalid):
    msg = "version conflict: the order was changed by someone else"

    def __init__(self, current_version: int) -> None:
        super().__init__(data={"version": current_version})


class StatusNotAllowed(Invalid):
    """The order exists but its status does not allow the action."""


class AlreadyTaken(Invalid):
    def __init__(self, field: str) -> None:
        super().__init__(f"{field} is already taken")
