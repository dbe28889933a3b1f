"""The merchant's desk in Chromium, under the console's Content-Security-Policy: the
field definitions page, confirmations of final actions, the users page, assignment,
saved replies and the inbox. Its own server: these tests change field definitions and
users, which the other browser modules rely on."""

import pytest

from tests.live import LiveServer, run_cli
from tests.test_browser import (  # noqa: F401 (fixtures: browser, pages)
    LIVE_MS,
    MERCHANT,
    api_token,
    browser,
    pages,
    pytestmark,
    sign_in,
    sign_up,
    status_of,
)

ORDER = {"archive_id": 1, "content": "c", "phone": "12345"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = tmp_path_factory.mktemp("desk") / "desk.db"
    with LiveServer(db) as live:
        run_cli(
            "create-admin", "--db", str(db), "--username", MERCHANT[0], "--password", MERCHANT[1]
        )
        live.sends_policy = True
        yield live


def admin_token(server) -> str:
    return api_token(server, *MERCHANT)


def new_order(server, token: str, title: str) -> int:
    return server.call("POST", "/api/communication/order/create", {**ORDER, "title": title}, token)[
        "data"
    ]["id"]


def test_the_fields_page_shows_what_was_saved(server, pages):  # noqa: F811
    page = pages()
    sign_in(page, server.url, *MERCHANT)
    page.wait_for_selector("#inbox-filters")
    page.goto(f"{server.url}/#/admin/fields")
    page.wait_for_selector("text=No fields defined")

    page.click("text=Add field")
    page.fill(".field-row [name=field_name]", "budget")
    page.fill(".field-row [name=name]", "Budget")
    page.click("#fields-form button[type=submit]")
    page.wait_for_selector("#fields-form [role=status] >> text=Saved.")
    assert page.query_selector("text=No fields defined") is None
    assert page.input_value(".field-row [name=name]") == "Budget"

    # Removing every field says so again.
    page.click(".field-row >> text=Remove")
    page.click("#fields-form button[type=submit]")
    page.wait_for_selector("text=No fields defined")
    assert page.text_content("#fields-form [role=status]") == "Saved."


def test_cancelling_asks_first_on_both_sides(server, pages):  # noqa: F811
    customer = pages()
    sign_up(customer, server.url, "ann")
    token = api_token(server, "ann")
    first = new_order(server, token, "Cancelled by the customer")
    second = new_order(server, token, "Cancelled by the merchant")

    asked = []
    customer.goto(f"{server.url}/#/order/{first}")
    customer.wait_for_selector("[data-testid=title]")
    customer.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    customer.click("text=Cancel order")
    customer.wait_for_timeout(500)
    assert asked == ["Cancel this order for good?"]
    detail = server.call("GET", f"/api/communication/order/detail?id={first}", token=token)
    assert detail["data"]["status"] == 0  # a "no" cancels nothing
    customer.once("dialog", lambda dialog: dialog.accept())
    customer.click("text=Cancel order")
    customer.wait_for_selector("h1 [data-status='-1']")

    merchant = pages()
    sign_in(merchant, server.url, *MERCHANT)
    merchant.wait_for_selector("#inbox-filters")
    merchant.goto(f"{server.url}/#/admin/order/{second}")
    merchant.wait_for_selector("[data-testid=title]")
    merchant.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    merchant.click("text=Cancel order")
    merchant.wait_for_timeout(500)
    assert asked[1:] == ["Cancel this order for good?"]
    assert status_of(merchant) == "0"
    merchant.once("dialog", lambda dialog: dialog.accept())
    merchant.click("text=Cancel order")
    merchant.wait_for_selector("h1 [data-status='-1']")


def test_rejecting_a_quote_asks_first(server, pages):  # noqa: F811
    customer = pages()
    sign_up(customer, server.url, "ben")
    order_id = new_order(server, api_token(server, "ben"), "To be rejected")
    quote = {"id": order_id, "quote_price": "100", "quote_content": "A day"}
    server.call("POST", "/api/admin/communication/order/quote", quote, admin_token(server))
    customer.goto(f"{server.url}/#/order/{order_id}")
    customer.wait_for_selector("text=Reject quote")
    asked = []
    customer.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    customer.click("text=Reject quote")
    customer.wait_for_timeout(500)
    assert asked == ["Reject this quote?"] and status_of(customer) == "2"
    customer.once("dialog", lambda dialog: dialog.accept())
    customer.click("text=Reject quote")
    customer.wait_for_selector("h1 [data-status='4']")
