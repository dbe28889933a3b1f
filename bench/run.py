"""orderdesk benchmark: seed a fresh database, drive the real server with wrk, and
report every result as a ratio to a bare aiohttp app measured in the same run.

    python bench/run.py [--orders 10000[,1000000]] [--users 1000] [--duration 10]
                        [--db postgresql://...] [--no-peer] [--runs 3]

Measured in one run: the bare aiohttp ceiling (at the start and at the end, on uvloop,
orderdesk's default loop; once more on asyncio's loop), orderdesk on SQLite (and on
PostgreSQL with --db), orderdesk's update on asyncio's loop (a ratio to the asyncio
ceiling), the FastAPI + uvicorn peer (bench/peer.py) on the same SQLite file, and
PocketBase's update and view of one record (bench/pocketbase.py), on as many orders.

The whole run is made --runs times (3 by default): the table shows each row's median,
with the spread of its p99 and its ratio, and whether issue 27's targets are met.

Needs wrk (Debian: apt-get install wrk). Writes bench/results/latest.json. Exits 1 if
any server answered anything but code 0 during a measured run.
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pocketbase  # noqa: E402  (bench/pocketbase.py, beside this file)
from orderdesk import security  # noqa: E402
from orderdesk.store import accounts, open_store  # noqa: E402
from orderdesk.store import orders as order_operations  # noqa: E402

BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
PASSWORD = "benchmark password"
LOGGED_IN = 32  # sessions the load is spread over
# Reads first, on the seeded data; then the writes, which grow the message threads.
ENDPOINTS = ("detail", "list", "update", "send")
BATCH = 10_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def progress(label: str, done: int, total: int) -> None:
    width = 30
    filled = width * done // total
    sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


async def seed(db: str, users: int, orders: int) -> None:
    """Users u1…uU (one shared password) and N orders, order k owned by user ((k-1) % U)+1,
    each with a few order_extra keys; through the store's bulk path."""
    store = await open_store(db)
    try:
        ids = await store.write(
            accounts.bulk_create_users,
            [f"u{n}" for n in range(1, users + 1)],
            security.hash_password(PASSWORD),
        )
        assert ids == list(range(1, users + 1)), "seed needs a fresh database"
        for start in range(0, orders, BATCH):
            batch = []
            for k in range(start + 1, min(start + BATCH, orders) + 1):
                order = {
                    "archive_id": k,
                    "title": f"Custom order {k}",
                    "content": "A made-to-measure piece, as discussed.",
                    "phone": "+1 555 0100",
                    "images": [],
                    "event_date": "",
                    "order_extra": {"budget": str(k % 9000), "size": "M", "source": "bench"},
                }
                batch.append(((k - 1) % users + 1, order))
            await store.write(order_operations.bulk_create_orders, batch)
            progress(f"seeding {orders} orders", min(start + BATCH, orders), orders)
    finally:
        await store.close()


