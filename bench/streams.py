"""Idle event streams against the server, measured one of two ways.

    python bench/streams.py [--streams 1000] [--repeat 3] [--duration 5] [--db URL]
    python bench/streams.py --fanout [--streams 10000] [--db URL]

By default: the server's memory with N streams of GET /api/events open, and the update
path's req/s (wrk, as bench/run.py drives it) with them open and without, alternating,
repeated (the machine is shared). The streams belong to other customers than the ones
wrk updates as, so they stay idle (a ping every 15 s); every update still writes its
events and wakes the broadcaster.

--fanout: N streams of staff users (a merchant's stream carries every order's events)
held idle, then ONE change (a merchant's message on one order) that every stream must
carry: per stream, the time from the change's send to its event's bytes arriving (max,
p99, p50), how many never arrived within FANOUT_WAIT_SECONDS, and the server's RSS
before the streams and its peak (VmHWM) with them. The stream users are made staff
through the API, by an admin the seed adds.

With --db (a postgresql:// URL) the server runs on a fresh schema there, dropped
afterwards; without it, on a fresh SQLite file.

The streams are held by --readers processes on raw sockets, pinned to the core wrk uses
(the server has the other). Each waits in epoll and stamps every socket an epoll wake
returns with the time of that wake, before reading any of them: the time says when the
bytes were there, not when a busy client got round to them. Their clock is the system's
monotonic one, which every process shares.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import resource
import select
import socket
import statistics
import sys
import tempfile
import time
import urllib.request
from multiprocessing.connection import Connection
from pathlib import Path

from orderdesk import security
from orderdesk.store import accounts, open_store

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402  (bench/run.py: seeding, the server, wrk)

STREAMS_PER_USER = 10  # the server's cap
FANOUT_WAIT_SECONDS = 10.0  # an event not there by then counts as never arrived
ADMIN = "admin"
EVENT_LINE = b"\nevent: "  # in every event's frame, never in a ping or the retry line


def raise_fd_limit() -> int:
    """Each stream is a socket on both sides: take the hard limit (inherited by the
    server and the readers, which this process starts)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def proc_status_mb(server: bench.Server, field: str) -> float:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+) kB", status).group(1)) / 1024


