"""Background loops (the live events' reader, the stream checks, the delivery worker)
that a server stop ends between two rounds: never in the middle of a database
transaction, which, cancelled, would hand its pooled connection back mid-transaction."""

import asyncio
from collections.abc import Coroutine
from typing import Any

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
