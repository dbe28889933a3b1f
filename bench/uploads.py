"""Attachments under load (issue 16): two figures.

1. Event-loop latency: p50/p99 of a cheap request (GET /api/communication/fields) made
   one after another while large images are uploaded and decoded, with decoding on the
   media thread pool (as served) and, for comparison, inline on the event loop.
2. Memory: the server's peak RSS (VmHWM) while 20 clients fetch a 10 MB file at once.

    python bench/uploads.py [--db postgresql://...]

The server runs in its own process (`serve` mode below: the real app, optionally with
an executor that runs decoding inline, which is what "without" means).
"""

import argparse
import asyncio
import concurrent.futures
import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.live import free_port  # noqa: E402


class InlineExecutor(concurrent.futures.Executor):
    """Runs the work at once on the calling thread: the event loop, blocked meanwhile."""

    def submit(self, fn, /, *args, **kwargs):
        future: concurrent.futures.Future = concurrent.futures.Future()
        future.set_result(fn(*args, **kwargs))
        return future


def serve(db: str, port: int, inline: bool) -> None:
    from aiohttp import web
    from orderdesk.app import create_app
    from orderdesk.config import Config
    from orderdesk.keys import MEDIA_POOL

    app = create_app(Config(db=db, port=port, max_registrations_per_hour=0, log_level="warning"))
    if inline:

        async def inline_decoding(app: web.Application) -> None:
            app[MEDIA_POOL] = InlineExecutor()

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
    args = parser.parse_args()
    if args.mode == "serve":
        serve(args.db, args.port, args.inline)
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
                label = "inline on the loop" if run == "inline" else "media thread pool"
                print(f"GET fields while 4 large images are uploaded, {label}: {figures}")
            finally:
                process.terminate()
                process.wait()


if __name__ == "__main__":
    main()
