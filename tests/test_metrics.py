"""GET /metrics: the Prometheus text format, read with the Prometheus client's own parser;
served to loopback peers and to the bearer of --metrics-token, a 404 to anyone else."""

import ipaddress
import json
import socket
import subprocess

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from orderdesk import security
from orderdesk.app import create_app
from orderdesk.config import Config
from orderdesk.keys import STORE
from orderdesk.store import accounts
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import PASSWORD, assert_fail, assert_ok, call, make_order, register
from tests.receivers import eventually
from tests.test_events import open_stream

METRICS = "/metrics"
TOKEN = "scrape-me-4f1c9a"


@pytest.fixture
def config(db, clock) -> Config:
    """Pings every 0.2 s: a stream whose client left ends at its next ping."""
    return Config(db=db, session_ttl=3600, clock=clock, ping_seconds=0.2)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scrape(client, **headers: str) -> dict:
    response = await client.get(METRICS, headers=headers)
    assert response.status == 200, response.status
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return samples(await response.text())


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def requests(found: dict, route: str, code: str) -> float:
    return value(found, "orderdesk_http_requests_total", route=route, code=code)


async def test_metrics_count_requests_logins_failed_mail_and_streams(client):
    """Requests count under their route's pattern and code, a wrong password as a login
    failure, a mail given up as a failed delivery (no --smtp-url: it fails at once), an
    open event stream while it is open; the database's gauges are read when scraped."""
    before = await scrape(client)
    for name in (
        "orderdesk_outbox_pending",
        "orderdesk_event_streams",
        "orderdesk_db_size_bytes",
        "orderdesk_login_failures_total",
        "orderdesk_backup_last_success_timestamp_seconds",
    ):
        assert (name, ()) in before, name
    assert value(before, "orderdesk_db_size_bytes") > 0

    await client.server.app[STORE].write(
        accounts.save_admin, "merchant", "boss@shop.test", security.hash_password(PASSWORD)
    )
    alice, _ = await register(client, "alice")
    assert_ok(await call(client, "GET", "/api/user/detail", token=alice))
    assert_fail(
        await call(
            client, "GET", "/api/communication/order/detail", token=alice, params={"id": 987654}
        )  # fmt: skip
    )
    assert_fail(
        await call(
            client,
            "POST",
            "/api/login",
            json={"user_name": "alice", "password": "not the password"},
        )  # fmt: skip
    )
    assert (await client.get("/uploads/no-such-file-1234.png")).status == 404
    assert (await client.get("/no/such/path/5678")).status == 404
    await make_order(client, alice)  # mails the merchant, which fails: no mail server

    stream = await open_stream(client, alice)
    try:
        during = await scrape(client)
    finally:
        stream.close()
    assert value(during, "orderdesk_event_streams") == 1

    async def settled() -> dict | None:
        """The mail given up, and the closed stream's request over."""
        found = await scrape(client)
        mail_failed = value(found, "orderdesk_outbox_failed_total", kind="mail")
        streams = value(found, "orderdesk_event_streams")
        return found if mail_failed and not streams else None

    after = await eventually(settled)
    assert value(after, "orderdesk_outbox_failed_total", kind="mail") == 1
    assert value(after, "orderdesk_outbox_failed_total", kind="webhook") == 0
    assert value(after, "orderdesk_outbox_pending") == 0
    assert value(after, "orderdesk_event_streams") == 0
    assert value(after, "orderdesk_login_failures_total") == 1

    assert requests(after, "/api/user/detail", "0") == 1
    assert requests(after, "/api/communication/order/detail", "-1") == 1
    assert requests(after, "/api/login", "-1") == 1
    assert requests(after, "/api/register", "0") == 1
    # The stream's client went away: counted as such, not as a server error.
    assert requests(after, "/api/events", "499") == 1
    assert requests(after, "/uploads/{name}", "404") == 1
    assert requests(after, "/metrics", "200") >= 2  # the scrapes before this one
    # A path no route serves counts under one label, never under the path itself.
    assert requests(after, "(unmatched)", "404") == 1
    labels = {dict(key[1]).get("route", "") for key in after}
    assert not any("1234" in label or "5678" in label for label in labels), labels
    histogram = "orderdesk_http_request_duration_seconds_count"
    assert value(after, histogram, route="/api/user/detail") == 1
    assert value(after, "orderdesk_http_request_duration_seconds_bucket",
                 route="/api/user/detail", le="+Inf") == 1  # fmt: skip
    # Not an API operation: not in the OpenAPI document.
    document = await (await client.get("/api/openapi.json")).json()
    assert METRICS not in document["paths"]


def non_loopback_address() -> str | None:
    """An IPv4 address of this machine that is not loopback: a connection from it to
    itself stays on the machine, and the server sees a peer that is not loopback."""
    try:
        shown = subprocess.run(
            ["ip", "-j", "-4", "addr", "show"], capture_output=True, text=True, timeout=10
        )
        interfaces = json.loads(shown.stdout or "[]")
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None
    for interface in interfaces:
        for info in interface.get("addr_info", []):
            address = info.get("local", "")
            if address and not ipaddress.ip_address(address).is_loopback:
                with socket.socket() as probe:
                    try:
                        probe.bind((address, 0))
                    except OSError:
                        continue
                return address
    return None


@pytest.fixture
async def remote_peer(tmp_path, clock):
    """The app listening on a non-loopback address of this machine, trusting that address
    as its reverse proxy, and a client connecting from that address."""
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to connect from")
    config = Config(
        db=str(tmp_path / "metrics.db"),
        clock=clock,
        metrics_token=TOKEN,
        trusted_proxies=(ipaddress.ip_network(address),),
    )
    server = TestServer(create_app(config), host=address)
    await server.start_server()
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    async with aiohttp.ClientSession(f"http://{address}:{server.port}", connector=connector) as s:
        yield s
    await server.close()


async def test_a_remote_peer_gets_a_404_unless_it_sends_the_token(remote_peer):
    unknown = await remote_peer.get("/no-such-page")
    refused = await remote_peer.get(METRICS)
    assert (refused.status, await refused.text()) == (unknown.status, await unknown.text())
    assert refused.status == 404
    # A trusted proxy's X-Forwarded-For cannot make the peer look local.
    for forwarded in ("127.0.0.1", "::1", "10.0.0.1, 127.0.0.1"):
        faked = await remote_peer.get(METRICS, headers={"X-Forwarded-For": forwarded})
        assert faked.status == 404, forwarded
    for wrong in (f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", TOKEN, "Bearer ", f"Basic {TOKEN}"):
        assert (await remote_peer.get(METRICS, headers={"Authorization": wrong})).status == 404
    # The bearer of the token reads them from anywhere.
    allowed = await remote_peer.get(METRICS, headers={"Authorization": f"Bearer {TOKEN}"})
    assert allowed.status == 200
    found = samples(await allowed.text())
    assert requests(found, "/metrics", "404") >= 1


async def test_a_loopback_peer_reads_them_without_a_token(client):
    """Loopback needs no token; a server without --metrics-token takes none."""
    await scrape(client)
    response = await client.get(METRICS, headers={"Authorization": "Bearer "})
    assert response.status == 200
