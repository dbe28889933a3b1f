"""Operations: CORS for browser clients, health, the access log, the version."""

import asyncio
import logging

import aiohttp
import pytest
from orderdesk import __version__
from orderdesk.app import create_app
from orderdesk.config import Config
from orderdesk.store import tx as store_tx

from tests.conftest import PASSWORD, assert_ok, call, register
from tests.faults import assert_no_faults_logged
from tests.live import LiveServer, run_cli
from tests.test_attachments import jpeg_with_metadata, uploaded

SHOP = "https://shop.example.com"


@pytest.fixture
async def cors_client(tmp_path, aiohttp_client):
    config = Config(db=str(tmp_path / "cors.db"), cors_origins=(SHOP, "http://localhost:5173"))
    return await aiohttp_client(create_app(config), cookie_jar=aiohttp.DummyCookieJar())


async def test_preflight_from_an_allowed_origin(cors_client):
    response = await cors_client.options(
        "/api/communication/order/update",
        headers={
            "Origin": SHOP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, token",
        },
    )
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == SHOP
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Token" in response.headers["Access-Control-Allow-Headers"]
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]  # API keys
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


async def test_answers_to_an_allowed_origin_carry_the_headers(cors_client):
    token, _ = await register(cors_client)
    response = await cors_client.get("/api/user/detail", headers={"Origin": SHOP, "Token": token})
    assert (await response.json())["code"] == 0
    assert response.headers["Access-Control-Allow-Origin"] == SHOP
    assert response.headers["Access-Control-Expose-Headers"] == "X-Request-Id"
    error = await cors_client.get("/api/user/detail", headers={"Origin": SHOP})
    assert (await error.json())["code"] == 1001
    assert error.headers["Access-Control-Allow-Origin"] == SHOP  # errors are readable too


async def test_answers_their_handlers_send_carry_the_headers_too(cors_client):
    """The event stream and an upload's bytes are sent by their handlers, before the
    middleware sees them: they carry the request id, CORS and their path's headers all
    the same."""
    token, _ = await register(cors_client)
    allowed = {"Origin": SHOP, "Token": token}
    async with cors_client.get("/api/events", headers=allowed) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        assert stream.headers["Cache-Control"] == "no-store"
        assert_readable_from_the_shop(stream)
    item = await uploaded(cors_client, token, jpeg_with_metadata())
    download = await cors_client.get(item["logo"], headers={"Origin": SHOP})
    assert download.status == 200 and await download.read()
    assert "sandbox" in download.headers["Content-Security-Policy"]
    assert_readable_from_the_shop(download)


def assert_readable_from_the_shop(response) -> None:
    assert response.headers["Access-Control-Allow-Origin"] == SHOP
    assert response.headers["Access-Control-Expose-Headers"] == "X-Request-Id"
    assert len(response.headers["X-Request-Id"]) == 16


async def test_other_origins_get_no_cors_headers(cors_client):
    response = await cors_client.get(
        "/api/communication/fields", headers={"Origin": "https://evil.example"}
    )
    assert "Access-Control-Allow-Origin" not in response.headers
    preflight = await cors_client.options(
        "/api/login",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert (await preflight.json()) == {"code": -1, "msg": "method not allowed"}


async def test_no_cors_by_default(client):
    response = await client.get("/api/communication/fields", headers={"Origin": SHOP})
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_same_origin_pages_keep_using_the_cookie(cors_client):
    response = await cors_client.post(
        "/api/register", json={"user_name": "alice", "password": PASSWORD}
    )
    token = response.cookies["token"].value
    shown = await call(cors_client, "GET", "/api/user/detail", headers={"Cookie": f"token={token}"})
    assert assert_ok(shown)["user_name"] == "alice"


@pytest.mark.faults_expected  # a database that does not answer is logged as an error
async def test_health(client, monkeypatch):
    response = await client.get("/healthz")
    assert (response.status, await response.json()) == (200, {"status": "ok"})

    async def down(tx):
        raise OSError("database unreachable")

    monkeypatch.setattr(store_tx, "ping", down)
    response = await client.get("/healthz")
    assert (response.status, await response.json()) == (503, {"status": "unavailable"})


async def test_one_access_log_line_per_request(client, caplog):
    caplog.set_level(logging.INFO, logger="orderdesk.access")
    token, _ = await register(client)
    caplog.clear()
    response = await client.get("/api/communication/order/detail?id=404", headers={"Token": token})
    request_id = response.headers["X-Request-Id"]
    await response.read()
    # aiohttp writes the line once the answer is sent: let the server's task get there.
    for _ in range(100):
        lines = [r.getMessage() for r in caplog.records if r.name == "orderdesk.access"]
        if lines:
            break
        await asyncio.sleep(0)
    assert len(lines) == 1
    logged_id, method, path, code, duration, peer, user_id = lines[0].split(" ")
    assert (logged_id, method, path, code, peer) == (
        request_id, "GET", "/api/communication/order/detail", "-1", "127.0.0.1",
    )  # fmt: skip
    assert duration.endswith("ms")
    me = assert_ok(await call(client, "GET", "/api/user/detail", token=token))
    assert user_id == str(me["id"])  # the session's user
    assert token not in lines[0] and "404" not in lines[0]  # no query string, no token


@pytest.mark.slow  # a real server process
@pytest.mark.parametrize("chosen, running", [(None, "uvloop"), ("asyncio", "asyncio")])
def test_the_event_loop_is_uvloop_unless_asyncio_is_chosen(tmp_path, chosen, running):
    env = {"ORDERDESK_LOOP": chosen} if chosen else {}
    with LiveServer(tmp_path / "loop.db", env=env) as server:
        assert server.register("looper")
        server.stop()
    assert f"event loop {running})" in (tmp_path / "loop.log").read_text()


def test_version_and_help():
    result = run_cli("--version")
    assert (result.returncode, result.stdout.strip()) == (0, f"orderdesk {__version__}")
    helped = run_cli("--help")
    for flag in ("--host", "--port", "--db", "--session-ttl", "--db-pool", "--cors-origin",
                 "--log-level", "--loop", "--synchronous", "--trusted-proxy", "--remember-ttl",
                 "--max-login-failures-per-address", "--max-registrations-per-hour",
                 "create-admin", "backup", "check"):  # fmt: skip
        assert flag in helped.stdout, flag


@pytest.mark.slow  # a real server process
async def test_a_database_password_never_reaches_output_or_logs(tmp_path):
    """The PostgreSQL URL's password stays out of create-admin's output and the log."""
    from tests.conftest import postgres_database

    async with postgres_database() as url:
        # The test cluster trusts local connections, so any password is accepted.
        with_password = url.replace("postgresql://postgres@", "postgresql://postgres:s3cret-pw@")
        assert with_password != url
        made = await asyncio.to_thread(
            run_cli, "create-admin", "--db", with_password, "--username", "boss",
            "--password", "boss pass 1",
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        assert "postgres:***@" in made.stdout and "s3cret-pw" not in made.stdout + made.stderr
        log = tmp_path / "server.log"
        with LiveServer(with_password, log=log) as server:
            # Stopped, not killed on leaving: its buffered log lines are written first.
            assert server.stop() == 0
        logged = log.read_text()
        assert_no_faults_logged(logged)
        assert "s3cret-pw" not in logged and "postgres:***@" in logged
