"""Two orderdesk processes on one PostgreSQL database: what a load balancer sees."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import postgres_database
from tests.live import LiveServer

pytestmark = pytest.mark.slow  # several server processes

UPDATE = "/api/communication/order/update"


async def test_two_servers_lose_no_merge_and_share_logouts(tmp_path):
    async with postgres_database() as url:
        await asyncio.to_thread(check_two_servers, url, tmp_path)


def check_two_servers(url: str, tmp_path) -> None:
    with (
        LiveServer(url, log=tmp_path / "a.log") as first,
        LiveServer(url, log=tmp_path / "b.log") as second,
    ):
        servers = [first, second]
        token = first.register("alice")
        order = first.call(
            "POST",
            "/api/communication/order/create",
            {"archive_id": 1, "title": "t", "content": "c", "phone": "12345"},
            token,
        )["data"]["id"]

        def merge(i: int) -> dict:
            body = {"id": order, "order_extra": {f"key{i}": i}}
            return servers[i % 2].call("POST", UPDATE, body, token)

        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(merge, range(100)))
        assert [a["code"] for a in answers] == [0] * 100
        for server in servers:
            shown = server.call("GET", f"/api/communication/order/detail?id={order}", token=token)
            assert shown["data"]["order_extra"] == {f"key{i}": i for i in range(100)}
            assert shown["data"]["version"] == 101

        other = second.register("bob")
        assert first.call("GET", "/api/user/detail", token=other)["code"] == 0
        assert second.call("POST", "/api/logout", token=other)["code"] == 0
        assert first.call("GET", "/api/user/detail", token=other)["code"] == 1001
