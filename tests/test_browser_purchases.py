"""Purchase orders in Chromium: the customer's panel on the order page and the
merchant's list and moves, each side seeing the other's steps live. Its own server,
with payment instructions configured."""

import pytest

from tests.live import LiveServer, run_cli
from tests.test_browser import (  # noqa: F401 (fixtures: browser, pages)
    LIVE_MS,
    MERCHANT,
    api_token,
    browser,
    page_headers,
    pages,
    pytestmark,
    sign_in,
    sign_up,
)

INSTRUCTIONS = "Bank transfer to DE89 3704 0044 0532 0130 00, quoting the order number."
ORDER = {"archive_id": 1, "content": "c", "phone": "12345"}
PANEL = "[data-testid=purchase]"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = tmp_path_factory.mktemp("purchases") / "purchases.db"
    with LiveServer(db, "--payment-instructions", INSTRUCTIONS) as live:
        run_cli(
            "create-admin", "--db", str(db), "--username", MERCHANT[0], "--password", MERCHANT[1]
        )
        live.sends_policy = "Content-Security-Policy" in page_headers(live)
        yield live


def quoted_order(server, customer: str, title: str) -> int:
    """A new order of `customer`'s, quoted 12000.50 by the merchant."""
    token = api_token(server, customer)
    order_id = server.call(
        "POST", "/api/communication/order/create", {**ORDER, "title": title}, token
    )["data"]["id"]
    quote = {"id": order_id, "quote_price": "12000.50", "quote_content": "Two weeks"}
    server.call("POST", "/api/admin/communication/order/quote", quote, api_token(server, *MERCHANT))
    return order_id


def purchase_of(server, customer: str, order_id: int) -> dict:
    token = api_token(server, customer)
    return server.call("GET", f"/api/orders?comm_order_id={order_id}", token=token)["data"][0]


def purchase_status(page, status: int, timeout: float = LIVE_MS) -> None:
    page.wait_for_selector(f"{PANEL} [data-purchase-status='{status}']", timeout=timeout)


def test_a_purchase_paid_offline_shipped_and_received(server, pages):  # noqa: F811
    customer = pages()
    sign_up(customer, server.url, "pia")
    order_id = quoted_order(server, "pia", "A paid theme")
    customer.goto(f"{server.url}/#/order/{order_id}")
    customer.wait_for_selector("text=Accept quote")
    assert customer.query_selector(PANEL) is None  # no purchase order before the accept
    customer.on("dialog", lambda dialog: dialog.accept())
    customer.click("text=Accept quote")

    # The purchase order, awaiting payment: the customer's steps only.
    purchase_status(customer, 0)
    assert customer.text_content(f"{PANEL} [data-testid=purchase-amount]") == "12000.50"
    number = customer.text_content(f"{PANEL} [data-testid=purchase-number]")
    assert number == purchase_of(server, "pia", order_id)["order_id"]
    buttons = customer.locator(f"{PANEL} button").all_text_contents()
    assert buttons == ["Pay offline", "Cancel"]

    customer.click(f"{PANEL} >> text=Pay offline")
    shown = customer.wait_for_selector("[data-testid=instructions]")
    assert INSTRUCTIONS in shown.text_content()

    # The merchant finds it in the list of purchase orders and marks it paid.
    merchant = pages()
    sign_in(merchant, server.url, *MERCHANT)
    merchant.wait_for_selector("#inbox-filters")
    merchant.click("nav >> text=Purchase orders")
    merchant.wait_for_selector(f"[data-purchase='{number}'] [data-purchase-status='0']")
    merchant.click(f"[data-purchase='{number}'] a")
    purchase_status(merchant, 0)
    assert merchant.locator(f"{PANEL} button").all_text_contents() == ["Mark paid", "Close"]
    merchant.fill(f"{PANEL} [name=payment_reference]", "BANK-7781")
    merchant.click(f"{PANEL} >> text=Mark paid")
    purchase_status(merchant, 1)
    assert merchant.text_content(f"{PANEL} [data-testid=payment-reference]") == "BANK-7781"
    purchase_status(customer, 1)  # live, without a reload
    assert customer.query_selector("[data-testid=instructions]") is None

    # Shipped with the carrier and tracking number, which the customer sees.
    merchant.fill(f"{PANEL} [name=express_company]", "DHL")
    merchant.fill(f"{PANEL} [name=tracking_number]", "JD0146 2231")
    merchant.click(f"{PANEL} >> text=Mark shipped")
    purchase_status(merchant, 2)
    purchase_status(customer, 2)
    assert customer.text_content(f"{PANEL} [data-testid=carrier]") == "DHL"
    assert customer.text_content(f"{PANEL} [data-testid=tracking-number]") == "JD0146 2231"

    # The customer confirms receipt; the merchant's page follows.
    customer.click(f"{PANEL} >> text=Confirm receipt")
    purchase_status(customer, 3)
    assert customer.locator(f"{PANEL} button").count() == 0
    purchase_status(merchant, 3)
    final = purchase_of(server, "pia", order_id)
    assert (final["status"], final["payment_reference"], final["tracking_number"]) == (
        3,
        "BANK-7781",
        "JD0146 2231",
    )
    customer.wait_for_selector("[data-testid=thread] >> text=confirmed receipt", timeout=LIVE_MS)


def test_a_refund_asked_and_refused(server, pages):  # noqa: F811
    customer = pages()
    sign_up(customer, server.url, "quinn")
    order_id = quoted_order(server, "quinn", "A refund theme")
    server.call(
        "POST", "/api/communication/order/accept", {"id": order_id}, api_token(server, "quinn")
    )
    number = purchase_of(server, "quinn", order_id)["order_id"]
    paid = {"order_id": number, "payment_reference": "BANK-1"}
    server.call("POST", "/api/admin/order/paid", paid, api_token(server, *MERCHANT))

    customer.goto(f"{server.url}/#/order/{order_id}")
    purchase_status(customer, 1)
    # A refund needs a reason: the server's refusal, next to the field it names.
    customer.click(f"{PANEL} >> text=Ask for a refund")
    error = customer.wait_for_selector(f"{PANEL} .error")
    assert error.text_content() == "Refund reason must not be empty"
    customer.fill(f"{PANEL} [name=reason]", "It arrived broken")
    customer.click(f"{PANEL} >> text=Ask for a refund")
    purchase_status(customer, 8)
    assert customer.text_content(f"{PANEL} [data-testid=refund-reason]") == "It arrived broken"

    merchant = pages()
    sign_in(merchant, server.url, *MERCHANT)
    merchant.wait_for_selector("#inbox-filters")
    merchant.goto(f"{server.url}/#/admin/purchases?status=8")
    merchant.wait_for_selector(f"[data-purchase='{number}']")
    assert merchant.locator("[data-purchase]").count() == 1
    merchant.goto(f"{server.url}/#/admin/order/{order_id}")
    purchase_status(merchant, 8)
    assert merchant.locator(f"{PANEL} button").all_text_contents() == [
        "Approve refund",
        "Refuse refund",
    ]
    merchant.click(f"{PANEL} >> text=Refuse refund")
    purchase_status(merchant, 1)  # back to where it was
    purchase_status(customer, 1)
    assert customer.query_selector(f"{PANEL} [data-testid=refund-reason]") is None
    assert purchase_of(server, "quinn", order_id)["status"] == 1
