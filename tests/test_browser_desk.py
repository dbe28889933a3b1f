"""The merchant's desk in Chromium, under the console's Content-Security-Policy: the
field definitions page, confirmations of final actions, the users page, assignment,
saved replies and the inbox. Its own server: these tests change field definitions and
users, which the other browser modules rely on."""

import time

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
        live.sends_policy = "Content-Security-Policy" in page_headers(live)
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


def role_shown(page, name: str) -> str:
    return page.input_value(f"[data-user='{name}'] [data-testid=role]")


def eventually(check, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.1)


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
    admin.wait_for_selector("[data-testid=user][data-user='sam']", state="detached")
    assert [
        row.get_attribute("data-user") for row in admin.query_selector_all("[data-testid=user]")
    ] == ["cora"]
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
    eventually(lambda: role_shown(admin, "cora") == "staff")
    users = server.call("GET", "/api/admin/users?q=cora", token=admin_token(server))["data"]
    assert users[0]["role"] == "staff"
    user_row(admin, "cora").locator("[data-testid=role]").select_option("user")
    eventually(lambda: role_shown(admin, "cora") == "user")

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


def order_ids(page) -> list[int]:
    return [
        int(i)
        for i in page.eval_on_selector_all("[data-order]", "e => e.map(x => x.dataset.order)")
    ]


def test_two_staff_watch_a_customer_write(server, pages):  # noqa: F811
    make_staff(server, "tom")
    make_staff(server, "tia")
    cal = customer(server, "cal")
    older = new_order(server, cal, "An older order")
    newer = new_order(server, cal, "A newer order")
    tom, tia = pages(), pages()
    for page, name in [(tom, "tom"), (tia, "tia")]:
        sign_in(page, server.url, name, "correct horse battery")
        page.wait_for_selector("#inbox-filters")
    tia.select_option("#f-show", "unassigned")
    tia.click("#inbox-filters button[type=submit]")
    tia.wait_for_selector(f"[data-order='{older}']")
    assert tom.input_value("#f-sort") == "activity"  # the default where the server sorts

    # The customer writes on the older order: it moves up, with a badge and a preview,
    # on both open inboxes, without a reload.
    message = {"comm_order_id": older, "message_type": "text", "content": "Is there any news?"}
    server.call("POST", "/api/communication/message/send", message, cal)
    for page in (tom, tia):
        page.wait_for_selector(
            f"[data-order='{older}'] [data-testid=unread] >> text=1", timeout=LIVE_MS
        )
        assert order_ids(page).index(older) < order_ids(page).index(newer)
        preview = page.text_content(f"[data-order='{older}'] [data-testid=preview]")
        assert preview == "cal: Is there any news?"
        assert page.text_content(f"[data-order='{older}'] [data-testid=customer]") == "cal"

    # Tom takes it and writes a note; opening it read it for him.
    tom.click("text=An older order")
    tom.click("#assign-me")
    tom.wait_for_selector("[data-testid=assignee] >> text=tom")
    tom.fill("#f-note", "Call her tomorrow")
    tom.click("#note-form button[type=submit]")
    tom.wait_for_selector("[data-testid=note] >> text=Call her tomorrow")
    assert "Call her tomorrow" not in tom.text_content("[data-testid=thread]")

    # Tia's list of unassigned orders loses it; her own badge stays until she reads it.
    tia.wait_for_selector(f"[data-order='{older}']", state="detached", timeout=LIVE_MS)
    tia.select_option("#f-show", "")
    tia.click("#inbox-filters button[type=submit]")
    tia.wait_for_selector(f"[data-order='{older}'] [data-testid=list-assignee] >> text=tom")
    # Tom's note counts for her too: the merchant's side sees notes.
    assert tia.text_content(f"[data-order='{older}'] [data-testid=unread]") == "2"
    tia.click("text=An older order")
    tia.wait_for_selector("[data-testid=note] >> text=Call her tomorrow", timeout=LIVE_MS)
    tia.click("nav >> text=Inbox")
    tia.wait_for_selector(f"[data-order='{older}']")
    assert tia.query_selector(f"[data-order='{older}'] [data-testid=unread]") is None

    # Tom's "mine" has it; the customer never sees the note.
    tom.click("nav >> text=Inbox")
    tom.select_option("#f-show", "mine")
    tom.click("#inbox-filters button[type=submit]")
    tom.wait_for_selector(f"[data-order='{newer}']", state="detached", timeout=LIVE_MS)
    assert order_ids(tom) == [older]
    assert tom.query_selector(f"[data-order='{older}'] [data-testid=unread]") is None
    watcher = pages()
    sign_in(watcher, server.url, "cal", "correct horse battery")
    watcher.wait_for_selector("[data-testid=orders]")
    watcher.goto(f"{server.url}/#/order/{older}")
    watcher.wait_for_selector("[data-testid=thread] >> text=Is there any news?")
    watcher.goto(f"{server.url}/#/orders")
    watcher.wait_for_selector("[data-testid=orders]")
    assert "Call her tomorrow" not in watcher.content()
