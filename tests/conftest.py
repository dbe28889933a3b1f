"""Shared fixtures: the real app on a fresh SQLite file per test, and API helpers."""

import time
from typing import Any

import aiohttp
import pytest

from server import security
from server.app import create_app
from server.config import Config
from server.keys import STORE

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


@pytest.fixture
def config(tmp_path, clock) -> Config:
    return Config(db=str(tmp_path / "orderdesk.db"), session_ttl=3600, clock=clock)


@pytest.fixture
async def client(aiohttp_client, config):
    # No cookie jar: each request is authenticated only by what the test sends.
    return await aiohttp_client(create_app(config), cookie_jar=aiohttp.DummyCookieJar())


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
    """One request; asserts the HTTP 200 envelope and returns its JSON body."""
    all_headers = {"Token": token} if token else {}
    all_headers.update(headers or {})
    response = await client.request(
        method, path, json=json, params=params, headers=all_headers, data=data
    )
    assert response.status == 200, await response.text()
    body = await response.json()
    assert isinstance(body["code"], int) and isinstance(body["msg"], str), body
    assert set(body) <= {"code", "msg", "data", "total"}, body
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
    await client.server.app[STORE].save_admin(name, security.hash_password(PASSWORD))
    body = await call(client, "POST", "/api/login", json={"user_name": name, "password": PASSWORD})
    return assert_ok(body)["token"]


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
