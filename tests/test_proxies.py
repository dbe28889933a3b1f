"""--trusted-proxy: the client's address and scheme from X-Forwarded-For and
X-Forwarded-Proto, believed only from a trusted peer; seen through login throttling
(which counts per client address) and the session cookie's Secure flag."""

import argparse
import asyncio
import ipaddress
from typing import Any

import aiohttp
import pytest
from orderdesk import texts
from orderdesk.app import create_app
from orderdesk.config import Config, add_serve_arguments, config_from_args

from tests.conftest import PASSWORD, assert_fail, assert_ok, call, register

WRONG = texts.WRONG_CREDENTIALS.en
TOO_MANY = texts.TOO_MANY_ATTEMPTS.en
# Failures one address may make before it is refused for every name.
ADDRESS_LOCK_ATTEMPTS = 20
CLIENT_X = "203.0.113.7"
CLIENT_Y = "198.51.100.9"


@pytest.fixture
async def proxied(db, clock, aiohttp_client):
    """The app trusting 127.0.0.1 (the test client's address) as its reverse proxy."""
    config = Config(db=db, session_ttl=3600, clock=clock, trusted_proxies=_networks("127.0.0.1"))
    return await aiohttp_client(create_app(config), cookie_jar=aiohttp.DummyCookieJar())


@pytest.fixture
async def untrusted_peer(proxied):
    """A second client connecting from 127.0.0.2, which the app does not trust."""
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(
        f"http://127.0.0.1:{proxied.port}",
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
    ) as session:
        yield session


def _networks(*texts: str) -> tuple:
    return tuple(ipaddress.ip_network(t) for t in texts)


async def _login(client, name: str, password: str = "wrong password", **headers: str) -> dict:
    return await call(
        client,
        "POST",
        "/api/login",
        json={"user_name": name, "password": password},
        headers=headers,
    )


async def _lock_out(client, **headers: str) -> None:
    """Fail logins under distinct names until the client's address is refused."""
    for attempt in range(ADDRESS_LOCK_ATTEMPTS):
        assert_fail(await _login(client, f"nobody{attempt}", **headers), msg=WRONG)
    assert_fail(await _login(client, "someone-else", **headers), msg=TOO_MANY)


async def test_forwarded_address_from_trusted_proxy_is_the_client(proxied):
    await _lock_out(proxied, **{"X-Forwarded-For": CLIENT_X})
    # The locked client stays locked whatever it prepends; trusted hops on the right
    # are skipped.
    for forwarded in (
        CLIENT_X,
        f"{CLIENT_Y}, {CLIENT_X}",
        f"{CLIENT_X}, 127.0.0.1",
        f"10.9.9.9,{CLIENT_X} , 127.0.0.1,127.0.0.1",
    ):
        body = await _login(proxied, "fresh-name", **{"X-Forwarded-For": forwarded})
        assert_fail(body, msg=TOO_MANY)
    # Another client behind the same proxy is not affected, nor is the proxy itself.
    for forwarded in (CLIENT_Y, f"{CLIENT_X}, {CLIENT_Y}"):
        body = await _login(proxied, "fresh-name", **{"X-Forwarded-For": forwarded})
        assert_fail(body, msg=WRONG)
    assert_fail(await _login(proxied, "fresh-name"), msg=WRONG)


async def test_forwarded_headers_from_untrusted_peer_are_ignored(proxied, untrusted_peer):
    # Each attempt claims another address; all count against the peer's own.
    for attempt in range(ADDRESS_LOCK_ATTEMPTS):
        body = await _login(
            untrusted_peer, f"nobody{attempt}", **{"X-Forwarded-For": f"192.0.2.{attempt}"}
        )
        assert body["msg"] in (WRONG, TOO_MANY), body
    body = await _login(untrusted_peer, "someone-else", **{"X-Forwarded-For": CLIENT_Y})
    assert_fail(body, msg=TOO_MANY)
    # The address it claimed is untouched.
    assert_fail(await _login(proxied, "someone-else", **{"X-Forwarded-For": CLIENT_Y}), msg=WRONG)


async def test_throttle_counts_the_forwarded_client(proxied):
    """Login throttling behind a trusted proxy: the pair is (account, forwarded client)."""
    x, y = {"X-Forwarded-For": CLIENT_X}, {"X-Forwarded-For": CLIENT_Y}
    await register(proxied, "alice")
    await register(proxied, "bob")
    for _ in range(5):
        assert_fail(await _login(proxied, "alice", **x), msg=WRONG)
    assert_fail(await _login(proxied, "alice", PASSWORD, **x), msg=TOO_MANY)
    # The same account from another client behind the same proxy is not affected...
    assert assert_ok(await _login(proxied, "alice", PASSWORD, **y))["user_name"] == "alice"
    # ...nor another account from the locked-out client.
    assert assert_ok(await _login(proxied, "bob", PASSWORD, **x))["user_name"] == "bob"


