"""The process that checks uploads for media_pool.py: `python -m orderdesk.media_worker`.

It runs media.prepare on one upload at a time, each under its own limits, so that a
crafted image costs at most that and leaves nothing behind in the server:

- CPU: a profiling timer (ITIMER_PROF counts this process's CPU time, not the clock)
  of DECODE_CPU_SECONDS while the upload is recognized, stripped and decoded, then of
  FINISH_CPU_SECONDS for turning and thumbnailing it. SIGPROF keeps its default action:
  when the timer runs out the kernel ends this process at once, even inside a decoder's
  C code. The server sees the pipe close and answers that the image costs too much.
- Memory: RLIMIT_AS allows MEMORY_BYTES more address space than the process had when
  the upload arrived; past it an allocation fails (MemoryError, or a decoder's "out of
  memory" error), which is answered the same way.

Its priority is lowered (nice 10): decoding never competes with the event loop for a
core. It ends when its input closes (the server stopped, or died), and after
MAX_JOBS uploads or once it holds RETIRE_GROWTH more memory than when it started (the
server starts a new one when needed).

The pipe protocol, both ways length-prefixed, no pickle (a worker fooled by a decoder
bug must not be able to run code in the server):

- server -> worker: 8-byte big-endian length, the upload's bytes.
- worker -> server: 4-byte big-endian length, a JSON header, then the header's byte
  counts of stored data and thumbnail. The header is {"kind", "md5", "width",
  "height", "data", "thumb" (-1: none), "retire"} for an accepted upload, or
  {"refused": <a name in media.REFUSALS>, "params": {...}, "retire"}, or {"error",
  "retire"} when checking raised what it should not (a bug: the server logs it).
- On start the worker writes one byte, READY, once it can take uploads.
"""

import contextlib
import json
import os
import resource
import signal
import struct
import sys
import warnings
from typing import Any, BinaryIO

from PIL import Image

from . import media
from .errors import Invalid

READY = b"R"
MAX_JOBS = 100
RETIRE_GROWTH = 64 * 2**20
REQUEST_HEAD = struct.Struct(">Q")
ANSWER_HEAD = struct.Struct(">I")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _memory() -> tuple[int, int]:
    """This process's address space and resident memory, in bytes; (0, 0) where there
    is no /proc to tell (then only the reckoning before decoding bounds memory)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            size, resident = statm.read().split()[:2]
    except OSError:
        return 0, 0
    return int(size) * _PAGE, int(resident) * _PAGE


def _limit_memory(extra: int | None) -> None:
    """Allow `extra` bytes of address space beyond what is mapped now; None: no limit
    (up to the hard limit this process was started with)."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if extra is None:
        soft = hard
    elif not _memory()[0]:
        return
    else:
        soft = _memory()[0] + extra
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _cpu_limit(seconds: float) -> None:
    signal.setitimer(signal.ITIMER_PROF, seconds)


def check(data: bytes) -> tuple[dict[str, Any], list[bytes]]:
    """One upload under its limits: the answer's header and blobs."""
    decoded = None
    _limit_memory(media.MEMORY_BYTES)
    try:
        _cpu_limit(media.DECODE_CPU_SECONDS)
        decoded = media.decode(data)
        _cpu_limit(media.FINISH_CPU_SECONDS)
        prepared = media.finish(decoded)
    except Invalid as refusal:
        return _refused(refusal), []
    except MemoryError:
        return _refused(media.too_costly()), []
    except Exception as error:  # a bug (here or in a decoder): the server logs it
        return {"error": f"{type(error).__name__}: {error}"[:1000]}, []
    finally:
        _cpu_limit(0)
        del decoded
        _limit_memory(None)
    header = {
        "kind": prepared.kind.pillow_format or "PDF",
        "md5": prepared.md5,
        "width": prepared.width,
        "height": prepared.height,
        "data": len(prepared.data),
        "thumb": -1 if prepared.thumb is None else len(prepared.thumb),
    }
    return header, [prepared.data, prepared.thumb or b""]


def _refused(refusal: Invalid) -> dict[str, Any]:
    name = next(
        (name for name, text in media.REFUSALS.items() if text is refusal.text),
        "UPLOAD_DAMAGED",
    )
    return {"refused": name, "params": refusal.params}


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    _, started_resident = _memory()
    answers.write(READY)
    answers.flush()
    for jobs in range(1, MAX_JOBS + 1):
        head = requests.read(REQUEST_HEAD.size)
        if len(head) < REQUEST_HEAD.size:
            return  # the server closed the pipe
        (length,) = REQUEST_HEAD.unpack(head)
        data = requests.read(length)
        if len(data) < length:
            return
        header, blobs = check(data)
        del data
        header["retire"] = jobs == MAX_JOBS or _memory()[1] > started_resident + RETIRE_GROWTH
        encoded = json.dumps(header).encode()
        answers.write(ANSWER_HEAD.pack(len(encoded)) + encoded)
        for blob in blobs:
            answers.write(blob)
        answers.flush()
        if header["retire"]:
            return


def main() -> None:
    # The protocol owns the real standard output; anything printed goes to stderr.
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    os.nice(10)
    signal.signal(signal.SIGPROF, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGPROF})
    # Past MAX_PIXELS, Pillow's warning is a refusal (media.py checks the size too).
    warnings.simplefilter("error", Image.DecompressionBombWarning)
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):
        serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
