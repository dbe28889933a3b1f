"""Checking uploads (media.py) in worker processes (media_worker.py), off the event loop.

A process, not a thread: each image is held to its CPU and memory limits by the
kernel, a decoder stuck in C code can be stopped, and the memory a large image took
goes back with the process instead of staying in the server. At most one upload per
core is checked at once (the others wait their turn), and one per user: a user's
uploads wait for each other, not for a worker that another user's are holding.

Workers start when first needed and are kept for the next upload. One that ended (by
its limits, or retiring) is replaced at once, in the background, so the next upload
does not wait for a process to start. Closing the pool ends every worker, killing any
that does not stop within a moment.
"""

import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from . import media
from .errors import Invalid
from .media_worker import ANSWER_HEAD, READY, REQUEST_HEAD
from .store import KeyedLocks

log = logging.getLogger("orderdesk")

WORKER_COMMAND = [sys.executable, "-P", "-m", "orderdesk.media_worker"]
START_SECONDS = 30.0  # a worker that has not said READY by then is a fault
# Wall-clock backstop for one upload: the worker's own CPU limits stop it long before,
# unless the machine is starved of CPU.
JOB_SECONDS = 60.0
STOP_SECONDS = 2.0  # closing: how long a worker may take to exit before it is killed
# What a worker's answer may hold (its header, and each of data and thumbnail).
MAX_HEADER = 64 * 1024
MAX_BLOB = 1024 * 2**20


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class _WorkerEnded(Exception):
    """The worker's pipe closed before it answered: it was killed or it crashed."""


