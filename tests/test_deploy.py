"""The README's deployment, really run: Debian's nginx with TLS (a throw-away
self-signed certificate) in front of two orderdesk processes on one PostgreSQL
database, configured by docs/deploy/nginx.conf as it is (only ports and certificate
paths changed) and the environment of docs/deploy/orderdesk@.service."""

import asyncio
import contextlib
import http.client
import json
import random
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from orderdesk import texts

from tests.conftest import postgres_database
from tests.live import ROOT, LiveServer

pytestmark = pytest.mark.slow  # nginx and two app server processes

DEPLOY = ROOT / "docs" / "deploy"
PASSWORD = "correct horse battery"
UPDATE = "/api/communication/order/update"
# The seed document's first example, as sent to /api/communication/order/update.
SEED_UPDATE = {
    "title": "更新后的定制网站主题",
    "content": "需要定制一个响应式的外贸网站主题,包含多语言功能和支付接口",
    "order_extra": {"delivery_time": "2023-12-31", "requirement": "需要支持中英文切换和在线支付"},
}


def unit_environment() -> dict[str, str]:
    """The Environment= settings of the example systemd unit."""
    lines = (DEPLOY / "orderdesk@.service").read_text().splitlines()
    pairs = [line.removeprefix("Environment=") for line in lines if line.startswith("Environment=")]
    return dict(pair.split("=", 1) for pair in pairs)


def site_config(app_ports: list[int], http_port: int, https_port: int, tls: Path) -> str:
    """docs/deploy/nginx.conf with the test's ports and certificate: nothing else changes,
    but for two app servers the second one's line is switched on, as the file says."""
    text = (DEPLOY / "nginx.conf").read_text()
    replacements = {
        "    server 127.0.0.1:8001 ": f"    server 127.0.0.1:{app_ports[0]} ",
        "    # server 127.0.0.1:8002 ": (
            f"    server 127.0.0.1:{app_ports[1]} " if len(app_ports) == 2 else None
        ),
        "listen 80;": f"listen {http_port};",
        "listen 443 ssl;": f"listen {https_port} ssl;",
        "/etc/letsencrypt/live/shop.example.com/fullchain.pem": str(tls / "cert.pem"),
        "/etc/letsencrypt/live/shop.example.com/privkey.pem": str(tls / "key.pem"),
    }
    for old, new in replacements.items():
        assert text.count(old) == 1, f"docs/deploy/nginx.conf no longer has {old!r} once"
        if new is not None:
            text = text.replace(old, new)
    return text


def make_certificate(folder: Path) -> None:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
        check=True,
        capture_output=True,
    )  # fmt: skip


def listen_port() -> int:
    """A free port outside the range that outgoing connections take their local ports
    from: nginx listens on every address, which such a connection would block."""
    ephemeral = Path("/proc/sys/net/ipv4/ip_local_port_range")
    first_ephemeral = int(ephemeral.read_text().split()[0]) if ephemeral.exists() else 32768
    for port in random.Random().sample(range(10000, first_ephemeral), 200):
        with socket.socket() as sock:
            try:
                sock.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port")


