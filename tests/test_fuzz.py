"""Random input for every endpoint, on both engines: always the envelope and never the
internal-error one, nothing logged as a fault, a sound file."""

import json
import os
import urllib.parse

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from orderdesk.routes import ROUTES

from tests.conftest import postgres_database_for_live_server
from tests.faults import assert_not_internal_error
from tests.live import LiveServer, run_cli

pytestmark = pytest.mark.slow  # many generated requests to a server process

FIELD_NAMES = [
    "id", "comm_order_id", "archive_id", "user_id", "version", "title", "content", "phone",
    "images", "sketch_images", "finished_images", "event_date", "order_extra", "status",
    "message_type", "sender_id", "sender_name", "quote_price", "quote_content", "remark",
    "reason", "fields", "user_name", "password", "email", "current", "page_size", "pageSize", "q",
]  # fmt: skip

LONG_NUMBERS = ["9223372036854775808", "00000000000000000001", "9" * 20, "1" * 5000]
ODD_TEXT = st.sampled_from(
    ["", " ", "1", "-1", "0", "1.5", "1e5", "null", "\x00", "a\x00b", "\x00" * 3, "\u202e",
     "😀" * 3, "x" * 300, "text", "2024-02-30", *LONG_NUMBERS]
)  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | ODD_TEXT
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=6)
        | st.dictionaries(st.text(max_size=70) | ODD_TEXT, children, max_size=6)
    ),
    max_leaves=30,
)
IDS = st.sampled_from(
    [1, 2, "1", "2", 0, -1, 2**63, 2**63 - 1, 10**20, 1.0, True, None, "", " 1", "1\x00",
     *LONG_NUMBERS]
)  # fmt: skip
BODIES = (
    st.dictionaries(st.sampled_from(FIELD_NAMES), IDS | JSON, max_size=8) | JSON
)  # objects with the real field names, or any JSON at all
QUERIES = st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=10), ODD_TEXT | st.text())
MAX_REQUEST_LINE = 8000
# FUZZ_EXAMPLES=2000 make test fuzzes deeper; the default keeps the suite fast.
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "250")),
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    if request.param == "sqlite":
        db = folder / "fuzz.db"
        yield from _fuzzed_server(db, folder / "fuzz.log")
        result = run_cli("check", "--db", str(db))
        assert (result.returncode, result.stdout.strip()) == (0, "ok")
        return
    with postgres_database_for_live_server() as url:
        yield from _fuzzed_server(url, folder / "fuzz.log")


@pytest.fixture(autouse=True)
def no_faults_logged(server):
    """After each fuzz test: no ERROR and no traceback in the server's log."""
    yield
    server.assert_no_faults()


def _fuzzed_server(db, log):
    with LiveServer(db, log=log) as live:
        customer = live.register("fuzzer")
        run_cli("create-admin", "--db", str(db), "--username", "boss", "--password", "boss pass 1")
        admin = live.call("POST", "/api/login", {"user_name": "boss", "password": "boss pass 1"})
        order = {"archive_id": 1, "title": "t", "content": "c", "phone": "12345"}
        live.call("POST", "/api/communication/order/create", order, customer)
        live.tokens = [None, "not-a-token", customer, admin["data"]["token"]]
        # Kept out of the random calls, which may log the others out.
        live.nesting_token = live.register("nester")
        live.nesting_order = live.call(
            "POST", "/api/communication/order/create", order, live.nesting_token
        )["data"]["id"]
        live.odd_customer = live.register("odd")
        live.odd_admin = live.call(
            "POST", "/api/login", {"user_name": "boss", "password": "boss pass 1"}
        )["data"]["token"]
        live.odd_order = live.call(
            "POST", "/api/communication/order/create", order, live.odd_customer
        )["data"]["id"]
        yield live


def assert_envelope(body: dict) -> None:
    assert body["code"] in (0, -1, 1001, 1002), body
    assert_not_internal_error(body)
    assert isinstance(body["msg"], str)
    assert "Traceback" not in body["msg"] and 'File "' not in body["msg"]
    assert set(body) <= {"code", "msg", "data", "total"}


# Not the document, nor the event stream (a valid query opens a stream that never ends;
# its query rules are tested in tests/test_events.py).
NOT_ENVELOPED = ("/api/openapi.json", "/api/events")
API_ROUTES = [r for r in ROUTES if r[1].startswith("/api/") and r[1] not in NOT_ENVELOPED]