def cpu_seconds(server: bench.Server) -> float:
    """The CPU time the server's process (all its threads) has used."""
    fields = Path(f"/proc/{server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_files_limit(server: bench.Server) -> str:
    limits = Path(f"/proc/{server.process.pid}/limits").read_text()
    return re.search(r"Max open files\s+(\d+)", limits).group(1)


def call(url: str, path: str, body: dict, token: str = "") -> dict:
    """POST `body` to the API; the answer's data (it must be code 0)."""
    request = urllib.request.Request(
        url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Token": token},
    )
    answer = json.load(urllib.request.urlopen(request))
    assert answer["code"] == 0, answer
    return answer.get("data")


def login(url: str, name: str) -> str:
    return call(url, "/api/login", {"user_name": name, "password": bench.PASSWORD})["token"]


def open_stream(port: int, token: str) -> socket.socket:
    """GET /api/events on a raw socket, read up to its retry line (the stream is open)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nToken: {token}\r\n\r\n".encode())
    received = b""
    while b"retry:" not in received:
        data = sock.recv(4096)
        if not data:
            raise RuntimeError(f"stream refused: {received[:200]!r}")
        received += data
    if not received.startswith(b"HTTP/1.1 200 "):
        raise RuntimeError(f"stream refused: {received[:200]!r}")
    sock.setblocking(False)
    return sock


def hold_streams(port: int, tokens: list[str], control: Connection) -> None:
    """A reader process: open STREAMS_PER_USER streams per token, say how many, then stamp
    the first event's arrival on each until told a deadline and it passes (or every
    stream has one); answer the arrival times and how many streams the server ended."""
    if bench.PINS["wrk"] is not None:
        os.sched_setaffinity(0, bench.PINS["wrk"])
    streams = {}
    for token in tokens:
        for _ in range(STREAMS_PER_USER):
            sock = open_stream(port, token)
            streams[sock.fileno()] = sock
    control.send(len(streams))
    poller = select.epoll(len(streams) + 1)
    for fd in streams:
        poller.register(fd, select.EPOLLIN)
    poller.register(control.fileno(), select.EPOLLIN)
    tails = dict.fromkeys(streams, b"")  # a frame split between two reads is still found
    arrived: dict[int, float] = {}
    ended: set[int] = set()
    deadline = None
    while deadline is None or (
        time.monotonic() < deadline and len(arrived.keys() | ended) < len(streams)
    ):
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready = poller.poll(wait, len(streams) + 1)
        now = time.monotonic()
        for fd, _ in ready:
            if fd == control.fileno():
                deadline = control.recv()
                continue
            try:
                data = streams[fd].recv(65536)
            except ConnectionError:
                data = b""
            if not data:
                poller.unregister(fd)
                ended.add(fd)
                continue
            seen = tails[fd] + data
            if fd not in arrived and EVENT_LINE in seen:
                arrived[fd] = now
            tails[fd] = seen[-len(EVENT_LINE) :]
    control.send((list(arrived.values()), len(ended)))
    control.recv()  # held open until told, so that their ends are not in the measurement
    for sock in streams.values():
        sock.close()


class Readers:
    """`tokens` × STREAMS_PER_USER open streams, spread over `count` reader processes."""

    def __init__(self, port: int, tokens: list[str], count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._controls, self._processes = [], []
        for n in range(count):
            mine, theirs = context.Pipe()
            process = context.Process(target=hold_streams, args=(port, tokens[n::count], theirs))
            process.start()
            self._controls.append(mine)
            self._processes.append(process)
        self.count = sum(control.recv() for control in self._controls)

    def finish(self, deadline: float) -> tuple[list[float], int]:
        """The first event's arrival times on every stream by `deadline` (monotonic), and
        how many streams the server ended."""
        for control in self._controls:
            control.send(deadline)
        arrivals, ended = [], 0
        for control in self._controls:
            times, gone = control.recv()
            arrivals += times
            ended += gone
        return arrivals, ended

    def close(self) -> None:
        for control in self._controls:
            control.send(None)
        for process in self._processes:
            process.join(30)


async def seed(db: str, users: int, orders: int, admin: bool) -> None:
    await bench.seed(db, users, orders)
    if admin:
        store = await open_store(db)
        try:
            await store.write(
                accounts.save_admin, ADMIN, None, security.hash_password(bench.PASSWORD)
            )
        finally:
            await store.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def fanout(server: bench.Server, work: Path, stream_users: int, args: argparse.Namespace) -> int:
    """Staff streams held idle, one change, and when its event reached each."""
    admin = login(server.url, ADMIN)
    for n in range(1, stream_users + 1):
        call(server.url, "/api/admin/users/update", {"id": n, "role": "staff"}, admin)
    tokens = [login(server.url, f"u{n}") for n in range(1, stream_users + 1)]
    rss_before = proc_status_mb(server, "VmRSS")
    peak_before = proc_status_mb(server, "VmHWM")
    opening = time.monotonic()
    readers = Readers(server.port, tokens, args.readers)
    opened_in = time.monotonic() - opening
    time.sleep(args.idle)
    rss_open = proc_status_mb(server, "VmRSS")
    cpu_before = cpu_seconds(server)
    sent = time.monotonic()
    call(
        server.url,
        "/api/admin/communication/message/send",
        {"comm_order_id": 1, "message_type": "text", "content": "To every open stream."},
        admin,
    )
    answered = time.monotonic() - sent
    arrivals, ended = readers.finish(sent + FANOUT_WAIT_SECONDS)
    cpu = cpu_seconds(server) - cpu_before
    readers.close()
    delays = [arrival - sent for arrival in arrivals]
    missing = readers.count - len(arrivals)
    print(f"server's open files limit: {open_files_limit(server)}")
    print(f"streams: {readers.count} opened ({stream_users} staff users, {args.readers} "
          f"reader processes) in {opened_in:.1f} s, held idle {args.idle:.0f} s")  # fmt: skip
    print(f"server RSS before the streams: {rss_before:.1f} MB (peak so far {peak_before:.1f} MB); "
          f"with them open: {rss_open:.1f} MB; peak (VmHWM) after the change: "
          f"{proc_status_mb(server, 'VmHWM'):.1f} MB")  # fmt: skip
    print(f"the change (a merchant's message) answered in {answered * 1000:.1f} ms; the server's "
          f"CPU time from its send until every stream had it: {cpu * 1000:.0f} ms")  # fmt: skip
    if delays:
        print(f"its event, from the change's send to its bytes on each stream: "
              f"p50 {percentile(delays, 0.5) * 1000:.0f} ms, p99 "
              f"{percentile(delays, 0.99) * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms, "
              f"mean {statistics.fmean(delays) * 1000:.0f} ms")  # fmt: skip
    print(f"never arrived within {FANOUT_WAIT_SECONDS:.0f} s: {missing}; "
          f"streams the server ended: {ended}")  # fmt: skip
    return 1 if missing or ended or readers.count < args.streams else 0


def update_path(
    server: bench.Server, work: Path, stream_users: int, args: argparse.Namespace
) -> int:
    """Customer streams open and not, alternating, under wrk's updates."""
    users = bench.LOGGED_IN + stream_users
    sessions = work / "sessions.lua"
    bench.login_sessions(server.url, users, args.orders, sessions)
    tokens = [login(server.url, f"u{bench.LOGGED_IN + n}") for n in range(1, stream_users + 1)]
    idle_rss = proc_status_mb(server, "VmRSS")
    rows = []
    for n in range(args.repeat):
        without = bench.measure(server.url, "update", sessions, args)
        readers = Readers(server.port, tokens, args.readers)
        time.sleep(1)
        open_rss = proc_status_mb(server, "VmRSS")
        with_open = bench.measure(server.url, "update", sessions, args)
        _, ended = readers.finish(time.monotonic())
        readers.close()
        rows.append((n + 1, readers.count, ended, without, with_open, open_rss))
        print(f"run {n + 1}: {readers.count} streams ({ended} ended by the server); update "
              f"req/s without {without['rps']:.0f}, with {with_open['rps']:.0f}; RSS with "
              f"them {open_rss:.1f} MB", flush=True)  # fmt: skip
    print(f"\nRSS before any stream: {idle_rss:.1f} MB")
    print(f"{'run':<5}{'streams':>8}{'req/s without':>15}{'req/s with':>12}{'p99 ms w/o':>12}"
          f"{'p99 ms with':>13}{'RSS with MB':>13}")  # fmt: skip
    for n, count, _, without, with_open, open_rss in rows:
        print(f"{n:<5}{count:>8}{without['rps']:>15.0f}{with_open['rps']:>12.0f}"
              f"{without['p99_ms']:>12.2f}{with_open['p99_ms']:>13.2f}"
              f"{open_rss:>13.1f}")  # fmt: skip
    failed = sum(r[2] + r[3]["errors"] + r[4]["errors"] for r in rows)
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fanout", action="store_true", help="one change to N staff streams")
    parser.add_argument("--streams", type=int, help="default 1000, with --fanout 10000")
    parser.add_argument("--readers", type=int, default=4, help="client processes")
    parser.add_argument("--idle", type=float, default=5, help="--fanout: seconds held idle")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--db", help="a postgresql:// URL (a fresh schema); default SQLite")
    args = parser.parse_args()
    args.streams = args.streams or (10_000 if args.fanout else 1000)
    print(f"open files limit: {raise_fd_limit()}")
    mode = fanout if args.fanout else update_path
    stream_users = -(-args.streams // STREAMS_PER_USER)
    users = stream_users if args.fanout else bench.LOGGED_IN + stream_users
    with tempfile.TemporaryDirectory(prefix="orderdesk-streams-") as work:
        schema = None
        if args.db:
            schema, db = bench.postgres_schema(args.db, args.orders)
        else:
            db = str(Path(work) / "streams.db")
        try:
            asyncio.run(seed(db, users, args.orders, admin=args.fanout))
            server = bench.Server(["run.py", "--db", db], Path(work) / "server.log")
            try:
                return mode(server, Path(work), stream_users, args)
            finally:
                server.stop()
        finally:
            if schema:
                asyncio.run(bench.run_sql(args.db, f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    sys.exit(main())
