"""Shared fixtures: the real app on a fresh SQLite file per test, and API helpers."""

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
import uuid
from typing import Any

import aiohttp
import asyncpg
import pytest

# A cheap scrypt for the suite (register and login dominated its time); set before the
# server is imported, and inherited by every LiveServer process. tests/test_auth.py
# keeps one test at the real cost.
os.environ["ORDERDESK_SCRYPT_COST"] = "4"

from aiohttp.test_utils import TestServer  # noqa: E402
from orderdesk import security  # noqa: E402
from orderdesk.app import SERVER_OPTIONS, create_app
from orderdesk.config import Config
from orderdesk.keys import STORE
from orderdesk.store import accounts

from tests.faults import LOG_FORMAT, assert_no_faults_logged, assert_not_internal_error
from tests.receivers import SmtpServer
from tests.shapes import assert_declared_shape

PASSWORD = "correct horse battery"


class FakeClock:
    """A clock the tests move by hand (session expiry and renewal)."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# The PostgreSQL half of the suite runs when this names a server it may create
# schemas in; scripts/postgres-test-server.sh start prints one.
POSTGRES_URL = os.environ.get("ORDERDESK_TEST_POSTGRES", "")
NO_POSTGRES = (
    "PostgreSQL half skipped: set ORDERDESK_TEST_POSTGRES to a server URL, e.g. "
    "export ORDERDESK_TEST_POSTGRES=$(scripts/postgres-test-server.sh start)"
)


async def _run_on_postgres(sql: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _new_schema() -> tuple[str, str]:
    """A schema name, and the URL whose search_path points at it (asyncpg passes
    unknown URL query parameters on as settings)."""
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    schema = f"test_{uuid.uuid4().hex[:16]}"
    return schema, f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}search_path={schema}"


@contextlib.asynccontextmanager
async def postgres_database():
    """A fresh schema on the test server, as a URL; dropped after."""
    schema, url = _new_schema()
    await _run_on_postgres(f'CREATE SCHEMA "{schema}"')
    try:
        yield url
    finally:
        await _run_on_postgres(f'DROP SCHEMA "{schema}" CASCADE')


@contextlib.contextmanager
def postgres_database_for_live_server():
    """postgres_database for synchronous (module-scoped) fixtures around a LiveServer."""
    schema, url = _new_schema()
    asyncio.run(_run_on_postgres(f'CREATE SCHEMA "{schema}"'))
    try:
        yield url
    finally:
        asyncio.run(_run_on_postgres(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request, tmp_path):
    """A fresh, empty database of each engine: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        yield str(tmp_path / "orderdesk.db")
        return
    async with postgres_database() as url:
        yield url


async def query_rows(db: str, sql: str, *params: Any) -> list[tuple]:
    """Rows straight from either engine's database, for checks the API cannot show."""
    if db.startswith("postgresql://"):
        conn = await asyncpg.connect(db)
        try:
            sql = sql.replace("?", "$1") if len(params) == 1 else sql
            return [tuple(row) for row in await conn.fetch(sql, *params)]
        finally:
            await conn.close()
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture
def config(db, clock) -> Config:
    return Config(db=db, session_ttl=3600, clock=clock)


# The mail tests' shop: its sender and the console's address its links start with.
MAIL_FROM = "orderdesk@shop.test"
PUBLIC_URL = "https://desk.shop.test/"


@pytest.fixture
def smtp():
    """A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""
    with SmtpServer() as server:
        yield server


def mail_config(db: str, clock: FakeClock, smtp: SmtpServer, **settings: Any) -> Config:
    """A server that mails through `smtp`, retrying deliveries at once; `settings` add
    to or replace these."""
    return Config(
        **{
            "db": db,
            "session_ttl": 3600,
            "clock": clock,
            "smtp_url": smtp.url,
            "mail_from": MAIL_FROM,
            "public_url": PUBLIC_URL,
            "webhook_retry_base": 0.001,
            **settings,
        }
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "faults_expected: the test makes the server log an error on purpose"
    )


class ServerLog(logging.Handler):
    """Every ERROR (or record with a traceback) logged in this process during a test."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.setFormatter(logging.Formatter(LOG_FORMAT))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def server_log(request):
    """The in-process server's faults: after the test, none may have been logged
    (unless the test is marked `faults_expected`)."""
    handler = ServerLog()
    logging.getLogger().addHandler(handler)
    try:
        yield handler
    finally:
        logging.getLogger().removeHandler(handler)
    if request.node.get_closest_marker("faults_expected") is None:
        assert_no_faults_logged("\n".join(handler.lines))


