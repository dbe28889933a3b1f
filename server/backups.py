"""Scheduled online backups of the SQLite database (--backup-dir).

While the server runs, a copy goes to `DIR/orderdesk-YYYYMMDD-HHMMSS.db` (UTC) every
--backup-interval-hours, the first FIRST_BACKUP_SECONDS after start (or sooner, with a
shorter interval). Each is made with SQLite's online backup API a step at a time on a
thread (store/sqlite.py `backup`), written under a temporary name, checked as `orderdesk
check` checks a file, and only then renamed to its name; then the oldest copies beyond
--backup-keep are removed (only files named like a copy). A failed backup is one ERROR
line, and the next is tried within the hour (at the next interval if that is sooner): a
folder or disk put right is not left a day without a backup. PostgreSQL has its own tools
(pg_dump); the command line refuses --backup-dir there.
"""

import asyncio
import contextlib
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .background import Loops
from .config import Config
from .metrics import Metrics
from .store import sqlite

log = logging.getLogger("orderdesk")

FIRST_BACKUP_SECONDS = 10.0
RETRY_SECONDS = 3600.0  # after a failed backup, at most this long until the next try
NAME_FORMAT = "orderdesk-%Y%m%d-%H%M%S.db"
NAME = re.compile(r"orderdesk-\d{8}-\d{6}\.db")
PARTIAL = ".partial"  # the copy's name until it is checked


@dataclass(frozen=True)
class Made:
    path: Path
    started: float  # when the copy's snapshot was taken (Unix time)
    seconds: float  # how long writing and checking it took


class BackupFailed(Exception):
    pass


class Backups:
    def __init__(self, config: Config, metrics: Metrics) -> None:
        self._db = config.db
        self._folder = Path(config.backup_dir)
        self._interval = config.backup_interval_hours * 3600
        self._keep = config.backup_keep
        self._metrics = metrics
        self._wake = asyncio.Event()
        self._stopping = threading.Event()  # read by the copying thread between steps
        self._loops = Loops()
        self._turn = asyncio.Lock()  # one copy at a time

    async def start(self) -> None:
        self._loops.start(self._run(), self._wake)

    async def stop(self) -> None:
        self._stopping.set()
        await self._loops.stop()

    async def _run(self) -> None:
        delay = min(FIRST_BACKUP_SECONDS, self._interval)
        while not self._loops.stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            if self._loops.stopping:
                break
            made = await self.make()
            delay = self._interval if made else self._retry

    @property
    def _retry(self) -> float:
        return min(self._interval, RETRY_SECONDS)

    async def make(self) -> Made | None:
        """One backup now; None when it failed (logged)."""
        async with self._turn:
            try:
                made = await asyncio.to_thread(self._make)
            except sqlite.BackupStopped:
                return None
            except Exception as error:
                log.error(
                    "backup to %s failed: %s; the next try is in %.0f minutes",
                    self._folder, error, self._retry / 60,
                )  # fmt: skip
                return None
        self._metrics.backup_succeeded()
        log.info("backup written to %s in %.1f s", made.path, made.seconds)
        return made

    def _make(self) -> Made:
        begun = time.monotonic()
        self._folder.mkdir(parents=True, exist_ok=True)
        final = self._folder / time.strftime(NAME_FORMAT, time.gmtime())
        partial = final.with_name(final.name + PARTIAL)
        partial.unlink(missing_ok=True)
        try:
            started = sqlite.backup(self._db, str(partial), self._stopping.is_set)
            problems = sqlite.check(str(partial))
            if problems:
                raise BackupFailed(f"the copy failed its check: {problems[0]}")
            with open(partial, "rb") as copy:
                os.fsync(copy.fileno())
            os.replace(partial, final)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        _sync_folder(self._folder)
        self._prune()
        return Made(final, started, time.monotonic() - begun)

    def _prune(self) -> None:
        copies = sorted(p for p in self._folder.iterdir() if NAME.fullmatch(p.name))
        for old in copies[: -self._keep]:
            old.unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    """The rename survives a power loss."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