async def run_sql(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


# As the issue measured it: each server (its threads too) on one core and wrk on another,
# so they do not take turns on the same core. --no-pin lets the OS place them.
CORES = sorted(os.sched_getaffinity(0))
PINS: dict[str, set[int] | None] = (
    {"server": {CORES[-1]}, "wrk": {CORES[0]}} if len(CORES) > 1 else {"server": None, "wrk": None}
)


def pinned(role: str):
    """A preexec_fn that pins a child to the cores of its role (None: not pinned)."""
    cores = PINS[role]
    return None if cores is None else (lambda: os.sched_setaffinity(0, cores))


class Server:
    """A server process on a free port, with its peak RSS read before it stops."""

    def __init__(
        self, argv: list[str], log: Path, port: int | None = None, start_seconds: float = 30
    ) -> None:
        """`argv`: a Python script and its flags (a free port is added), or, with `port`,
        a whole command line that already names that port."""
        self.port = port or free_port()
        command = argv if port else [sys.executable, *argv, "--port", str(self.port)]
        with log.open("ab") as log_file:  # the access log: one line per request
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                stdout=log_file,
                stderr=log_file,
                preexec_fn=pinned("server"),
            )
        deadline = time.monotonic() + start_seconds
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("server did not start") from None
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def peak_rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def login_sessions(url: str, users: int, orders: int, path: Path) -> None:
    import urllib.request

    sessions = []
    for n in range(1, min(LOGGED_IN, users) + 1):
        request = urllib.request.Request(
            url + "/api/login",
            data=json.dumps({"user_name": f"u{n}", "password": PASSWORD}).encode(),
            headers={"Content-Type": "application/json"},
        )
        body = json.load(urllib.request.urlopen(request))
        assert body["code"] == 0, body
        sessions.append(f'{{token = "{body["data"]["token"]}", user_id = {body["data"]["id"]}}}')
    path.write_text(
        f"return {{users = {users}, orders = {orders}, sessions = {{{', '.join(sessions)}}}}}\n"
    )


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, mode: str, sessions: Path, seconds: int, connections: int, script: str) -> dict:
    output = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
         "-s", str(BENCH / script), url, "--", mode, str(sessions)],
        capture_output=True, text=True, check=True, preexec_fn=pinned("wrk"),
    ).stdout  # fmt: skip

    def latency(percent: str) -> float:
        value, unit = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()
        return round(float(value) * _UNITS[unit], 3)

    socket_errors = re.search(r"Socket errors: (.*)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "errors": int(re.search(r"ORDERDESK_ERRORS (\d+)", output).group(1))
        + (int(non_2xx.group(1)) if non_2xx else 0),
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


def measure(
    url: str, mode: str, sessions: Path, args: argparse.Namespace, script: str = "orderdesk.lua"
) -> dict:
    wrk(url, mode, sessions, args.warmup, args.connections, script)  # warm-up, discarded
    return wrk(url, mode, sessions, args.duration, args.connections, script)


def measure_pocketbase(size: int, work: Path, args: argparse.Namespace) -> list[dict]:
    """PocketBase's update and view of one record (bench/pocketbase.py sets it up)."""
    port, data = free_port(), work / "pocketbase.lua"
    server = Server(pocketbase.serve_argv(work / "pocketbase", port), work / "pb.log", port)
    try:
        pocketbase.set_up(port, size, data)
        results = []
        for mode in ("update", "detail"):
            result = measure(server.url, mode, data, args, "pocketbase.lua")
            results.append(
                {**result, "endpoint": mode, "peak_rss_mb": round(server.peak_rss_mb(), 1)}
            )
        return results
    finally:
        server.stop()


def measure_ceiling(loop: str, work: Path, args: argparse.Namespace) -> dict:
    sessions = work / "no-sessions.lua"
    sessions.write_text("return {users = 1, orders = 1, sessions = {{token = '', user_id = 1}}}")
    ceiling = Server(["bench/ceiling.py", "--loop", loop], work / "ceiling.log")
    try:
        return {**measure(ceiling.url, "update", sessions, args),
                "peak_rss_mb": round(ceiling.peak_rss_mb(), 1)}  # fmt: skip
    finally:
        ceiling.stop()


def postgres_schema(url: str, size: int) -> tuple[str, str]:
    schema = f"bench_{size}_{int(time.time())}"
    asyncio.run(run_sql(url, f'CREATE SCHEMA "{schema}"'))
    return schema, f"{url}{'&' if '?' in url else '?'}search_path={schema}"


def one_run(args: argparse.Namespace, sizes: list[int], endpoints: list[str]) -> list[dict]:
    """Every server of one run, each row with its ratio to the run's own ceiling."""
    engines = ["sqlite"] + (["postgresql"] if args.db else [])
    rows: list[dict] = []

    def add(server: str, engine: str, size: int, mode: str, result: dict, top: dict) -> None:
        rows.append({"server": server, "engine": engine, "endpoint": mode, "orders": size,
                     **result, "ratio": round(result["rps"] / top["rps"], 3)})  # fmt: skip

    with tempfile.TemporaryDirectory(prefix="orderdesk-bench-") as temp:
        work = Path(temp)
        sessions = work / "sessions.lua"
        # The ceiling on orderdesk's default loop at the start and at the end: every
        # figure is a ratio to their mean; the two show how steady the machine was.
        first = measure_ceiling("uvloop", work, args)
        asyncio_top = None if args.no_peer else measure_ceiling("asyncio", work, args)
        for engine in engines:
            for size in sizes:
                schema = None
                if engine == "postgresql":
                    schema, db = postgres_schema(args.db, size)
                else:
                    db = str(work / f"bench-{size}.db")
                asyncio.run(seed(db, args.users, size))
                try:
                    server = Server(["run.py", "--db", db], work / f"server-{size}.log")
                    try:
                        login_sessions(server.url, args.users, size, sessions)
                        for mode in endpoints:
                            result = measure(server.url, mode, sessions, args)
                            result["peak_rss_mb"] = round(server.peak_rss_mb(), 1)
                            add("orderdesk", engine, size, mode, result, first)
                    finally:
                        server.stop()
                    if engine == "sqlite" and size == sizes[0] and not args.no_peer:
                        for label, argv in (
                            ("orderdesk --loop asyncio", ["run.py", "--loop", "asyncio"]),
                            ("FastAPI + uvicorn peer", ["bench/peer.py"]),
                        ):
                            peer = Server([*argv, "--db", db], work / "peer.log")
                            try:
                                result = measure(peer.url, "update", sessions, args)
                                result["peak_rss_mb"] = round(peer.peak_rss_mb(), 1)
                                top = asyncio_top if "asyncio" in label else first
                                add(label, engine, size, "update", result, top)
                            finally:
                                peer.stop()
                        for result in measure_pocketbase(size, work, args):
                            add(
                                "PocketBase 0.40",
                                engine,
                                size,
                                result.pop("endpoint"),
                                result,
                                first,
                            )
                finally:
                    if schema:
                        asyncio.run(run_sql(args.db, f'DROP SCHEMA "{schema}" CASCADE'))
        last = measure_ceiling("uvloop", work, args)
    top = {"rps": (first["rps"] + last["rps"]) / 2}
    for row in rows:
        if row["server"] != "orderdesk --loop asyncio":
            row["ratio"] = round(row["rps"] / top["rps"], 3)
    ceilings = [("bare aiohttp, start", first), ("bare aiohttp, end", last)]
    if asyncio_top:
        ceilings.append(("bare aiohttp, asyncio", asyncio_top))
    for label, result in reversed(ceilings):
        reference = asyncio_top if "asyncio" in label else top
        rows.insert(0, {"server": label, "engine": "", "endpoint": "update", "orders": 0,
                        **result, "ratio": round(result["rps"] / reference["rps"], 3)})  # fmt: skip

    return rows


def medians(runs: list[list[dict]]) -> list[dict]:
    """Each row's median over the runs (req/s, latencies, ratio; errors summed), with the
    spread of its ratio and p99 across them."""
    rows = []
    for same in zip(*runs, strict=True):
        row = dict(same[0])
        for key in ("rps", "p50_ms", "p99_ms", "ratio", "peak_rss_mb"):
            row[key] = statistics.median(r[key] for r in same)
        row["errors"] = sum(r["errors"] for r in same)
        row["socket_errors"] = " ".join(r["socket_errors"] for r in same).strip()
        row["ratio_spread"] = [min(r["ratio"] for r in same), max(r["ratio"] for r in same)]
        row["p99_spread"] = [min(r["p99_ms"] for r in same), max(r["p99_ms"] for r in same)]
        rows.append(row)
    return rows


# Issue 27's targets: orderdesk's on SQLite at the first size, against the run's ceiling
# and against PocketBase's same endpoint (on as many orders).
TARGETS = {"update": (0.30, 3.0, 10.0), "detail": (0.55, 3.0, None)}


def target_lines(rows: list[dict]) -> list[str]:
    size = min(row["orders"] for row in rows if row["orders"])
    found = {
        (r["server"], r["endpoint"]): r
        for r in rows
        if r["orders"] == size and r["engine"] == "sqlite"
    }
    lines = []
    for endpoint, (ratio, times_peer, p99) in TARGETS.items():
        ours = found.get(("orderdesk", endpoint))
        peer = found.get(("PocketBase 0.40", endpoint))
        if ours is None:
            continue
        checks = [
            (f"{ours['ratio']:.2f}x the ceiling (target {ratio:.2f})", ours["ratio"] >= ratio)
        ]
        if peer is not None:
            times = ours["rps"] / peer["rps"]
            checks.append(
                (f"{times:.1f}x PocketBase (target {times_peer:.0f})", times >= times_peer)
            )
        if p99 is not None:
            checks.append(
                (f"p99 {ours['p99_ms']:.1f} ms (target {p99:.0f})", ours["p99_ms"] <= p99)
            )
        lines += [f"{endpoint}: {text}: {'met' if ok else 'NOT met'}" for text, ok in checks]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", default="10000", help="order counts, comma-separated")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS))
    parser.add_argument(
        "--runs", type=int, default=3, help="whole runs; the table shows their medians"
    )
    parser.add_argument(
        "--db",
        help="a postgresql:// URL: PostgreSQL is measured too, after SQLite (each size gets "
        "a fresh schema there, dropped afterwards)",
    )
    parser.add_argument(
        "--no-peer",
        action="store_true",
        help="skip the peers (FastAPI, PocketBase) and the asyncio run",
    )
    parser.add_argument(
        "--no-pin", action="store_true", help="do not pin the servers and wrk to separate cores"
    )
    args = parser.parse_args()
    if args.no_pin:
        PINS.update(server=None, wrk=None)
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (Debian) or see github.com/wg/wrk")
    sizes = [int(n) for n in args.orders.split(",")]
    endpoints = args.endpoints.split(",")
    RESULTS.mkdir(parents=True, exist_ok=True)
    runs = []
    for number in range(1, args.runs + 1):
        print(f"run {number} of {args.runs}", file=sys.stderr)
        runs.append(one_run(args, sizes, endpoints))
    rows = medians(runs)

    print(f"\nmedians of {args.runs} runs (spread: lowest-highest)")
    print(f"{'server':<28}{'engine':<11}{'endpoint':<9}{'orders':>9}{'req/s':>9}"
          f"{'p50 ms':>8}{'p99 ms':>8}{'p99 spread':>14}{'ratio':>7}{'ratio spread':>14}"
          f"{'RSS MB':>8}{'errors':>7}")  # fmt: skip
    for row in rows:
        p99s, ratios = row["p99_spread"], row["ratio_spread"]
        print(f"{row['server']:<28}{row['engine']:<11}{row['endpoint']:<9}{row['orders']:>9}"
              f"{row['rps']:>9.0f}{row['p50_ms']:>8.2f}{row['p99_ms']:>8.2f}"
              f"{f'{p99s[0]:.1f}-{p99s[1]:.1f}':>14}{row['ratio']:>7.2f}"
              f"{f'{ratios[0]:.2f}-{ratios[1]:.2f}':>14}"
              f"{row['peak_rss_mb']:>8.1f}{row['errors']:>7}")  # fmt: skip
    print("\n".join(["", *target_lines(rows)]))
    report = {"when": int(time.time()), "connections": args.connections,
              "duration_s": args.duration, "users": args.users, "runs": args.runs,
              "results": rows, "each_run": runs}  # fmt: skip
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    failed = [r for r in rows if r["errors"] or r["socket_errors"]]
    for row in failed:
        print(f"FAILED: {row['server']} {row['endpoint']} had {row['errors']} bad answers "
              f"{row['socket_errors']}")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