@pytest.fixture
async def client(config, server_log, aiohttp_client):
    # aiohttp_client comes last so that it is torn down first: the server stops (its
    # pool closed, its workers ended) before the database is dropped and before its
    # log is checked. The other way round, DROP SCHEMA raced the outbox worker.
    # No cookie jar: each request is authenticated only by what the test sends. The
    # access log is written as the served app writes it.
    server = TestServer(create_app(config))
    await server.start_server(**SERVER_OPTIONS)
    return await aiohttp_client(server, cookie_jar=aiohttp.DummyCookieJar())


async def call(
    client,
    method: str,
    path: str,
    *,
    token: str | None = None,
    json: Any = None,
    params: dict | None = None,
    headers: dict | None = None,
    data: Any = None,
) -> dict[str, Any]:
    """One request; asserts the HTTP 200 envelope, not the internal-error one, and
    returns its JSON body."""
    all_headers = {"Token": token} if token else {}
    all_headers.update(headers or {})
    response = await client.request(
        method, path, json=json, params=params, headers=all_headers, data=data
    )
    assert response.status == 200, await response.text()
    body = await response.json()
    assert isinstance(body["code"], int) and isinstance(body["msg"], str), body
    assert_not_internal_error(body)
    assert_declared_shape(method, path, body)
    return body


def assert_ok(body: dict[str, Any]) -> Any:
    assert body["code"] == 0, body
    return body.get("data")


def assert_fail(body: dict[str, Any], code: int = -1, msg: str | None = None) -> None:
    assert body["code"] == code, body
    if msg is not None:
        assert body["msg"] == msg, body
    assert "Traceback" not in body["msg"]


async def register(client, name: str = "alice", **extra: Any) -> tuple[str, dict[str, Any]]:
    body = await call(
        client, "POST", "/api/register", json={"user_name": name, "password": PASSWORD, **extra}
    )
    user = assert_ok(body)
    return user.pop("token"), user


async def make_admin(client, name: str = "merchant") -> str:
    await client.server.app[STORE].write(
        accounts.save_admin, name, None, security.hash_password(PASSWORD)
    )
    body = await call(client, "POST", "/api/login", json={"user_name": name, "password": PASSWORD})
    return assert_ok(body)["token"]


async def make_staff(
    client, admin_token: str, name: str = "helper", **extra: Any
) -> tuple[str, dict]:
    """A registered user made staff by the admin (through the API), logged in again: the
    role change revoked the session registration opened."""
    _, user = await register(client, name, **extra)
    body = await call(
        client,
        "POST",
        "/api/admin/users/update",
        token=admin_token,
        json={"id": user["id"], "role": "staff"},
    )
    assert_ok(body)
    body = await call(client, "POST", "/api/login", json={"user_name": name, "password": PASSWORD})
    logged_in = assert_ok(body)
    return logged_in.pop("token"), logged_in


def nested(depth: int) -> dict:
    """An object nested `depth` levels deep, counting the top object as level 1."""
    value: dict = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"n": value}
    return value


ORDER = {
    "archive_id": 12,
    "title": "A responsive theme",
    "content": "Multi-language storefront with online payment",
    "phone": "+86 138-0000-0000",
}


async def make_order(client, token: str, **overrides: Any) -> dict[str, Any]:
    body = await call(
        client, "POST", "/api/communication/order/create", token=token, json={**ORDER, **overrides}
    )
    return assert_ok(body)


async def detail(client, token: str, order_id: int) -> dict[str, Any]:
    body = await call(
        client, "GET", "/api/communication/order/detail", token=token, params={"id": order_id}
    )
    return assert_ok(body)


async def admin_detail(client, admin_token: str, order_id: int) -> dict[str, Any]:
    body = await call(
        client,
        "GET",
        "/api/admin/communication/order/detail",
        token=admin_token,
        params={"id": order_id},
    )
    return assert_ok(body)


async def quote(client, admin_token: str, order_id: int, price: Any = "12000") -> dict[str, Any]:
    body = await call(
        client,
        "POST",
        "/api/admin/communication/order/quote",
        token=admin_token,
        json={"id": order_id, "quote_price": price, "quote_content": "Two weeks, two revisions"},
    )
    return assert_ok(body)


async def update(client, token: str, **fields: Any) -> dict[str, Any]:
    return await call(client, "POST", "/api/communication/order/update", token=token, json=fields)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Marks a test whose body failed, for fixtures that keep evidence (screenshots)."""
    outcome = yield
    if call.when == "call" and outcome.get_result().failed:
        item.failed = True
