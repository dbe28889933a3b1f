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


def customer(server, name: str) -> str:
    """A new customer's API token."""
    body = {"user_name": name, "password": "correct horse battery"}
    return server.call("POST", "/api/register", body)["data"]["token"]


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


def make_staff(server, name: str) -> int:
    user = server.call(
        "POST", "/api/register", {"user_name": name, "password": "correct horse battery"}
    )
    server.call(
        "POST",
        "/api/admin/users/update",
        {"id": user["data"]["id"], "role": "staff"},
        admin_token(server),
    )
    return user["data"]["id"]


def user_row(page, name: str):
    return page.locator(f"[data-testid=user][data-user='{name}']")


def test_the_users_page_finds_changes_disables_and_helps(server, pages):  # noqa: F811
    body = {"user_name": "cora", "password": "correct horse battery", "email": "cora@home.test"}
    cora = server.call("POST", "/api/register", body)["data"]["id"]
    new_order(server, api_token(server, "cora"), "Cora's order")
    make_staff(server, "sam")
    admin = pages()
    sign_in(admin, server.url, *MERCHANT)
    admin.wait_for_selector("#inbox-filters")
    admin.click("nav >> text=Users")
    admin.wait_for_selector("[data-testid=users]")
    assert user_row(admin, "cora").locator("[data-testid=orders-total]").text_content() == "1"
    assert "cora@home.test" in user_row(admin, "cora").text_content()
    assert "never" not in user_row(admin, "cora").text_content()  # registering counts

    # Search and role filter.
    admin.fill("#users-filters [name=q]", "CORA@")
    admin.click("#users-filters button[type=submit]")
    admin.wait_for_function("document.querySelectorAll('[data-testid=user]').length === 1")
    assert user_row(admin, "cora").count() == 1
    admin.fill("#users-filters [name=q]", "")
    admin.select_option("#users-filters [name=role]", "staff")
    admin.click("#users-filters button[type=submit]")
    admin.wait_for_selector("[data-testid=user][data-user='sam']")
    assert admin.locator("[data-testid=user]").count() == 1
    admin.select_option("#users-filters [name=role]", "")
    admin.click("#users-filters button[type=submit]")
    admin.wait_for_selector("[data-testid=user][data-user='cora']")
    assert user_row(admin, MERCHANT[0]).locator("button").count() == 0  # not one's own

    # A role change.
    user_row(admin, "cora").locator("[data-testid=role]").select_option("staff")
    admin.wait_for_function(
        "document.querySelector(\"[data-user=cora] [data-testid=role]\")?.value === 'staff'"
    )
    users = server.call("GET", "/api/admin/users?q=cora", token=admin_token(server))["data"]
    assert users[0]["role"] == "staff"
    user_row(admin, "cora").locator("[data-testid=role]").select_option("user")
    admin.wait_for_function(
        "document.querySelector(\"[data-user=cora] [data-testid=role]\")?.value === 'user'"
    )

    # Disabling asks first.
    asked = []
    admin.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    user_row(admin, "cora").locator("[data-testid=toggle-disabled]").click()
    admin.wait_for_timeout(500)
    assert asked == ["Disable this user? Their sessions end at once."]
    assert user_row(admin, "cora").locator("[data-testid=disabled]").text_content() == ""
    admin.once("dialog", lambda dialog: dialog.accept())
    user_row(admin, "cora").locator("[data-testid=toggle-disabled]").click()
    admin.wait_for_selector("[data-user=cora] [data-testid=disabled] >> text=disabled")
    login = {"user_name": "cora", "password": "correct horse battery"}
    assert server.call("POST", "/api/login", login)["msg"] == "this account is disabled"
    user_row(admin, "cora").locator(
        "[data-testid=toggle-disabled]"
    ).click()  # enabling: no question
    admin.wait_for_selector("[data-user=cora] [data-testid=toggle-disabled] >> text=Disable")
    assert server.call("POST", "/api/login", login)["code"] == 0

    # A reset link to pass on.
    user_row(admin, "cora").locator("[data-testid=reset-link]").click()
    url = admin.wait_for_selector("[data-testid=reset-url]").text_content()
    assert url.startswith(f"{server.url}/#/reset?token=")

    # Staff see the list, and change nothing.
    staff = pages()
    sign_in(staff, server.url, "sam", "correct horse battery")
    staff.wait_for_selector("#inbox-filters")
    staff.goto(f"{server.url}/#/admin/users")
    staff.wait_for_selector("[data-testid=user][data-user='cora']")
    assert staff.locator("[data-testid=users] button, [data-testid=users] select").count() == 0
    assert cora


