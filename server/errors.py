"""Typed API errors: each carries the envelope's code and a catalogue text.

The envelope middleware is the only place that turns them into responses, in the
caller's language; the store raises the domain ones (order not found, final,
version conflict) so the text for each fact is written once.
"""

from typing import Any

from . import texts
from .texts import Text


class ApiError(Exception):
    code = -1
    text: Text = texts.BAD_REQUEST

    def __init__(self, text: Text | None = None, *, data: Any = None, **params: Any) -> None:
        if text is not None:
            self.text = text
        self.params = params
        self.data = data
        super().__init__(self.msg)

    @property
    def msg(self) -> str:
        """The English text (logs, tests); answers use `render` with the caller's language."""
        return self.render("en")

    def render(self, language: str) -> str:
        return self.text.render(language, self.params)


class NotLoggedIn(ApiError):
    code = 1001
    text = texts.NOT_LOGGED_IN


class Forbidden(ApiError):
    code = 1002
    text = texts.PERMISSION_DENIED


class Invalid(ApiError):
    """Bad input or a request the current state does not allow (code -1)."""


class OrderNotFound(Invalid):
    # Also the answer for another user's order: no caller learns which ids exist.
    text = texts.ORDER_NOT_FOUND


class VersionConflict(Invalid):
    text = texts.VERSION_CONFLICT

    def __init__(self, current_version: int) -> None:
        super().__init__(data={"version": current_version})


class QuoteChanged(Invalid):
    text = texts.QUOTE_CHANGED

    def __init__(self, current_price: str) -> None:
        super().__init__(data={"quote_price": current_price})


class StatusNotAllowed(Invalid):
    """The order exists but its status does not allow the action."""


class AlreadyTaken(Invalid):
    text = texts.ALREADY_TAKEN

    def __init__(self, field: str) -> None:
        super().__init__(field=field)


class TooManyAttempts(Invalid):
    text = texts.TOO_MANY_ATTEMPTS


class CannotSave(ApiError):
    """The database cannot be written now (a full disk, a read-only file, mount or
    database): the write changed nothing, and reads still work. Raised by the store
    layer, which maps each engine's errors to it in one place."""

    text = texts.CANNOT_SAVE


class StartupFailure(Exception):
    """Why the server (or a command) cannot start, as the one line it prints on
    standard error before it exits with status 1. Holds no password."""


class ClientDisconnected(Exception):
    """The client closed the connection before its request body was complete: nothing
    to answer and nothing wrong with the server."""