@given(route=st.sampled_from(API_ROUTES), body=BODIES, who=st.integers(0, 3))
@FUZZ
def test_random_bodies(server, route, body, who):
    method, path, _, _ = route
    raw = json.dumps(body, ensure_ascii=False).encode()
    assert_envelope(server.call("POST", path, token=server.tokens[who], raw=raw))


@given(route=st.sampled_from(API_ROUTES), query=QUERIES, who=st.integers(0, 3))
@FUZZ
def test_random_query_strings(server, route, query, who):
    method, path, _, _ = route
    url = path + "?" + urllib.parse.urlencode(query)
    assume(len(url) < MAX_REQUEST_LINE)  # longer ones aiohttp's parser answers 400 itself
    assert_envelope(server.call("GET", url, token=server.tokens[who]))


# Valid requests that reach the database, to get one odd value each (a whole random body
# is nearly always refused before the database sees it). "{id}" is the caller's order.
VALID = [
    ("/api/register", {"user_name": "odd2", "password": "pw pw pw 1", "email": "o@x.org"}),
    ("/api/login", {"user_name": "odd", "password": "correct horse battery"}),
    ("/api/communication/order/create",
     {"archive_id": 1, "title": "t", "content": "c", "phone": "12345", "event_date": "soon",
      "images": ["https://img.example/a.png"], "order_extra": {"k": {"n": ["v"]}}}),
    ("/api/communication/order/update",
     {"id": "{id}", "title": "t2", "version": None, "order_extra": {"k": "v"}}),
    ("/api/communication/message/send",
     {"comm_order_id": "{id}", "message_type": "text", "content": "hi"}),
    ("/api/admin/communication/order/quote",
     {"id": "{id}", "quote_price": "10", "quote_content": "ok"}),
    ("/api/admin/communication/message/send",
     {"comm_order_id": "{id}", "message_type": "text", "content": "hi"}),
    ("/api/admin/communication/order/images",
     {"id": "{id}", "finished_images": ["https://img.example/b.png"]}),
    ("/api/communication/order/accept", {"id": "{id}", "remark": "r", "quote_price": "10"}),
    ("/api/admin/communication/order/status", {"id": "{id}", "status": 1}),
    ("/api/admin/communication/fields", {"fields": [{"field_name": "f", "type": "text"}]}),
]  # fmt: skip
ODD_VALUES = ODD_TEXT | IDS | JSON


@given(
    request=st.sampled_from(VALID),
    data=st.data(),
    value=ODD_VALUES,
    extra_key=ODD_TEXT,
)
@FUZZ
def test_one_odd_value_in_a_valid_request(server, request, data, value, extra_key):
    path, template = request
    body = {k: server.odd_order if v == "{id}" else v for k, v in template.items()}
    body[data.draw(st.sampled_from([*body, "order_extra"]))] = value
    if isinstance(body.get("order_extra"), dict):
        body["order_extra"] = {**body["order_extra"], extra_key: value}
    token = server.odd_admin if "/admin/" in path else server.odd_customer
    raw = json.dumps(body, ensure_ascii=False).encode()
    assert_envelope(server.call("POST", path, token=token, raw=raw))


@given(raw=st.binary(max_size=200), path=st.sampled_from([p for _, p, _, _ in API_ROUTES]))
@FUZZ
def test_random_bytes(server, raw, path):
    assert_envelope(server.call("POST", path, token=server.tokens[2], raw=raw or b"{"))


@pytest.mark.parametrize("number", [b"9" * 20, b"1" * 5000, b"-" + b"9" * 5000, b"1e400"])
@pytest.mark.parametrize("path", [p for _, p, _, _ in API_ROUTES])
def test_huge_json_numbers(server, path, number):
    for name in (b"id", b"comm_order_id", b"archive_id", b"version", b"status", b"quote_price"):
        raw = b'{"' + name + b'": ' + number + b"}"
        assert_envelope(server.call("POST", path, token=server.tokens[3], raw=raw))


@given(depth=st.integers(1, 5000))
@settings(max_examples=25, deadline=None, database=None)
def test_deep_nesting(server, depth):
    opening = b'{"id": %d, "order_extra": ' % server.nesting_order
    raw = opening + b'{"a": ' * depth + b"1" + b"}" * depth + b"}"
    path = "/api/communication/order/update"
    body = server.call("POST", path, token=server.nesting_token, raw=raw)
    assert_envelope(body)
    assert (body["code"] == 0) == (depth <= 4)
