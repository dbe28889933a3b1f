"""The console's webhooks and mail setting, in Chromium under the console's
Content-Security-Policy: the merchant adds a webhook and sees its secret once, sees the
deliveries and sends one again, disables and rotates; a customer turns mail off."""

import pytest
from standardwebhooks.webhooks import Webhook

from tests.conftest import ORDER
from tests.live import LiveServer, run_cli
from tests.receivers import Receiver, eventually_sync
from tests.test_browser import (  # noqa: F401 (fixtures: browser, pages)
    MERCHANT,
    browser,
    pages,
    pytestmark,
    sign_in,
    sign_up,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = tmp_path_factory.mktemp("notifications") / "browser.db"
    made = run_cli(
        "create-admin", "--db", str(db), "--username", MERCHANT[0], "--password", MERCHANT[1]
    )
    assert made.returncode == 0, made.stderr
    with LiveServer(db, "--webhook-allow-private") as live:
        live.sends_policy = True
        yield live


def test_the_merchant_manages_a_webhook_on_screen(server, pages):  # noqa: F811
    with Receiver() as receiver:
        page = pages()
        sign_in(page, server.url, *MERCHANT)
        page.wait_for_selector("text=Inbox")
        page.click("text=Webhooks")
        page.fill("#f-url", receiver.url)
        page.fill("#f-description", "ERP")
        page.check("[name='event-order.created']")
        page.click("#webhook-form button[type=submit]")
        secret = page.text_content("[data-testid=secret]")
        assert secret.startswith("whsec_")
        assert receiver.url in page.text_content("[data-testid=webhook]")

        customer = server.register("alice")
        server.call("POST", "/api/communication/order/create", ORDER, token=customer)
        (receipt,) = eventually_sync(receiver.got)
        assert Webhook(secret).verify(receipt.body, receipt.headers)["type"] == "order.created"

        page.click("text=Deliveries")
        page.wait_for_selector("[data-testid=delivery] >> text=delivered")
        page.click("[data-testid=delivery] >> text=Send again")
        second = eventually_sync(lambda: len(receiver.got()) == 2 and receiver.got()[1])
        assert second.headers["webhook-id"] == receipt.headers["webhook-id"]

        page.click("text=Rotate secret")
        page.wait_for_function(
            "s => document.querySelector('[data-testid=secret]')?.textContent !== s", arg=secret
        )
        rotated = page.text_content("[data-testid=secret]")
        assert rotated.startswith("whsec_") and rotated != secret

        page.uncheck("[data-testid=webhook] input[type=checkbox]")
        token = server.call(
            "POST", "/api/login", {"user_name": MERCHANT[0], "password": MERCHANT[1]}
        )["data"]["token"]
        eventually_sync(
            lambda: (
                server.call("GET", "/api/admin/webhooks", token=token)["data"][0]["enabled"]
                is False
            )
        )


def test_a_customer_turns_mail_off_on_screen(server, pages):  # noqa: F811
    page = pages()
    sign_up(page, server.url, "bob")
    page.click("text=Notifications")
    box = "#notifications-form [name=email]"
    assert page.is_checked(box)
    page.uncheck(box)
    page.click("#notifications-form button[type=submit]")
    page.wait_for_selector("#notifications-form >> text=Saved.")
    page.reload()
    page.wait_for_selector(box)
    assert not page.is_checked(box)
