"""What the HTTP side of an authenticated update costs the server's CPU, next to the
bare aiohttp ceiling in the same run.

    python bench/httpside.py [--runs 3] [--duration 10] [--warmup 2] [--connections 32]

Seeds a fresh SQLite file (bench/run.py's seed), starts orderdesk with the store's
answer to the update canned (bench/canned_server.py says what is canned and what is
real), logs 32 users in, sends one real update, then drives the update with wrk
(bench/orderdesk.lua) as bench/run.py does: the server pinned to one core, wrk on the
other. Each run measures the ceiling (bench/ceiling.py) and then orderdesk; for each,
the server process's CPU time (utime + stime of all its threads, from /proc/PID/stat)
over the measured wrk run, divided by the requests wrk completed. Prints every run and
the medians; exits 1 if any answer was not code 0. Writes bench/results/httpside.json.

With --instructions, each server runs under valgrind's callgrind instead, and the
figure is the instructions it executes per request: deterministic, where CPU time on a
shared machine moves by 10-20 % between runs, so a change of a few per cent can be
judged. Its counters are zeroed, it idles --duration seconds and is dumped, then wrk
drives it --duration seconds at 4 connections (the server is ~50 times slower) and it
is dumped again; the idle span's count is subtracted from the loaded one (the
background tasks' share, which would otherwise grow as fewer requests are answered).
"""

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import RESULTS, Server, free_port, login_sessions, seed, wrk  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process, all its threads, from /proc/PID/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after the command's name
    return (int(fields[11]) + int(fields[12])) / TICKS  # fields 14 and 15 of stat


def cpu_per_request(server: Server, sessions: Path, args: argparse.Namespace) -> dict:
    wrk(server.url, "update", sessions, args.warmup, args.connections, "orderdesk.lua")
    before = cpu_seconds(server.process.pid)
    result = wrk(server.url, "update", sessions, args.duration, args.connections, "orderdesk.lua")
    used = cpu_seconds(server.process.pid) - before
    return {**result, "cpu_us": round(used / result["requests"] * 1e6, 1)}


# Under callgrind: few connections, so few requests are in flight across a dump.
CALLGRIND_CONNECTIONS = 4


def callgrind(name: str, argv: list[str], work: Path) -> Server:
    """`argv` (a script and its flags) under callgrind, its dumps named after `name`."""
    port = free_port()
    return Server(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={work}/callgrind.{name}.%p",
         sys.executable, *argv, "--port", str(port)],
        work / f"{name}.log", port, start_seconds=300,
    )  # fmt: skip


def instructions_per_request(
    server: Server, name: str, work: Path, sessions: Path, args: argparse.Namespace
) -> dict:
    pid = str(server.process.pid)

    def control(flag: str) -> None:
        subprocess.run(["callgrind_control", flag, pid], check=True, capture_output=True)

    def dumped(part: int) -> int:
        (dump,) = work.glob(f"callgrind.{name}.{pid}.{part}")
        return int(re.search(r"^totals: (\d+)", dump.read_text(), re.M).group(1))

    wrk(server.url, "update", sessions, args.warmup, CALLGRIND_CONNECTIONS, "orderdesk.lua")
    control("--zero")
    time.sleep(args.duration)
    control("--dump")
    control("--zero")
    result = wrk(
        server.url, "update", sessions, args.duration, CALLGRIND_CONNECTIONS, "orderdesk.lua"
    )
    control("--dump")
    idle, loaded = dumped(1), dumped(2)
    return {**result, "instructions": round((loaded - idle) / result["requests"])}


def first_update(url: str, sessions: Path) -> None:
    """One real update, whose answer the canned server keeps for every later one."""
    token = sessions.read_text().split('token = "')[1].split('"')[0]
    request = urllib.request.Request(
        url + "/api/communication/order/update",
        data=json.dumps({"id": 1, "order_extra": {"k0": "v0"}}).encode(),
        headers={"Content-Type": "application/json", "Token": token},
    )
    body = json.load(urllib.request.urlopen(request))
    assert body["code"] == 0, body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--orders", type=int, default=10000)
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count the instructions per request under valgrind's callgrind instead",
    )
    args = parser.parse_args()
    figure = "instructions" if args.instructions else "cpu_us"

    def shown(value: float) -> str:
        return f"{value / 1000:.1f}k instructions" if args.instructions else f"{value:.1f} µs"

    RESULTS.mkdir(parents=True, exist_ok=True)
    runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="orderdesk-httpside-") as temp:
        work = Path(temp)
        db, sessions = str(work / "bench.db"), work / "sessions.lua"
        no_sessions = work / "no-sessions.lua"
        no_sessions.write_text(
            "return {users = 1, orders = 1, sessions = {{token = '', user_id = 1}}}"
        )
        asyncio.run(seed(db, args.users, args.orders))
        servers = {
            "ceiling": (["bench/ceiling.py", "--loop", "uvloop"], no_sessions),
            "orderdesk": (["bench/canned_server.py", "--db", db], sessions),
        }
        for number in range(1, args.runs + 1):
            run: dict[str, dict] = {}
            for name, (argv, logins) in servers.items():
                if args.instructions:
                    server = callgrind(name, argv, work)
                else:
                    server = Server(argv, work / f"{name}.log")
                try:
                    if name == "orderdesk":
                        login_sessions(server.url, args.users, args.orders, sessions)
                        first_update(server.url, sessions)
                    if args.instructions:
                        run[name] = instructions_per_request(server, name, work, logins, args)
                    else:
                        run[name] = cpu_per_request(server, logins, args)
                finally:
                    server.stop()
            runs.append(run)
            top, canned = run["ceiling"], run["orderdesk"]
            print(
                f"run {number}: ceiling {shown(top[figure])}/request ({top['rps']:.0f} req/s), "
                f"orderdesk (store canned) {shown(canned[figure])}/request "
                f"({canned['rps']:.0f} req/s), bad answers {top['errors'] + canned['errors']}",
                flush=True,
            )
    medians = {name: statistics.median(run[name][figure] for run in runs) for name in servers}
    spread = {
        name: (min(run[name][figure] for run in runs), max(run[name][figure] for run in runs))
        for name in medians
    }
    print(
        f"median of {len(runs)}: ceiling {shown(medians['ceiling'])} "
        f"({shown(spread['ceiling'][0])}–{shown(spread['ceiling'][1])}), orderdesk's HTTP "
        f"side {shown(medians['orderdesk'])} "
        f"({shown(spread['orderdesk'][0])}–{shown(spread['orderdesk'][1])})"
    )
    connections = CALLGRIND_CONNECTIONS if args.instructions else args.connections
    report = {"when": int(time.time()), "connections": connections,
              "duration_s": args.duration, "runs": runs, f"median_{figure}": medians}  # fmt: skip
    (RESULTS / "httpside.json").write_text(json.dumps(report, indent=2) + "\n")
    bad = [run for run in runs for name in run if run[name]["errors"] or run[name]["socket_errors"]]
    if bad:
        print(f"FAILED: {len(bad)} runs had bad answers or socket errors")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
