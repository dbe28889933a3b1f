"""Open idle event streams against the update path: the server's memory with
N streams of GET /api/events open, and the update path's req/s (wrk, as bench/run.py
drives it) with them open and without, alternating, repeated (the machine is shared).

    python bench/streams.py [--streams 1000] [--repeat 3] [--duration 5] [--db URL]

The streams belong to other users than the ones wrk updates as, so they stay idle
(a ping every 15 s); every update still writes its events and wakes the broadcaster.
"""

import argparse
import asyncio
import json
import re
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402  (bench/run.py: seeding, the server, wrk)

STREAMS_PER_USER = 10  # the server's cap


def rss_mb(server: bench.Server) -> float:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


def login(url: str, name: str) -> str:
    request = urllib.request.Request(
        url + "/api/login",
        data=json.dumps({"user_name": name, "password": bench.PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    body = json.load(urllib.request.urlopen(request))
    assert body["code"] == 0, body
    return body["data"]["token"]


class Streams:
    """`tokens` × STREAMS_PER_USER open streams, held by a thread with its own loop."""

    def __init__(self, url: str, tokens: list[str]) -> None:
        self.url, self.tokens = url, tokens
        self.opened = threading.Event()
        self.count = 0
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._hold(),))
        self._thread.start()
        if not self.opened.wait(120):
            raise RuntimeError("streams did not open")

    async def _hold(self) -> None:
        self._stop = asyncio.Event()
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            responses = []
            for token in self.tokens:
                for _ in range(STREAMS_PER_USER):
                    response = await session.get(self.url + "/api/events", headers={"Token": token})
                    assert response.status == 200
                    assert (await response.content.readline()).startswith(b"retry:")
                    responses.append(response)
            self.count = len(responses)
            self.opened.set()
            await self._stop.wait()
            for response in responses:
                response.close()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--db", help="a postgresql:// URL with a fresh schema; default SQLite")
    args = parser.parse_args()
    stream_users = -(-args.streams // STREAMS_PER_USER)
    users = bench.LOGGED_IN + stream_users
    rows = []
    with tempfile.TemporaryDirectory(prefix="orderdesk-streams-") as work:
        db = args.db or str(Path(work) / "streams.db")
        asyncio.run(bench.seed(db, users, args.orders))
        server = bench.Server(["run.py", "--db", db], Path(work) / "server.log")
        try:
            sessions = Path(work) / "sessions.lua"
            bench.login_sessions(server.url, users, args.orders, sessions)
            names = [f"u{bench.LOGGED_IN + n}" for n in range(1, stream_users + 1)]
            tokens = [login(server.url, name) for name in names]
            idle_rss = rss_mb(server)
            for n in range(args.repeat):
                without = bench.measure(server.url, "update", sessions, args)
                streams = Streams(server.url, tokens)
                time.sleep(1)
                open_rss = rss_mb(server)
                with_open = bench.measure(server.url, "update", sessions, args)
                streams.close()
                rows.append((n + 1, streams.count, without, with_open, open_rss))
                print(f"run {n + 1}: {streams.count} streams; update req/s without "
                      f"{without['rps']:.0f}, with {with_open['rps']:.0f}; RSS with them "
                      f"{open_rss:.1f} MB", flush=True)  # fmt: skip
        finally:
            server.stop()
    print(f"\nRSS before any stream: {idle_rss:.1f} MB")
    print(f"{'run':<5}{'streams':>8}{'req/s without':>15}{'req/s with':>12}{'p99 ms w/o':>12}"
          f"{'p99 ms with':>13}{'RSS with MB':>13}")  # fmt: skip
    for n, count, without, with_open, open_rss in rows:
        print(f"{n:<5}{count:>8}{without['rps']:>15.0f}{with_open['rps']:>12.0f}"
              f"{without['p99_ms']:>12.2f}{with_open['p99_ms']:>13.2f}"
              f"{open_rss:>13.1f}")  # fmt: skip
    errors = sum(r[2]["errors"] + r[3]["errors"] for r in rows)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
