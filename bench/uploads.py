"""Attachments under load and under attack.

1. Event-loop latency: p50/p99 of a cheap request (GET /api/communication/fields) made
   one after another while large images are uploaded and decoded, with decoding in the
   media worker processes (as served) and, for comparison, inline on the event loop.
2. Memory: the server's peak RSS (VmHWM) while 20 clients fetch a 10 MB file at once.
3. Attacks (tests/bombs.py), each on a fresh server: a 2 MiB multipart body of 40,000
   tiny parts; progressive JPEGs repeating one small scan (310 scans: refused by count;
   100 scans, 5600x5600: past the CPU limit), alone, then two at once while another
   user uploads a small photo; 12 palette PNGs of 6300x6300 at once. For each: how long
   the answer took, the CPU the server and its workers spent, the slowest /healthz
   answer meanwhile, and the server's own peak RSS.

    python bench/uploads.py [--db postgresql://...] [--only attacks]

The server runs in its own process (`serve` mode below: the real app, optionally with
decoding run inline on the event loop, which is what "inline" means).
"""

import argparse
import asyncio
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import bombs  # noqa: E402
from tests.live import free_port  # noqa: E402


class InlinePool:
    """Checks an upload at once on the event loop, blocked meanwhile, with no limits."""

    async def prepare(self, data: bytes, owner: int):
        from orderdesk import media

        return media.prepare(data)

    async def close(self) -> None:
        pass


def serve(db: str, port: int, inline: bool) -> None:
    from aiohttp import web
    from orderdesk.app import create_app
    from orderdesk.config import Config
    from orderdesk.keys import MEDIA_POOL

    config = Config(
        db=db, port=port, max_registrations_per_hour=0, log_level="warning", upload_quota_mb=10**6
    )
    app = create_app(config)
    if inline:

        async def inline_decoding(app: web.Application) -> None:
            await app[MEDIA_POOL].close()
            app[MEDIA_POOL] = InlinePool()  # type: ignore[assignment]

        app.on_startup.append(inline_decoding)
    web.run_app(app, host="127.0.0.1", port=port, print=None)


def large_jpeg() -> bytes:
    from PIL import Image

    size = (6000, 6000)  # 36 megapixels; noise, so that the file is large too (~8 MiB)
    noise = Image.merge("RGB", [Image.effect_noise(size, sigma) for sigma in (20, 30, 40)])
    image = Image.blend(noise, Image.linear_gradient("L").resize(size).convert("RGB"), 0.5)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


async def wait_serving(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(url + "/healthz"):
                    return
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
    raise RuntimeError("server did not start")


async def register(session: aiohttp.ClientSession, url: str, name: str) -> str:
    body = {"user_name": name, "password": "correct horse battery"}
    async with session.post(url + "/api/register", json=body) as response:
        return (await response.json())["data"]["token"]


async def upload(session: aiohttp.ClientSession, url: str, token: str, data: bytes) -> dict:
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(data), filename="large.jpg")
    async with session.post(
        url + "/api/attachment/upload", data=form, headers={"Token": token}
    ) as response:
        answer = await response.json()
    assert answer["code"] == 0, answer
    return answer["data"]


async def latency_during_uploads(url: str, image: bytes) -> dict:
    async with aiohttp.ClientSession() as session:
        token = await register(session, url, f"bench-{time.monotonic_ns()}")
        samples: list[float] = []
        done = asyncio.Event()

        async def probe() -> None:
            while not done.is_set():
                started = time.perf_counter()
                async with session.get(url + "/api/communication/fields") as response:
                    await response.read()
                samples.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(0.005)

        prober = asyncio.create_task(probe())
        started = time.perf_counter()
        for _ in range(4):
            await upload(session, url, token, image)
        uploads_seconds = time.perf_counter() - started
        done.set()
        await prober
    samples.sort()
    return {
        "requests": len(samples),
        "p50_ms": round(statistics.median(samples), 1),
        "p99_ms": round(samples[int(len(samples) * 0.99) - 1], 1),
        "max_ms": round(samples[-1], 1),
        "4_uploads_s": round(uploads_seconds, 2),
    }