def test_assigning_an_order_from_its_page(server, pages):  # noqa: F811
    make_staff(server, "sue")
    order_id = new_order(server, customer(server, "abe"), "To be assigned")
    admin = pages()
    sign_in(admin, server.url, *MERCHANT)
    admin.wait_for_selector("#inbox-filters")
    admin.goto(f"{server.url}/#/admin/order/{order_id}")
    admin.wait_for_selector("[data-testid=assignee] >> text=nobody")
    detail = f"/api/admin/communication/order/detail?id={order_id}"

    admin.click("#assign-me")
    admin.wait_for_selector(f"[data-testid=assignee] >> text={MERCHANT[0]}")
    merchant_id = server.call("GET", "/api/user/detail", token=admin_token(server))["data"]["id"]
    assert (
        server.call("GET", detail, token=admin_token(server))["data"]["assignee_id"] == merchant_id
    )

    admin.select_option("#f-assignee_id", label="sue")
    admin.click("#assign")
    admin.wait_for_selector("[data-testid=assignee] >> text=sue")
    admin.click("nav >> text=Inbox")
    admin.wait_for_selector(f"[data-order='{order_id}'] [data-testid=list-assignee] >> text=sue")

    admin.goto(f"{server.url}/#/admin/order/{order_id}")
    admin.wait_for_selector("[data-testid=assignee] >> text=sue")
    admin.select_option("#f-assignee_id", "0")
    admin.click("#assign")
    admin.wait_for_selector("[data-testid=assignee] >> text=nobody")
    assert server.call("GET", detail, token=admin_token(server))["data"]["assignee_id"] == 0


def test_saved_replies_are_managed_and_inserted(server, pages):  # noqa: F811
    order_id = new_order(server, customer(server, "amy"), "Needs a reply")
    admin = pages()
    sign_in(admin, server.url, *MERCHANT)
    admin.wait_for_selector("#inbox-filters")
    admin.click("nav >> text=Saved replies")
    admin.wait_for_selector("#reply-form")
    admin.fill("#f-new-reply-title", "Thanks")
    admin.fill("#f-new-reply-content", "Thank you, we will be in touch.")
    admin.click("#reply-form button[type=submit]")
    card = admin.wait_for_selector("[data-testid=reply]")
    reply_id = card.get_attribute("data-reply")
    admin.fill(f"#f-reply-{reply_id}-content", "Thank you, we will write today.")
    admin.click(f"[data-reply='{reply_id}'] button[value=save]")
    admin.wait_for_selector("[data-testid=replies-status] >> text=Saved.")
    replies = server.call("GET", "/api/admin/replies", token=admin_token(server))["data"]
    assert [(r["title"], r["content"]) for r in replies] == [
        ("Thanks", "Thank you, we will write today.")
    ]

    # On the order page, the picker puts the reply into the message box.
    admin.goto(f"{server.url}/#/admin/order/{order_id}")
    admin.wait_for_selector("#reply-picker")
    admin.fill("#f-message", "Hello! ")
    admin.select_option("#reply-picker", label="Thanks")
    assert admin.input_value("#f-message") == "Hello! Thank you, we will write today."
    admin.click("#message-form button[type=submit]")
    admin.wait_for_selector("[data-testid=thread] >> text=Hello! Thank you, we will write today.")

    admin.goto(f"{server.url}/#/admin/replies")
    admin.click(f"[data-reply='{reply_id}'] button[value=remove]")
    admin.wait_for_selector("text=No saved replies yet.")
    assert server.call("GET", "/api/admin/replies", token=admin_token(server))["data"] == []
