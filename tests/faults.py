"""What a server fault looks like, for tests to refuse: the internal-error envelope
(code -1 "internal server error" over HTTP 200, so a status check cannot see it), and
an ERROR or a traceback in the server's log."""

from typing import Any

from orderdesk import texts

INTERNAL_ERROR_TEXTS = {texts.INTERNAL_ERROR.en, texts.INTERNAL_ERROR.zh}
FAULT_MARKS = ("Traceback", " ERROR ", " CRITICAL ")
# The format in-process records are checked in: the same as the server's log lines.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def is_internal_error(body: Any) -> bool:
    return (
        isinstance(body, dict)
        and body.get("code") == -1
        and body.get("msg") in INTERNAL_ERROR_TEXTS
    )


def assert_not_internal_error(body: Any) -> None:
    assert not is_internal_error(body), f"the server failed: {body}"


def assert_no_faults_logged(log_text: str) -> None:
    faults = [line for line in log_text.splitlines() if any(m in line for m in FAULT_MARKS)]
    assert not faults, "the server logged a fault:\n" + "\n".join(faults)
