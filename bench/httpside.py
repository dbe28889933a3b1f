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
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import RESULTS, Server, login_sessions, seed, wrk  # noqa: E402

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
    args = parser.parse_args()
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
        for number in range(1, args.runs + 1):
            ceiling = Server(["bench/ceiling.py", "--loop", "uvloop"], work / "ceiling.log")
            try:
                top = cpu_per_request(ceiling, no_sessions, args)
            finally:
                ceiling.stop()
            server = Server(["bench/canned_server.py", "--db", db], work / "server.log")
            try:
                login_sessions(server.url, args.users, args.orders, sessions)
                first_update(server.url, sessions)
                canned = cpu_per_request(server, sessions, args)
            finally:
                server.stop()
            runs.append({"ceiling": top, "orderdesk": canned})
            print(
                f"run {number}: ceiling {top['cpu_us']:.1f} µs/request ({top['rps']:.0f} req/s), "
                f"orderdesk (store canned) {canned['cpu_us']:.1f} µs/request "
                f"({canned['rps']:.0f} req/s), bad answers {top['errors'] + canned['errors']}",
                flush=True,
            )
    medians = {
        name: statistics.median(run[name]["cpu_us"] for run in runs)
        for name in ("ceiling", "orderdesk")
    }
    spread = {
        name: (min(run[name]["cpu_us"] for run in runs), max(run[name]["cpu_us"] for run in runs))
        for name in medians
    }
    print(
        f"median of {len(runs)}: ceiling {medians['ceiling']:.1f} µs "
        f"({spread['ceiling'][0]:.1f}–{spread['ceiling'][1]:.1f}), orderdesk's HTTP side "
        f"{medians['orderdesk']:.1f} µs ({spread['orderdesk'][0]:.1f}–{spread['orderdesk'][1]:.1f})"
    )
    report = {"when": int(time.time()), "connections": args.connections,
              "duration_s": args.duration, "runs": runs, "median_cpu_us": medians}  # fmt: skip
    (RESULTS / "httpside.json").write_text(json.dumps(report, indent=2) + "\n")
    bad = [run for run in runs for name in run if run[name]["errors"] or run[name]["socket_errors"]]
    if bad:
        print(f"FAILED: {len(bad)} runs had bad answers or socket errors")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
