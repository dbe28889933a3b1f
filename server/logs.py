"""The access log, JSON log lines (--log-format json), and what the log says about a
client's mistakes: one INFO line, never an ERROR."""

import functools
import logging
import time
from datetime import UTC, datetime
from time import localtime, strftime
from typing import TextIO

import orjson
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web import BaseRequest, StreamResponse

from .keys import CLIENT, REQUEST_ID, RESULT_CODE, USER
from .redact import redact


class RedactingFormatter(logging.Formatter):
    """Every line the server writes, its traceback included, with URL passwords and
    credential query parameters masked: no password, session token, API key or reset
    token reaches the log, whichever library's message carried it."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class MalformedRequestsAsInfo(logging.Filter):
    """aiohttp logs a request its HTTP parser refuses with 400 (a request line over
    64 KiB, a header line over 8 KiB, a broken header) as an ERROR with a traceback.
    Anyone can send one: it becomes one INFO line naming the peer and the kind of
    mistake, not the bytes sent."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            peer = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg = "refused a malformed HTTP request from %s: %s"
            record.args = (peer, type(error).__name__)
            record.exc_info = record.exc_text = None
        return True


class ClientGoneAsInfo(logging.Filter):
    """aiohttp logs a request whose client went away before an answer could be written
    as an ERROR with a traceback: say a client that sent `Expect: 100-continue` to a
    path no route serves and left before the 100 Continue (the routes answer it
    themselves: middlewares.expect_continue). A client that goes away is nothing wrong
    with the server: one INFO line naming the peer."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, ConnectionError) and record.msg == "Error handling request from %s":
            peer = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg = "the client at %s disconnected before the answer was sent"
            record.args = (peer,)
            record.exc_info = record.exc_text = None
        return True


_LINE = "%s %s %s %s %.1fms %s %s"
# What each of an access line's values is called in a JSON line, in _LINE's order.
ACCESS_FIELDS = ("request_id", "method", "path", "code", "duration_ms", "client", "user_id")
# The text form's lines (--log-format text, RedactingFormatter).
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class AccessLogger(AbstractAccessLogger):
    """One line per request, written by aiohttp after the answer is sent: request id,
    method, path, code (the envelope's under /api/, else the HTTP status), duration,
    the client's address (behind a trusted proxy, the one it names) and the user id (0
    without a session). Never a body, a query string or a token."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        user = request.get(USER)
        self.write(
            (
                request.get(REQUEST_ID, "-"),  # "-": refused before any middleware ran
                request.method,
                request.path,
                request.get(RESULT_CODE, response.status),
                time * 1000,
                request.get(CLIENT) or request.remote or "-",
                0 if user is None else user["id"],
            )
        )

    def write(self, args: tuple[object, ...]) -> None:
        """The line's values as a record, to the access log's handlers."""
        # The record made directly: Logger.info would also look up its caller's source
        # line, on every request, for a line that never shows it.
        logger = self.logger
        logger.handle(logger.makeRecord(logger.name, logging.INFO, "", 0, _LINE, args, None))

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


class BatchedLines(logging.Handler):
    """The access log's handler in the serving process: holds up to `capacity` lines
    and writes them to `target`'s stream in one write (the server flushes it every
    second too). Used from the event loop's thread only."""

    def __init__(self, capacity: int, target: "logging.StreamHandler[TextIO]") -> None:
        super().__init__()
        self.capacity = capacity
        self.target = target
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.add(self.target.format(record))

    def add(self, line: str) -> None:
        lines = self.lines
        lines.append(line)
        if len(lines) >= self.capacity:
            self.flush()

    def flush(self) -> None:
        lines, self.lines = self.lines, []
        if not lines:
            return
        target = self.target
        try:
            text = target.terminator.join(lines) + target.terminator
            with target.lock:  # type: ignore[union-attr]  # made by the constructor
                target.stream.write(text)
                target.stream.flush()
        except Exception:
            self.handleError(logging.makeLogRecord({"msg": lines[-1]}))


@functools.lru_cache(maxsize=2)
def _local_time(second: int) -> str:
    return strftime(RedactingFormatter.default_time_format, localtime(second))


class TextAccessLogger(AccessLogger):
    """The serving process's access log in the text form: the line that
    RedactingFormatter(TEXT_FORMAT) makes of AccessLogger's record, made directly and
    added to the access log's BatchedLines (its only handler), without a record, the
    handler chain or the formatter's generic steps (about 10 µs of the event loop's
    time per request: bench/httpside.py)."""

    def __init__(self, logger: logging.Logger, log_format: str) -> None:
        super().__init__(logger, log_format)
        (self.lines,) = (h for h in logger.handlers if isinstance(h, BatchedLines))

    def write(self, args: tuple[object, ...]) -> None:
        now = time.time()
        msecs = int((now - int(now)) * 1000)  # as LogRecord.msecs
        self.lines.add(
            redact(f"{_local_time(int(now))},{msecs:03d} INFO {self.logger.name} {_LINE % args}")
        )


class JsonLines(logging.Formatter):
    """--log-format json: each record as one JSON object on one line: `time` (UTC, ISO
    8601), `level`, `logger`, `msg`; an access line adds its values by name
    (ACCESS_FIELDS); a traceback goes into `exc`, never onto lines of its own. Secrets
    are masked as RedactingFormatter masks them."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        args = record.args
        if record.msg is _LINE and isinstance(args, tuple):
            line.update(zip(ACCESS_FIELDS, args, strict=True))
            line["duration_ms"] = round(float(line["duration_ms"]), 1)  # type: ignore[arg-type]
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return redact(orjson.dumps(line, default=str).decode())


ACCESS_LOG = logging.getLogger("orderdesk.access")
# What an aiohttp AppRunner (or a test server) needs to write the access log.
ACCESS_LOG_OPTIONS = {"access_log_class": AccessLogger, "access_log": ACCESS_LOG}


# Loggers whose DEBUG lines carry the arguments of database calls (password hashes,
# webhook secrets): kept at INFO whatever --log-level says.
QUIET_LOGGERS = ("aiosqlite",)
