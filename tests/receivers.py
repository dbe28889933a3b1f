"""Webhook receivers and an SMTP server for the notification tests: real servers on
127.0.0.1, each on a thread of its own, so both in-process and LiveServer tests can
use them."""

import asyncio
import contextlib
import ipaddress
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller

from tests.live import free_port


@dataclass
class Receipt:
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when it arrived


@dataclass
class Receiver:
    """An aiohttp server recording every POST; `answer(n)` gives the HTTP status of the
    n-th request (from 1), or None to hang without answering."""

    answer: Callable[[int], int | None] = lambda n: 200
    port: int = field(default_factory=free_port)
    receipts: list[Receipt] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self._lock:
            self.receipts.append(Receipt(dict(request.headers), body, time.time()))
            status = self.answer(len(self.receipts))
        if status is None:  # hang until the receiver stops
            assert self._stop is not None
            await self._stop.wait()
            status = 503
        return web.Response(status=status)

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self._stop = asyncio.Event()
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def start(self) -> "Receiver":
        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._serve())
            self._loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def stop(self) -> None:
        assert self._loop is not None and self._stop is not None and self._thread is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def got(self) -> list[Receipt]:
        with self._lock:
            return list(self.receipts)

    def __enter__(self) -> "Receiver":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Inbox:
    def __init__(self, refuse_recipients: bool = False) -> None:
        self.mails: list[tuple[list[str], EmailMessage]] = []
        self.raw: list[bytes] = []
        self.lock = threading.Lock()
        self.refuse_recipients = refuse_recipients

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.refuse_recipients:  # as a mail server refuses, quoting the address
            return f"550 5.1.1 <{address}>: no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        mail = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.mails.append((list(envelope.rcpt_tos), mail))
            self.raw.append(envelope.original_content or envelope.content)
        return "250 OK"


class SmtpServer:
    """aiosmtpd on 127.0.0.1: every mail it accepts, with its envelope recipients."""

    def __init__(self, port: int | None = None, refuse_recipients: bool = False) -> None:
        self.port = port or free_port()
        self._inbox = _Inbox(refuse_recipients)
        self._controller = Controller(self._inbox, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def mails(self) -> list[tuple[list[str], EmailMessage]]:
        with self._inbox.lock:
            return list(self._inbox.mails)

    def raw(self) -> list[bytes]:
        """Each mail's bytes as they arrived."""
        with self._inbox.lock:
            return list(self._inbox.raw)

    def __enter__(self) -> "SmtpServer":
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


async def eventually(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Waits until check() is truthy (it may be a coroutine function); its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        assert time.monotonic() < deadline, "the condition did not come true in time"
        await asyncio.sleep(0.05)


def eventually_sync(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.05)


# ---------------------------------------------------------------- loopback only

# Addresses a connection was attempted to while `only_loopback` was on; None when off.
_guarded: list[str] | None = None


def _is_loopback(address: Any) -> bool:
    if not isinstance(address, tuple):  # a Unix socket's path
        return True
    try:
        ip = ipaddress.ip_address(str(address[0]).split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _audit(event: str, args: tuple) -> None:
    if event == "socket.connect" and _guarded is not None and not _is_loopback(args[1]):
        _guarded.append(str(args[1][0]))
        raise PermissionError(f"a test may connect only to loopback, not {args[1][0]}")


sys.addaudithook(_audit)  # audit hooks cannot be removed: it acts only when turned on


@contextlib.contextmanager
def only_loopback() -> Iterator[list[str]]:
    """While on, any socket connection (of any thread) to an address that is not
    loopback fails before a packet leaves; yields the addresses that were tried."""
    global _guarded
    tried: list[str] = []
    _guarded = tried
    try:
        yield tried
    finally:
        _guarded = None