def peak_rss_kib(pid: int) -> tuple[int, int]:
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


async def rss_during_downloads(url: str, pid: int) -> dict:
    data = (b"%PDF-1.4\n" + bytes(range(256)) * (10 * 2**20 // 256))[: 10 * 2**20]  # 10 MiB
    async with aiohttp.ClientSession() as session:
        token = await register(session, url, f"downloads-{time.monotonic_ns()}")
        logo = (await upload(session, url, token, data))["logo"]
        await asyncio.sleep(0.5)
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets the peak (VmHWM) to now
        before = peak_rss_kib(pid)

        async def fetch() -> int:
            async with session.get(url + logo) as response:
                return len(await response.read())

        started = time.perf_counter()
        sizes = await asyncio.gather(*(fetch() for _ in range(20)))
        seconds = time.perf_counter() - started
    assert sizes == [len(data)] * 20
    after = peak_rss_kib(pid)
    return {
        "rss_before_mib": round(before[0] / 1024, 1),
        "peak_during_20_downloads_mib": round(after[1] / 1024, 1),
        "20_downloads_s": round(seconds, 2),
    }


# ---------------------------------------------------------------- attacks

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU the server has spent, with its ended children (reaped) and live ones."""

    def fields(of: int) -> list[str]:
        return Path(f"/proc/{of}/stat").read_text().rsplit(")", 1)[1].split()

    total = sum(int(x) for x in fields(pid)[11:15])  # utime stime cutime cstime
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            with contextlib.suppress(FileNotFoundError):  # it ended meanwhile
                total += sum(int(x) for x in fields(int(child))[11:13])
    return total / TICK


class Probe:
    """GET /healthz every 10 ms while something else runs."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url, self.samples = session, url, []

    async def _run(self) -> None:
        while True:
            started = time.perf_counter()
            async with self.session.get(self.url + "/healthz") as response:
                await response.read()
            self.samples.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.01)

    async def during(self, work):
        task = asyncio.create_task(self._run())
        await asyncio.sleep(0.1)
        try:
            return await work
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def figures(self) -> str:
        ordered = sorted(self.samples)
        return f"/healthz p50 {statistics.median(ordered):.1f} ms, max {ordered[-1]:.1f} ms"


async def send(session, url, token, data: bytes, name: str = "x.jpg") -> tuple[float, dict]:
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(data), filename=name)
    started = time.perf_counter()
    async with session.post(
        url + "/api/attachment/upload", data=form, headers={"Token": token}
    ) as response:
        answer = await response.json()
    return time.perf_counter() - started, answer


async def many_parts_attack(url: str, pid: int) -> str:
    body, content_type = bombs.many_parts()
    async with aiohttp.ClientSession() as session:
        token = await register(session, url, "parts")
        headers = {"Token": token, "Content-Type": content_type}

        async def post() -> tuple[float, dict]:
            started = time.perf_counter()
            async with session.post(
                url + "/api/attachment/upload", data=body, headers=headers
            ) as response:
                return time.perf_counter() - started, await response.json()

        probe = Probe(session, url)
        cpu = cpu_seconds(pid)
        took, answer = await probe.during(post())
    return (
        f"{body.count(b'--b') - 1} parts in 2 MiB: answered in {took:.2f} s "
        f"({answer['msg']!r}), server CPU {cpu_seconds(pid) - cpu:.2f} s; {probe.figures()}"
    )


async def scan_attack(url: str, pid: int, bomb: bytes) -> str:
    small = io.BytesIO()
    from PIL import Image

    Image.new("RGB", (800, 600), "red").save(small, "JPEG")
    async with aiohttp.ClientSession() as session:
        alice = await register(session, url, "alice")
        bob = await register(session, url, "bob")
        await send(session, url, bob, small.getvalue())  # workers started
        cpu = cpu_seconds(pid)
        took, answer = await send(session, url, alice, bomb)
        one = f"one: {took:.2f} s, CPU {cpu_seconds(pid) - cpu:.2f} s, {answer['msg']!r}"

        async def two_and_bob() -> tuple[list[float], float]:
            bombs_sent = [asyncio.create_task(send(session, url, alice, bomb)) for _ in range(2)]
            await asyncio.sleep(0.2)
            bob_took, bob_answer = await send(session, url, bob, small.getvalue())
            assert bob_answer["code"] == 0, bob_answer
            return [round(t, 2) for t, _ in await asyncio.gather(*bombs_sent)], bob_took

        probe = Probe(session, url)
        cpu = cpu_seconds(pid)
        times, bob_took = await probe.during(two_and_bob())
    return (
        f"{one}; two at once: {times} s, CPU {cpu_seconds(pid) - cpu:.2f} s, another user's "
        f"small upload meanwhile {bob_took:.2f} s; {probe.figures()}"
    )