async def test_the_address_limit_counts_the_forwarded_client(proxied):
    x, y = {"X-Forwarded-For": CLIENT_X}, {"X-Forwarded-For": CLIENT_Y}
    await register(proxied, "bob")
    await _lock_out(proxied, **x)
    assert_fail(await _login(proxied, "bob", PASSWORD, **x), msg=TOO_MANY)
    assert assert_ok(await _login(proxied, "bob", PASSWORD, **y))["user_name"] == "bob"


async def _cookie(response: aiohttp.ClientResponse) -> str:
    body = await response.json()
    assert body["code"] == 0, body
    return response.headers["Set-Cookie"]


async def _register(client: Any, name: str, headers: dict[str, str]) -> str:
    response = await client.post(
        "/api/register", json={"user_name": name, "password": PASSWORD}, headers=headers
    )
    return await _cookie(response)


async def test_https_from_trusted_proxy_makes_the_cookie_secure(proxied, untrusted_peer):
    https = {"X-Forwarded-Proto": "https"}
    assert "Secure" in await _register(proxied, "alice", https)
    response = await proxied.post(
        "/api/login", json={"user_name": "alice", "password": PASSWORD}, headers=https
    )
    assert "Secure" in await _cookie(response)
    assert "Secure" not in await _register(proxied, "bob", {"X-Forwarded-Proto": "http"})
    assert "Secure" not in await _register(proxied, "carol", {})
    assert "Secure" not in await _register(untrusted_peer, "dave", https)


async def test_no_trusted_proxy_ignores_the_headers(client):
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": CLIENT_X}
    assert "Secure" not in await _register(client, "alice", https)
    await _lock_out(client, **{"X-Forwarded-For": CLIENT_X})
    assert_fail(await _login(client, "bob", **{"X-Forwarded-For": CLIENT_Y}), msg=TOO_MANY)


@pytest.mark.parametrize(
    "forwarded",
    [
        "",
        ",",
        " , ,",
        "garbage",
        "unknown, 127.0.0.1",
        "203.0.113.7:443",
        "[2001:db8::1]",
        "2001:db8::1%eth0",
        "999.1.1.1",
        "1.2.3.4/24",
        "\u0661.\u0662.\u0663.\u0664",
        "x" * 4000,
        ",".join(["127.0.0.1"] * 500),
    ],
)
async def test_malformed_forwarded_for_is_never_an_internal_error(proxied, forwarded):
    headers = {"X-Forwarded-For": forwarded, "X-Forwarded-Proto": forwarded}
    assert_fail(await _login(proxied, "alice", **headers), msg=WRONG)
    body = await call(
        proxied,
        "POST",
        "/api/register",
        json={"user_name": "alice", "password": PASSWORD},
        headers=headers,
    )
    assert assert_ok(body)["user_name"] == "alice"


def test_trusted_proxies_from_flags_and_environment():
    def parse(env: dict[str, str], *argv: str) -> Config:
        parser = argparse.ArgumentParser()
        add_serve_arguments(parser, env)
        return config_from_args(parser.parse_args(argv))

    assert parse({}).trusted_proxies == ()
    env = {"ORDERDESK_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1"}
    assert parse(env, "--trusted-proxy", "::1").trusted_proxies == _networks(
        "10.0.0.0/8", "192.168.1.1/32", "::1/128"
    )
    with pytest.raises(SystemExit):
        parse({}, "--trusted-proxy", "proxy.example.com")
    with pytest.raises(SystemExit):
        parse({"ORDERDESK_TRUSTED_PROXIES": "10.0.0.0/33"})


async def test_the_access_log_keeps_its_fields_behind_a_trusted_proxy(
    db, clock, caplog, aiohttp_client
):
    """The proxy hands the handlers a clone of the request; the access log line, written
    from aiohttp's own request, still has the request id and the envelope's code."""
    from aiohttp.test_utils import TestServer

    from tests.conftest import SERVER_OPTIONS

    config = Config(db=db, session_ttl=3600, clock=clock, trusted_proxies=_networks("127.0.0.1"))
    server = TestServer(create_app(config))
    await server.start_server(**SERVER_OPTIONS)
    client = await aiohttp_client(server, cookie_jar=aiohttp.DummyCookieJar())
    caplog.set_level("INFO", logger="orderdesk.access")
    response = await client.post(
        "/api/login", json={"user_name": "nobody", "password": "wrong password"},
        headers={"X-Forwarded-For": CLIENT_X},
    )  # fmt: skip
    request_id = response.headers["X-Request-Id"]
    await response.read()
    for _ in range(100):
        lines = [r.getMessage() for r in caplog.records if r.name == "orderdesk.access"]
        if lines:
            break
        await asyncio.sleep(0)
    assert lines and lines[0].split(" ")[:4] == [request_id, "POST", "/api/login", "-1"], lines
    # The client the proxy names, and no user (a failed login has no session).
    assert lines[0].split(" ")[5:] == [CLIENT_X, "0"], lines
