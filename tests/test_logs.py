"""The log on a real server's standard error: access lines with the client's address and
user id, and --log-format json (one JSON object per line, every line)."""

import http.client
import io
import json
import logging
import re
import sys

import pytest
from orderdesk.logs import (
    ACCESS_FIELDS,
    TEXT_FORMAT,
    AccessLogger,
    BatchedLines,
    JsonLines,
    RedactingFormatter,
    TextAccessLogger,
)
from orderdesk.redact import redact

from tests.live import LiveServer

pytestmark = pytest.mark.slow  # real server processes

FORWARDED_CLIENT = "203.0.113.7"


def request(server: LiveServer, method: str, path: str, body: dict | None = None, **headers):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def traffic(server: LiveServer) -> int:
    """A session's request, a failed login from a client behind the proxy, an unknown
    path; the session's user id."""
    token = server.register("alice")
    status, body = request(server, "GET", "/api/user/detail", Token=token)
    user_id = json.loads(body)["data"]["id"]
    request(
        server, "POST", "/api/login", {"user_name": "alice", "password": "wrong password"},
        **{"X-Forwarded-For": FORWARDED_CLIENT, "Content-Type": "application/json"},
    )  # fmt: skip
    assert request(server, "GET", "/no/such/page")[0] == 404
    return user_id


def test_text_access_lines_name_the_client_and_the_user(tmp_path):
    log = tmp_path / "server.log"
    with LiveServer(tmp_path / "text.db", "--trusted-proxy", "127.0.0.1", log=log) as server:
        user_id = traffic(server)
        assert server.stop() == 0
    lines = [line for line in log.read_text().splitlines() if " orderdesk.access " in line]
    fields = {line.split(" orderdesk.access ", 1)[1].split(" ")[2]: line for line in lines}
    detail = fields["/api/user/detail"].split(" orderdesk.access ", 1)[1].split(" ")
    assert detail[3:4] == ["0"] and detail[5:] == ["127.0.0.1", str(user_id)], detail
    login = fields["/api/login"].split(" orderdesk.access ", 1)[1].split(" ")
    assert login[3:4] == ["-1"] and login[5:] == [FORWARDED_CLIENT, "0"], login
    unknown = fields["/no/such/page"].split(" orderdesk.access ", 1)[1].split(" ")
    assert unknown[3:4] == ["404"] and unknown[5:] == ["127.0.0.1", "0"], unknown


def test_json_log_is_one_object_per_line(tmp_path):
    log = tmp_path / "server.log"
    env = {"ORDERDESK_LOG_FORMAT": "json"}
    with LiveServer(
        tmp_path / "json.db", "--trusted-proxy", "127.0.0.1", log=log, env=env
    ) as server:
        user_id = traffic(server)
        assert server.stop() == 0
    lines = log.read_text().splitlines()
    assert lines
    records = [json.loads(line) for line in lines]  # every line, not only access lines
    for record in records:
        assert {"time", "level", "logger", "msg"} <= set(record), record
        assert record["time"].endswith("+00:00") and "T" in record["time"], record
    assert any(r["logger"] == "orderdesk" and r["msg"].startswith("serving on") for r in records)
    access = {r["path"]: r for r in records if r["logger"] == "orderdesk.access"}
    for record in access.values():
        assert set(ACCESS_FIELDS) <= set(record), record
        assert isinstance(record["duration_ms"], float) and len(record["request_id"]) == 16
    detail = access["/api/user/detail"]
    assert (detail["method"], detail["code"], detail["client"], detail["user_id"]) == (
        "GET", 0, "127.0.0.1", user_id,
    )  # fmt: skip
    login = access["/api/login"]
    assert (login["code"], login["client"], login["user_id"]) == (-1, FORWARDED_CLIENT, 0)
    assert (access["/no/such/page"]["code"], access["/no/such/page"]["user_id"]) == (404, 0)


def test_a_text_access_line_is_the_formatters_line_of_its_record():
    """The serving process makes a text access line directly (TextAccessLogger): it is
    the line RedactingFormatter makes of AccessLogger's record, its secrets masked,
    only its time its own."""
    stream = io.StringIO()
    target = logging.StreamHandler(stream)
    target.setFormatter(RedactingFormatter(TEXT_FORMAT))
    logger = logging.getLogger("orderdesk.access.made-directly")
    logger.propagate = False
    batch = BatchedLines(10, target)
    logger.addHandler(batch)
    try:
        values = ("0123456789abcdef", "GET", "/odk_" + "Kq3-_" * 9, 404, 1.25, "::1", 7)
        TextAccessLogger(logger, "").write(values)
        AccessLogger(logger, "").write(values)
        assert stream.getvalue() == ""  # held until flushed
        batch.flush()
    finally:
        logger.removeHandler(batch)
    made_directly, from_record = stream.getvalue().splitlines()
    time = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} "
    assert re.match(time, made_directly) and re.match(time, from_record)
    assert made_directly[24:] == from_record[24:]
    assert from_record[24:] == (
        "INFO orderdesk.access.made-directly 0123456789abcdef GET /odk_*** 404 1.2ms ::1 7"
    )


def test_a_traceback_stays_inside_its_json_line():
    try:
        raise ValueError("first line\nsecond line")
    except ValueError:
        record = logging.LogRecord("orderdesk", logging.ERROR, "", 0, "failed", (), sys.exc_info())
    text = JsonLines().format(record)
    assert "\n" not in text
    parsed = json.loads(text)
    assert parsed["msg"] == "failed" and parsed["level"] == "ERROR"
    assert parsed["exc"].startswith("Traceback") and "ValueError: first line" in parsed["exc"]


def test_mail_without_a_public_url_is_warned_of_at_start(tmp_path):
    """Without --public-url, a reset link takes the Host a request names: the server
    says so when mail is on, and only then."""
    mail = ("--smtp-url", "smtp://127.0.0.1:9", "--mail-from", "shop@example.com")
    for extra, warned in (
        (mail, True),
        ((*mail, "--public-url", "https://shop.example.com/"), False),
        ((), False),
    ):
        log = tmp_path / f"server-{len(extra)}.log"
        with LiveServer(tmp_path / f"shop-{len(extra)}.db", *extra, log=log) as server:
            assert server.stop() == 0
        assert ("without --public-url" in log.read_text()) == warned, extra


def test_an_api_key_is_masked_wherever_it_stands():
    """Log lines and tracebacks pass redact(): a key echoed in one (a header in an
    exception's text, a script's line) is masked, its prefix kept to say what it was."""
    key = "odk_" + "Kq3-_" * 9
    line = f"failed: headers {{'Authorization': 'Bearer {key}'}} url=/x?ref={key}"
    assert redact(line) == "failed: headers {'Authorization': 'Bearer odk_***'} url=/x?ref=odk_***"