class Nginx:
    """nginx from a temporary prefix: its own config, logs, pid and temp folders."""

    def __init__(self, prefix: Path, site: str) -> None:
        self.prefix = prefix
        (prefix / "site.conf").write_text(site)
        temp = {name: prefix / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
        for folder in temp.values():
            folder.mkdir()
        (prefix / "nginx.conf").write_text(
            "worker_processes 1;\n"
            "events { worker_connections 256; }\n"
            "http {\n"
            f"    access_log {prefix / 'access.log'};\n"
            f"    client_body_temp_path {temp['body']};\n"
            f"    proxy_temp_path {temp['proxy']};\n"
            f"    fastcgi_temp_path {temp['fastcgi']};\n"
            f"    uwsgi_temp_path {temp['uwsgi']};\n"
            f"    scgi_temp_path {temp['scgi']};\n"
            f"    include {prefix / 'site.conf'};\n"
            "}\n"
        )
        command = ["nginx", "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
                   "-e", str(prefix / "error.log")]  # fmt: skip
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        self.process = subprocess.Popen(
            [*command, "-g", f"daemon off; pid {prefix / 'nginx.pid'};"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )

    def wait_until_serving(self, port: int) -> None:
        for _ in range(400):
            if self.process.poll() is not None:
                log = (self.prefix / "error.log").read_text()
                raise AssertionError(f"nginx exited: {log}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"nginx does not listen on {port}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGQUIT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Client:
    """A browser-less client on its own source address (127.0.0.x), one connection per
    request; HTTPS trusts only the test's certificate."""

    def __init__(self, source: str, port: int, tls: ssl.SSLContext | None = None) -> None:
        self.source, self.port, self.tls = source, port, tls

    def request(
        self, method: str, path: str, body: Any = None, **headers: str
    ) -> tuple[int, dict[str, str], bytes]:
        options = {"timeout": 30, "source_address": (self.source, 0)}
        connection = (
            http.client.HTTPSConnection("127.0.0.1", self.port, context=self.tls, **options)
            if self.tls
            else http.client.HTTPConnection("127.0.0.1", self.port, **options)
        )
        headers.setdefault("Content-Type", "application/json")
        try:
            payload = json.dumps(body).encode() if body is not None else None
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def call(self, method: str, path: str, body: Any = None, token: str = "", **headers: str):
        if token:
            headers["Token"] = token
        status, _, content = self.request(method, path, body, **headers)
        assert status == 200, (status, content)
        return json.loads(content)

    def login(self, name: str, password: str = PASSWORD) -> dict:
        return self.call("POST", "/api/login", {"user_name": name, "password": password})


@dataclass
class Deployment:
    https_port: int
    http_port: int
    tls: ssl.SSLContext
    servers: tuple[LiveServer, LiveServer]
    nginx: Nginx

    def client(self, source: str) -> Client:
        return Client(source, self.https_port, self.tls)


@pytest.fixture
async def deployment(tmp_path):
    async with postgres_database() as url:
        for program in ("nginx", "openssl"):
            assert shutil.which(program), f"{program} is missing: apt-get install nginx openssl"
        with deploy(url, tmp_path) as running:
            yield running


@contextlib.contextmanager
def deploy(url: str, tmp_path: Path) -> Iterator[Deployment]:
    make_certificate(tmp_path)
    tls = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
    env = unit_environment()
    with (
        LiveServer(url, log=tmp_path / "app1.log", env=env) as first,
        LiveServer(url, log=tmp_path / "app2.log", env=env) as second,
    ):
        http_port, https_port = listen_port(), listen_port()
        prefix = tmp_path / "nginx"
        prefix.mkdir()
        site = site_config([first.port, second.port], http_port, https_port, tmp_path)
        nginx = Nginx(prefix, site)
        try:
            nginx.wait_until_serving(https_port)
            yield Deployment(https_port, http_port, tls, (first, second), nginx)
        finally:
            nginx.stop()


def direct(server: LiveServer) -> Client:
    """A client of one app server, bypassing nginx."""
    return Client("127.0.0.1", server.port)


async def test_register_login_and_the_seed_update_over_https(deployment):
    await asyncio.to_thread(check_register_login_and_update, deployment)


def check_register_login_and_update(deployment: Deployment) -> None:
    # Plain HTTP is sent to HTTPS.
    plain = Client("127.0.0.2", deployment.http_port)
    status, headers, _ = plain.request("GET", "/api/user/detail")
    assert status == 301 and headers["Location"].startswith("https://"), (status, headers)

    client = deployment.client("127.0.0.2")
    body = {"user_name": "alice", "password": PASSWORD}
    for path in ("/api/register", "/api/login"):
        status, headers, content = client.request("POST", path, body)
        assert status == 200 and json.loads(content)["code"] == 0, content
        cookie = headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie, cookie
    token = cookie.split(";")[0].removeprefix("token=")
    # The cookie alone authenticates, through nginx.
    me = client.call("GET", "/api/user/detail", Cookie=f"token={token}")
    assert me["data"]["user_name"] == "alice", me

    order = client.call(
        "POST",
        "/api/communication/order/create",
        {"archive_id": 12, "title": "定制网站主题", "content": "一个响应式的外贸网站主题",
         "phone": "+86 138 0000 0000", "order_extra": {"budget": "5000-10000"}},
        token,
    )["data"]  # fmt: skip
    updated = client.call("POST", UPDATE, {"id": order["id"], **SEED_UPDATE}, token)
    assert (updated["code"], updated["msg"]) == (0, texts.ORDER_UPDATED.en), updated
    assert updated["data"]["version"] == 2
    assert updated["data"]["title"] == SEED_UPDATE["title"]
    assert updated["data"]["order_extra"] == {"budget": "5000-10000", **SEED_UPDATE["order_extra"]}
    # The seed's second example, answered in Chinese as in the seed.
    second = {"id": order["id"], "order_extra": {"budget": "10000-20000",
                                                "maintenance_required": "是"}}  # fmt: skip
    updated = client.call("POST", UPDATE, second, token, **{"Accept-Language": "zh"})
    assert (updated["code"], updated["msg"]) == (0, "订单更新成功"), updated
    assert updated["data"]["order_extra"]["budget"] == "10000-20000"
    for server in deployment.servers:
        shown = direct(server).call(
            "GET", f"/api/communication/order/detail?id={order['id']}", token=token
        )
        assert shown["data"]["version"] == 3 and shown["data"]["order_extra"] == {
            "budget": "10000-20000",
            "maintenance_required": "是",
            **SEED_UPDATE["order_extra"],
        }
    # A number too long for any ID, in a query of 60 KiB, reaches the server through
    # nginx and is answered naming it.
    long = client.call("GET", f"/api/communication/order/detail?id={'9' * 60_000}", token=token)
    assert long == {
        "code": -1,
        "msg": texts.INTEGER_TOO_LARGE.render("en", {"field": "id", "max": 2**63 - 1}),
    }, long


async def test_logout_on_one_app_server_is_honoured_by_the_other(deployment):
    await asyncio.to_thread(check_logout, deployment)


def check_logout(deployment: Deployment) -> None:
    client = deployment.client("127.0.0.2")
    client.call("POST", "/api/register", {"user_name": "bob", "password": PASSWORD})
    token = client.login("bob")["data"]["token"]
    first, second = (direct(server) for server in deployment.servers)
    for app in (first, second):
        assert app.call("GET", "/api/user/detail", token=token)["code"] == 0
    assert first.call("POST", "/api/logout", token=token)["code"] == 0
    assert second.call("GET", "/api/user/detail", token=token)["code"] == 1001
    for _ in range(4):  # both upstreams, whichever nginx picks
        assert client.call("GET", "/api/user/detail", token=token)["code"] == 1001


async def test_throttling_is_keyed_by_the_real_client_address(deployment):
    await asyncio.to_thread(check_throttling, deployment)


def check_throttling(deployment: Deployment) -> None:
    attacker, neighbour = deployment.client("127.0.0.2"), deployment.client("127.0.0.3")
    for name in ("alice", "bob"):
        neighbour.call("POST", "/api/register", {"user_name": name, "password": PASSWORD})
    for _ in range(5):
        failed = attacker.login("alice", "wrong password")
        assert failed["msg"] == texts.WRONG_CREDENTIALS.en, failed
    refused = attacker.login("alice")
    assert (refused["code"], refused["msg"]) == (-1, texts.TOO_MANY_ATTEMPTS.en), refused
    # Every app server sees the other client as another address: not locked out.
    for _ in range(2):
        assert neighbour.login("bob")["code"] == 0
    # The app servers' peer is nginx on 127.0.0.1; the address counted is the client's.
    access_log = (deployment.nginx.prefix / "access.log").read_text()
    assert "127.0.0.2 " in access_log and "127.0.0.3 " in access_log


async def test_an_app_server_killed_mid_stream_loses_nothing_acknowledged(deployment):
    await asyncio.to_thread(check_kill, deployment)


def check_kill(deployment: Deployment) -> None:
    client = deployment.client("127.0.0.2")
    token = client.call("POST", "/api/register", {"user_name": "carol", "password": PASSWORD})[
        "data"
    ]["token"]
    # Four orders, as an order holds at most 100 order_extra keys.
    orders = [
        client.call(
            "POST",
            "/api/communication/order/create",
            {"archive_id": 1, "title": "t", "content": "c", "phone": "12345"},
            token,
        )["data"]["id"]
        for _ in range(4)
    ]
    acknowledged: list[int] = []
    failed_statuses: list[int] = []
    enough = threading.Event()

    def update(i: int) -> None:
        body = {"id": orders[i % 4], "order_extra": {f"key{i}": i}}
        status, _, content = client.request("POST", UPDATE, body, Token=token)
        if status != 200:
            failed_statuses.append(status)  # cut off when its server died
            return
        assert json.loads(content)["code"] == 0, content
        acknowledged.append(i)
        if len(acknowledged) >= 60:
            enough.set()

    victim, survivor = deployment.servers
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(update, i) for i in range(300)]
        assert enough.wait(timeout=120)
        victim.kill()
        for future in futures:
            future.result()
    assert set(failed_statuses) <= {502}, failed_statuses
    assert len(acknowledged) > 200, len(acknowledged)
    # nginx has moved on: everything now goes to the survivor.
    for i in range(300, 320):
        update(i)
    assert acknowledged[-20:] == list(range(300, 320)), failed_statuses
    for reader in (direct(survivor), client):
        for n, order in enumerate(orders):
            path = f"/api/communication/order/detail?id={order}"
            extra = reader.call("GET", path, token=token)["data"]["order_extra"]
            kept = {f"key{i}" for i in acknowledged if i % 4 == n}
            assert kept <= set(extra), "an acknowledged update is lost"
