"""A real `python run.py` process for the tests that need one (crash, shutdown, backup, fuzz),
and `repeating`, for traffic that keeps flowing while a test block runs."""

import asyncio
import contextlib
import http.client
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from tests.faults import assert_no_faults_logged, assert_not_internal_error

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.asynccontextmanager
async def repeating(
    action: Callable[[int], Awaitable[object]], pause: float = 0.02
) -> AsyncIterator[None]:
    """`action(0)`, `action(1)`, … one after another, `pause` seconds apart, in a task
    while the block runs; cancelled when it ends. A failed action fails the block at
    its end."""

    async def keep_going() -> None:
        for i in itertools.count():
            await action(i)
            await asyncio.sleep(pause)

    task = asyncio.create_task(keep_going())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


class LiveServer:
    """`python run.py` on a free port; `db` is a SQLite file or a PostgreSQL URL (then
    `log` names the server's log file). `command` runs another program instead (the
    installed `orderdesk`), in `cwd`; `env` adds environment variables."""

    def __init__(
        self,
        db: Path | str,
        *extra_args: str,
        log: Path | None = None,
        command: list[str] | None = None,
        cwd: Path = ROOT,
        env: dict[str, str] | None = None,
    ) -> None:
        self.db = db
        self.port = free_port()
        self.log_path = log or Path(db).with_suffix(".log")
        self.log = self.log_path.open("ab")
        self._checked_up_to = self.log.tell()
        self.process = subprocess.Popen(
            [*(command or [sys.executable, str(ROOT / "run.py")]),
             "--db", str(db), "--port", str(self.port), *extra_args],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env={**os.environ, **(env or {})},
        )  # fmt: skip
        self._wait_until_serving()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_until_serving(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("server did not start")

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = None, raw: bytes = b""
    ) -> dict[str, Any]:
        """One request on a fresh connection; returns the envelope, which must not be
        the internal-error one."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Token"] = token
        payload = raw or (json.dumps(body).encode() if body is not None else None)
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            assert response.status == 200, response.status
            body = json.loads(response.read())
        finally:
            connection.close()
        assert_not_internal_error(body)
        return body

    def assert_no_faults(self) -> None:
        """Nothing the server logged since the last check is an ERROR or a traceback."""
        self.log.flush()
        with self.log_path.open("rb") as log:
            log.seek(self._checked_up_to)
            new = log.read()
        self._checked_up_to += len(new)
        assert_no_faults_logged(new.decode(errors="replace"))

    def register(self, name: str, password: str = "correct horse battery") -> str:
        body = self.call("POST", "/api/register", {"user_name": name, "password": password})
        assert body["code"] == 0, body
        return body["data"]["token"]

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)
        self.log.close()

    def stop(self, timeout: float = 30) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        self.log.close()
        return code

    def __enter__(self) -> "LiveServer":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.kill()