async def palette_attack(url: str, pid: int) -> str:
    bomb = bombs.palette_bomb()
    async with aiohttp.ClientSession() as session:
        token = await register(session, url, "palette")
        await asyncio.sleep(0.5)
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets the peak (VmHWM) to now
        before, _ = peak_rss_kib(pid)
        started = time.perf_counter()
        answers = await asyncio.gather(
            *(send(session, url, token, bomb, "p.png") for _ in range(12))
        )
        took = time.perf_counter() - started
        _, peak = peak_rss_kib(pid)
        await asyncio.sleep(1)
        after, _ = peak_rss_kib(pid)
    messages = sorted({answer["msg"] for _, answer in answers})
    return (
        f"12 at once ({len(bomb) // 1024} KB each): all answered in {took:.2f} s {messages}; "
        f"server RSS {before // 1024} MiB before, peak {peak // 1024} MiB, "
        f"{after // 1024} MiB a second after"
    )


def attacks(db_for) -> None:
    runs = [
        ("many parts", lambda url, pid: many_parts_attack(url, pid)),
        ("JPEG, 310 scans", lambda url, pid: scan_attack(url, pid, bombs.scan_bomb(6000, 300))),
        ("JPEG, 100 scans", lambda url, pid: scan_attack(url, pid, bombs.scan_bomb(5600, 90))),
        ("palette PNG", lambda url, pid: palette_attack(url, pid)),
    ]
    for label, attack in runs:
        process, url = start(db_for(label), inline=False)
        try:
            print(f"{label}: {asyncio.run(attack(url, process.pid))}")
        finally:
            process.terminate()
            process.wait()


def start(db: str, inline: bool) -> tuple[subprocess.Popen, str]:
    port = free_port()
    args = [sys.executable, __file__, "serve", "--db", db, "--port", str(port)]
    process = subprocess.Popen(args + (["--inline"] if inline else []), cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    asyncio.run(wait_serving(url))
    return process, url


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", nargs="?", default="measure", choices=("measure", "serve"))
    parser.add_argument("--db")
    parser.add_argument("--port", type=int)
    parser.add_argument("--inline", action="store_true")
    parser.add_argument("--only", choices=("load", "attacks"))
    args = parser.parse_args()
    if args.mode == "serve":
        serve(args.db, args.port, args.inline)
        return
    if args.only != "load":
        with tempfile.TemporaryDirectory() as folder:
            attacks(lambda label: args.db or str(Path(folder) / f"{label.replace(' ', '-')}.db"))
    if args.only == "attacks":
        return
    image = large_jpeg()
    print(f"image: 6000x6000 JPEG, {len(image) / 2**20:.1f} MiB")
    with tempfile.TemporaryDirectory() as folder:
        for run in ("downloads", "pool", "inline"):
            db = args.db or str(Path(folder) / f"bench-{run}.db")
            process, url = start(db, inline=run == "inline")
            try:
                if run == "downloads":  # a fresh server: nothing decoded before
                    memory = asyncio.run(rss_during_downloads(url, process.pid))
                    print(f"RSS, 20 clients fetching one 10 MiB file at once: {memory}")
                    continue
                figures = asyncio.run(latency_during_uploads(url, image))
                label = "inline on the loop" if run == "inline" else "media worker processes"
                print(f"GET fields while 4 large images are uploaded, {label}: {figures}")
            finally:
                process.terminate()
                process.wait()


if __name__ == "__main__":
    main()
