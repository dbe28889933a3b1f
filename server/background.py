"""Background loops (the live events' reader, the stream checks, the delivery worker)
that a server stop ends between two rounds: never in the middle of a database
transaction, which, cancelled, would hand its pooled connection back mid-transaction."""

import asyncio
import logging
import math
import time
from collections.abc import Callable, Coroutine
from typing import Any

from .errors import CannotSave

STOP_SECONDS = 5.0  # how long a round may take to finish before it is cancelled


class Loops:
    """Each loop runs `while not loops.stopping`, waiting on its event between rounds."""

    def __init__(self) -> None:
        self.stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._wakes: list[asyncio.Event] = []

    def start(self, loop: Coroutine[Any, Any, None], wake: asyncio.Event) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(loop))
        self._wakes.append(wake)

    async def stop(self) -> None:
        self.stopping = True
        for wake in self._wakes:
            wake.set()
        if not self._tasks:
            return
        _, lingering = await asyncio.wait(self._tasks, timeout=STOP_SECONDS)
        for task in lingering:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


LOG_EVERY_SECONDS = 60.0  # a failure that repeats is logged at most this often
LONGEST_BACKOFF_SECONDS = 30.0


class Reported:
    """When a condition that repeats (a failing round, a database that cannot be
    written) is logged: at most once every LOG_EVERY_SECONDS, also when it comes and
    goes, and its end only after its start was."""

    def __init__(self) -> None:
        self._logged_at = -math.inf
        self._told = False  # the start was logged since the end last was

    def start_due(self) -> bool:
        now = time.monotonic()
        if now - self._logged_at < LOG_EVERY_SECONDS:
            return False
        self._logged_at, self._told = now, True
        return True

    def end_due(self) -> bool:
        told, self._told = self._told, False
        return told


class Backoff:
    """How a background loop meets a failing round: it waits longer after each failure
    in a row (`failed` says how long, doubling from the loop's own pause up to
    LONGEST_BACKOFF_SECONDS), and logs failures as Reported says (once a minute, also
    when they come and go). A CannotSave is not logged here: the store logs that condition
    itself, once a minute for the whole process. A failure that
    `known` names (a full disk, for the checkpoint) is logged as that one line, without
    a traceback."""

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        known: Callable[[BaseException], str | None] = lambda error: None,
    ) -> None:
        self._log = logger
        self._what = what  # "reading the outbox", ...
        self._known = known
        self._failures = 0
        self._reported = Reported()

    def failed(self, error: BaseException, pause: float) -> float:
        """The seconds to wait before the next round, after `error`."""
        self._failures += 1
        if not isinstance(error, CannotSave) and self._reported.start_due():
            reason = self._known(error)
            self._log.warning(
                "%s failed%s; retrying, and logging this at most once a minute while it lasts",
                self._what, f" ({reason})" if reason else "",
                exc_info=None if reason else error,
            )  # fmt: skip
        return min(pause * 2 ** min(self._failures, 16), max(pause, LONGEST_BACKOFF_SECONDS))

    def succeeded(self) -> None:
        if self._reported.end_due():
            self._log.info("%s works again", self._what)
        self._failures = 0
