"""The console behind docs/deploy/nginx.conf as it stands (one app server, on SQLite),
in Chromium over HTTPS on a port that is not 443: a form posted with the session
cookie passes the cross-site check, an upload over nginx's body limit is "too large",
and while the app server is down the console says the server is not answering
instead of failing on nginx's error page."""

import http.client
import ssl

import pytest

from tests.live import LiveServer
from tests.test_browser import CHROMIUM_ARGS, pytestmark  # noqa: F401 (skip without Chromium)
from tests.test_deploy import Nginx, listen_port, make_certificate, site_config, unit_environment

NOT_ANSWERING = "The server is not answering; try again in a moment."


@pytest.fixture
def shop(tmp_path):
    """One app server on a SQLite file behind nginx: (the shop's URL, the app server)."""
    make_certificate(tmp_path)
    with LiveServer(tmp_path / "shop.db", env=unit_environment()) as app:
        http_port, https_port = listen_port(), listen_port()
        prefix = tmp_path / "nginx"
        prefix.mkdir()
        nginx = Nginx(prefix, site_config([app.port], http_port, https_port, tmp_path))
        try:
            nginx.wait_until_serving(https_port)
            yield f"https://127.0.0.1:{https_port}/", app
        finally:
            nginx.stop()


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    from tests.test_browser import CHROMIUM

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(ignore_https_errors=True)  # the test's own certificate
        yield context.new_page()
        browser.close()


def test_the_console_tells_a_proxy_refusal_and_a_down_server_from_a_refusal(shop, page, tmp_path):
    url, app = shop
    page.goto(url)
    page.click("text=Sign up")
    page.fill("#f-user_name", "painter")
    page.fill("#f-password", "correct horse battery")
    page.click("#auth-form button[type=submit]")
    page.wait_for_selector("[data-testid=empty]")

    # A cookie-authenticated form through the proxy, on a port that is not 443: the
    # server sees the browser's Host, port included, so the Origin is its own.
    page.click("text=New request")
    page.fill("#f-title", "A portrait")
    page.fill("#f-content", "Oil on canvas")
    page.fill("#f-phone", "+1 555 0101")
    # Bigger than nginx's client_max_body_size (11m): nginx answers 413 with its page.
    big = tmp_path / "huge.pdf"
    big.write_bytes(b"%PDF-1.4\n" + b"0" * (12 * 1024 * 1024))
    page.set_input_files("#attach-images", str(big))
    error = page.wait_for_selector("[data-testid=attach-images] .error")
    assert error.text_content() == "huge.pdf: This file is too large."
    page.click("#new-order button[type=submit]")
    page.wait_for_selector("[data-testid=title]")
    assert page.text_content("[data-testid=title]") == "A portrait"

    # The app server goes away: nginx answers 502 with an HTML page.
    app.kill()
    page.fill("#f-message", "Are you there?")
    page.click("#message-form button[type=submit]")
    alert = page.wait_for_selector("#message-form .error")
    assert alert.text_content() == NOT_ANSWERING


def test_the_proxy_never_forwards_metrics(shop):
    """The server shows /metrics to loopback peers, and nginx is one: nginx itself
    answers 404, while the app server answers a local scraper."""
    url, app = shop
    port = int(url.rsplit(":", 1)[1].strip("/"))
    tls = ssl._create_unverified_context()  # the test's own certificate
    for connection, status in (
        (http.client.HTTPSConnection("127.0.0.1", port, context=tls, timeout=30), 404),
        (http.client.HTTPConnection("127.0.0.1", app.port, timeout=30), 200),
    ):
        try:
            connection.request("GET", "/metrics")
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        assert response.status == status
        assert (b"orderdesk_http_requests_total" in body) == (status == 200)