@dataclass
class _Answer:
    prepared: media.Prepared | None
    refusal: Invalid | None
    retire: bool


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls) -> "_Worker":
        process = await asyncio.create_subprocess_exec(
            *WORKER_COMMAND, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        worker = cls(process)
        try:
            assert process.stdout is not None
            ready = await asyncio.wait_for(process.stdout.readexactly(1), START_SECONDS)
        except (TimeoutError, asyncio.IncompleteReadError):
            ready = b""
        except BaseException:
            worker.kill()
            raise
        if ready != READY:
            worker.kill()
            await worker.process.wait()
            raise RuntimeError(f"the media worker did not start: {' '.join(WORKER_COMMAND)}")
        return worker

    async def check(self, data: bytes) -> _Answer:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(REQUEST_HEAD.pack(len(data)))
            stdin.write(data)
            await stdin.drain()
            (size,) = ANSWER_HEAD.unpack(await stdout.readexactly(ANSWER_HEAD.size))
            if size > MAX_HEADER:
                raise RuntimeError(f"the media worker answered a {size}-byte header")
            header = json.loads(await stdout.readexactly(size))
            if "error" in header:
                raise RuntimeError(f"the media worker failed: {header['error']}")
            if "refused" in header:
                return _Answer(None, _refusal(header), bool(header["retire"]))
            stored = await _blob(stdout, header["data"])
            thumb = None if header["thumb"] < 0 else await _blob(stdout, header["thumb"])
        except (asyncio.IncompleteReadError, ConnectionError):
            raise _WorkerEnded() from None
        kind = media.PDF if header["kind"] == "PDF" else media.KINDS[header["kind"]]
        prepared = media.Prepared(
            kind, stored, str(header["md5"]), int(header["width"]), int(header["height"]), thumb
        )
        return _Answer(prepared, None, bool(header["retire"]))

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()

    async def stop(self) -> None:
        """Ask the worker to exit (its input closes), kill it if it does not, reap it."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), STOP_SECONDS)
        except TimeoutError:
            self.kill()
            await self.process.wait()


async def _blob(stdout: asyncio.StreamReader, size: Any) -> bytes:
    if not isinstance(size, int) or not 0 <= size <= MAX_BLOB:
        raise RuntimeError(f"the media worker announced a blob of {size!r} bytes")
    return await stdout.readexactly(size)


def _refusal(header: dict[str, Any]) -> Invalid:
    text = media.REFUSALS.get(header["refused"])
    params = header.get("params")
    if text is None or not isinstance(params, dict):
        raise RuntimeError(f"the media worker refused with {header!r}")
    return Invalid(text, **{str(k): v for k, v in params.items() if isinstance(v, int | str)})


class MediaPool:
    def __init__(self, size: int | None = None) -> None:
        self.size = size or _cores()
        self._turns = asyncio.Semaphore(self.size)
        self._owners = KeyedLocks()
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._starting = 0
        self._tasks: set[asyncio.Task[None]] = set()  # workers ending, and their replacements
        self._closed = False

    async def prepare(self, data: bytes, owner: int) -> media.Prepared:
        """media.prepare(data) in a worker, after `owner`'s other uploads: what to store,
        or Invalid with the reason (media.too_costly() when the image passed its CPU or
        memory limit). A PDF or an empty file has nothing to decode: checked on a thread
        (its md5 takes a moment)."""
        if not data or data.startswith(media.PDF_SIGNATURE):
            return await asyncio.to_thread(media.prepare, data)
        async with self._owners.hold(str(owner)):
            return await self._check(data)

    async def _check(self, data: bytes) -> media.Prepared:
        async with self._turns:
            worker = self._idle.pop() if self._idle else await self._start()
            self._busy.add(worker)
            answered = False
            try:
                answer = await asyncio.wait_for(worker.check(data), JOB_SECONDS)
                answered = True
            except TimeoutError:
                worker.kill()  # stuck past JOB_SECONDS
                raise await self._ended(worker) from None
            except _WorkerEnded:
                raise await self._ended(worker) from None
            finally:
                self._busy.discard(worker)
                if answered and not answer.retire and not self._closed:
                    self._idle.append(worker)
                else:  # retired, or ended, failed or cancelled mid-upload
                    if not answered:
                        worker.kill()
                    self._background(self._replace(worker))
        if answer.refusal is not None:
            raise answer.refusal
        assert answer.prepared is not None
        return answer.prepared

    def _workers(self) -> int:
        return len(self._idle) + len(self._busy) + self._starting

    async def _start(self) -> _Worker:
        if self._closed:
            raise RuntimeError("the media pool is closed")
        self._starting += 1
        try:
            return await _Worker.start()
        finally:
            self._starting -= 1

    async def _ended(self, worker: _Worker) -> Invalid:
        """Why a worker stopped answering, logged; the refusal the upload gets. Its pipe
        closed: it has ended, or is ending (killing it now could reap it before asyncio
        does, which then reports a status of 255)."""
        try:
            status = await asyncio.wait_for(worker.process.wait(), STOP_SECONDS)
        except TimeoutError:
            worker.kill()
            status = await worker.process.wait()
        if status == -signal.SIGPROF:
            log.info("an upload passed its CPU limit while being checked: refused")
            return media.too_costly()
        if status == -signal.SIGKILL:  # JOB_SECONDS passed, or the system's OOM killer
            log.info("the media worker was killed while checking an upload: refused")
            return media.too_costly()
        log.warning("the media worker ended (status %s) while checking an upload", status)
        return Invalid(media.REFUSALS["UPLOAD_DAMAGED"])

    async def _replace(self, worker: _Worker) -> None:
        """End `worker` and start another in its place, so the next upload does not
        wait for a process to start."""
        await worker.stop()
        if self._closed or self._workers() >= self.size:
            return
        try:
            new = await self._start()
        except Exception as error:  # the next upload starts one, or says why it cannot
            log.warning("could not start a media worker: %s", error)
            return
        if self._closed or self._workers() >= self.size:
            await new.stop()
        else:
            self._idle.append(new)

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """End every worker: idle ones when their input closes, busy ones at once."""
        self._closed = True
        for worker in self._busy:
            worker.kill()
        while self._idle:
            self._background(self._idle.pop().stop())
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
