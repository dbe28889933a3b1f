"""Password recovery in Chromium, under the console's Content-Security-Policy: a
customer asks for a link on the login page, the mail (a real SMTP server) carries it,
a fresh browser follows it to a new password; the link then refuses a second use, the
old password no longer works and the session of another browser is logged out."""

import re
from pathlib import Path

import pytest

from tests.live import LiveServer
from tests.receivers import SmtpServer, eventually_sync
from tests.test_browser import (  # noqa: F401 (fixtures: browser, pages)
    browser,
    pages,
    pytestmark,
    sign_in,
)

EMAIL = "alice@home.test"
OLD, NEW = "correct horse battery", "a brand new secret"
LINK = re.compile(r"http://127\.0\.0\.1:\d+/#/reset\?token=[A-Za-z0-9_-]+")


@pytest.fixture(scope="module")
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory, smtp):
    db = tmp_path_factory.mktemp("recovery") / "browser.db"
    # No --public-url: links carry the address the browser used.
    with LiveServer(db, "--smtp-url", smtp.url, "--mail-from", "shop@shop.test") as live:
        live.sends_policy = True
        yield live


def test_a_mailed_link_sets_a_new_password_in_a_fresh_browser(server, smtp, pages):  # noqa: F811
    body = server.call(
        "POST", "/api/register", {"user_name": "alice", "password": OLD, "email": EMAIL}
    )
    assert body["code"] == 0, body
    signed_in = pages()
    sign_in(signed_in, server.url, "alice", OLD)
    signed_in.wait_for_selector("[data-testid=empty]")

    asking = pages()
    asking.goto(server.url)
    asking.click("[data-testid=forgot-link]")
    asking.fill("#f-user_name", EMAIL)
    asking.click("#forgot-form button[type=submit]")
    asking.wait_for_selector("[data-testid=forgot-status] >> text=reset link")

    def link():
        for recipients, mail in smtp.mails():
            if recipients == [EMAIL]:
                return LINK.search(mail.get_body(("plain",)).get_content())
        return None

    url = eventually_sync(link).group(0)
    assert url.startswith(server.url.rstrip("/") + "/#/reset?token=")

    fresh = pages()  # no session, no cookie
    fresh.goto(url)
    fresh.fill("#f-password", NEW)
    fresh.click("#reset-form button[type=submit]")
    fresh.wait_for_selector("[data-testid=reset-status] >> text=password reset")

    # Used: a clear text, and a way to ask again.
    used = pages()
    used.goto(url)
    used.fill("#f-password", "one more new secret")
    used.click("#reset-form button[type=submit]")
    used.wait_for_selector("text=this reset link is invalid or has expired")
    assert used.is_visible("text=Ask for a new link")

    # The other browser's session is gone: its next view asks to sign in.
    signed_in.reload()
    signed_in.wait_for_selector("#auth-form")

    sign_in(fresh, server.url, "alice", OLD)
    fresh.wait_for_selector("text=wrong user name or password")
    sign_in(fresh, server.url, "alice", NEW)
    fresh.wait_for_selector("[data-testid=empty]")


def test_my_data_downloads_and_the_account_is_deleted(server, pages):  # noqa: F811
    server.register("carol")
    page = pages()
    sign_in(page, server.url, "carol", OLD)
    page.wait_for_selector("[data-testid=empty]")
    page.click("text=Notifications")
    with page.expect_download() as download:
        page.click("[data-testid=download-data]")
    saved = download.value
    assert saved.suggested_filename.endswith(".json")
    assert '"user_name": "carol"' in Path(saved.path()).read_text(encoding="utf-8")

    page.fill("#delete-account-form [name=password]", OLD)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#delete-account-form button[type=submit]")
    page.wait_for_selector("#auth-form")
    sign_in(page, server.url, "carol", OLD)
    page.wait_for_selector("text=wrong user name or password")
