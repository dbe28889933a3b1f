"""What the log says about a client's mistakes: one INFO line, never an ERROR."""

import logging

from aiohttp.http_exceptions import HttpProcessingError


class MalformedRequestsAsInfo(logging.Filter):
    """aiohttp logs a request its HTTP parser refuses with 400 (a line over 8 KiB, a
    broken header) as an ERROR with a traceback. Anyone can send one: it becomes one
    INFO line naming the peer and the kind of mistake, not the bytes sent."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            peer = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg = "refused a malformed HTTP request from %s: %s"
            record.args = (peer, type(error).__name__)
            record.exc_info = record.exc_text = None
        return True
