"""The web console in a real browser: Debian's Chromium driven by Playwright.

Skipped, with how to fix it, where Chromium is missing. Screenshots of every open
page are saved when a test fails."""

import contextlib
import shutil

import pytest

from tests.live import LiveServer, run_cli

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="browser tests need Debian's Chromium: apt-get install chromium"
)
# Chromium as root, offline: no sandbox, no background calls to the network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
MERCHANT = ("merchant", "merchant pass 1")
FIELDS = [
    {"field_name": "size", "name": "Size", "type": "select", "required": True,
     "options": ["S", "M", "L"]},
    {"field_name": "budget", "name": "Budget", "type": "number"},
]  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = tmp_path_factory.mktemp("browser") / "browser.db"
    with LiveServer(db) as live:
        run_cli(
            "create-admin", "--db", str(db), "--username", MERCHANT[0], "--password", MERCHANT[1]
        )
        login = live.call("POST", "/api/login", {"user_name": MERCHANT[0], "password": MERCHANT[1]})
        live.call(
            "POST", "/api/admin/communication/fields", {"fields": FIELDS}, login["data"]["token"]
        )
        yield live


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def pages(browser, tmp_path, request):
    """New pages, each in its own browser context (its own cookies); screenshots of
    all of them when the test fails."""
    opened = []

    def open_page(locale: str = "en-US", width: int = 1100, height: int = 800):
        context = browser.new_context(locale=locale, viewport={"width": width, "height": height})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.errors = errors
        opened.append(page)
        return page

    yield open_page
    failed = getattr(request.node, "failed", False)
    for n, page in enumerate(opened):
        if failed:
            with contextlib.suppress(Exception):
                path = tmp_path / f"failure-{n}.png"
                page.screenshot(path=str(path), full_page=True)
                print(f"screenshot: {path}")
        assert not page.errors, page.errors  # no uncaught script error on any page


def sign_up(page, url: str, name: str) -> None:
    page.goto(url)
    page.click("text=Sign up")
    page.fill("#f-user_name", name)
    page.fill("#f-password", "correct horse battery")
    page.click("#auth-form button[type=submit]")
    page.wait_for_selector("[data-testid=empty]")


def sign_in(page, url: str, name: str, password: str) -> None:
    page.goto(url)
    page.fill("#f-user_name", name)
    page.fill("#f-password", password)
    page.click("#auth-form button[type=submit]")


def status_of(page) -> str:
    return page.get_attribute("h1 [data-status]", "data-status")


def test_the_whole_negotiation_on_screen(server, pages):
    customer = pages()
    sign_up(customer, server.url, "alice")
    assert "No orders yet." in customer.text_content("[data-testid=empty]")

    # A new request, its form built from the field definitions; errors by the control.
    customer.click("text=New request")
    customer.wait_for_selector("#new-order")
    customer.fill("#f-title", "A blue theme")
    customer.fill("#f-content", "Responsive and bilingual")
    customer.fill("#f-phone", "+1 555 0100")
    customer.click("#new-order button[type=submit]")
    error = customer.wait_for_selector(".error")
    assert error.text_content() == "order_extra.size is required"
    assert customer.evaluate("document.activeElement.name") == "order_extra.size"
    customer.select_option("select[name='order_extra.size']", "M")
    customer.fill("input[name='order_extra.budget']", "5000")
    customer.click("#new-order button[type=submit]")
    customer.wait_for_selector("[data-testid=title]")
    assert customer.text_content("[data-testid=title]") == "A blue theme"
    assert status_of(customer) == "0"
    order_url = customer.url

    # The edit form calls the seed's update.
    customer.click("#edit")
    customer.fill("#edit-form [name=title]", "A blue and gold theme")
    customer.click("#edit-form button[type=submit]")
    customer.wait_for_selector("text=Order updated.")
    assert customer.text_content("[data-testid=title]") == "A blue and gold theme"

    # The merchant finds it in the inbox and quotes.
    merchant = pages()
    sign_in(merchant, server.url, *MERCHANT)
    merchant.wait_for_selector("[data-testid=orders]")
    merchant.click("text=A blue and gold theme")
    merchant.fill("#f-quote_price", "12000")
    merchant.fill("#f-quote_content", "Two weeks, two revisions")
    merchant.click("#quote-form button[type=submit]")
    merchant.wait_for_selector("h1 [data-status='2']")

    # Changing the requirements of a quoted order sends it back for review.
    customer.goto(order_url)
    customer.wait_for_selector("h1 [data-status='2']")
    customer.click("#edit")
    customer.select_option("#edit-form select[name='order_extra.size']", "L")
    customer.click("#edit-form button[type=submit]")
    customer.wait_for_selector(".notice")
    assert "quote needs review" in customer.text_content(".notice")
    assert status_of(customer) == "1"
    assert customer.query_selector("text=Accept quote") is None

    # A new quote, accepted; the order is final and says so.
    merchant.reload()
    merchant.fill("#f-quote_price", "15000")
    merchant.fill("#f-quote_content", "Gold costs more")
    merchant.click("#quote-form button[type=submit]")
    merchant.wait_for_selector("h1 [data-status='2']")
    customer.wait_for_selector("text=Accept quote", timeout=10_000)  # the page polls
    customer.click("text=Accept quote")
    customer.wait_for_selector("h1 [data-status='3']")
    assert customer.query_selector("#edit") is None
    assert customer.query_selector("text=Cancel order") is None
    assert "15000.00" in customer.text_content("[data-testid=facts]")
    thread = customer.text_content("[data-testid=thread]")
    assert "quote accepted" in thread and "order updated: title" in thread


def test_chinese_follows_the_browser_and_errors_come_from_the_server(server, pages):
    page = pages(locale="zh-CN")
    page.goto(server.url)
    assert page.text_content("#auth-form button[type=submit]") == "登录"
    page.fill("#f-user_name", "nobody")
    page.fill("#f-password", "wrong password")
    page.click("#auth-form button[type=submit]")
    assert page.wait_for_selector(".error").text_content() == "用户名或密码错误"


def test_usable_on_a_phone_screen(server, pages):
    page = pages(width=375, height=700)
    sign_up(page, server.url, "bob")
    page.click("text=New request")
    page.wait_for_selector("#new-order")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_docs_render_every_operation_under_their_policy(server, pages):
    """/docs forbids inline script: Swagger UI must still start from its served files."""
    from orderdesk import openapi

    page = pages()
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e =>"
        " console.error('Content Security Policy violation: ' + e.violatedDirective))"
    )
    response = page.goto(server.url + "/docs")
    assert "script-src" not in response.headers["content-security-policy"]
    page.wait_for_selector(".opblock")
    page.wait_for_function(
        f"document.querySelectorAll('.opblock').length === {len(openapi.OPERATIONS)}"
    )
    assert page.locator(".opblock-summary-path").first.text_content().startswith("/api/")
    assert violations == []
