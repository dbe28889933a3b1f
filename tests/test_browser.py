"""The web console in a real browser: Debian's Chromium driven by Playwright.

Skipped, with how to fix it, where Chromium is missing. Screenshots of every open
page are saved when a test fails."""

import contextlib
import http.client
import json
import shutil
import sqlite3
from urllib.parse import urlsplit

import pytest

from tests.live import LiveServer, run_cli
from tests.test_image_urls import ACCEPTED, ATTACK, REFUSED, refusal

CHROMIUM = shutil.which("chromium")
# Shared with the other browser modules, which import it. Slow: a real browser.
pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None, reason="browser tests need Debian's Chromium: apt-get install chromium"
    ),
    pytest.mark.slow,
]
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
# The console's pages are served with this policy: no inline script or style,
# images from this server or the web. A page that needs more fails the tests.
POLICY = (
    "default-src 'self'; img-src 'self' http: https:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
# Reports each Content-Security-Policy violation to the test (runs before any page script).
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) =>
  window.reportViolation(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`));
"""
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
        live.sends_policy = "Content-Security-Policy" in page_headers(live)
        yield live


def page_headers(live: LiveServer) -> dict[str, str]:
    connection = http.client.HTTPConnection("127.0.0.1", live.port, timeout=30)
    try:
        connection.request("GET", "/")
        return dict(connection.getresponse().getheaders())
    finally:
        connection.close()


def with_policy(route) -> None:
    """The console page as the server sends it, plus the policy (for a server that
    does not send one itself yet)."""
    response = route.fetch()
    route.fulfill(
        response=response, headers={**response.headers, "content-security-policy": POLICY}
    )


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
def pages(browser, server, tmp_path, request):
    """New pages, each in its own browser context (its own cookies), under the
    console's Content-Security-Policy; screenshots of all of them when the test fails.
    No page may raise an uncaught error or violate the policy."""
    opened = []

    def open_page(locale: str = "en-US", width: int = 1100, height: int = 800):
        context = browser.new_context(locale=locale, viewport={"width": width, "height": height})
        if not server.sends_policy:
            context.route(lambda url: urlsplit(url).path == "/", with_policy)
        page = context.new_page()
        page.errors, page.violations = [], []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.on(
            "console",
            lambda message: (
                "Content Security Policy" in message.text and page.violations.append(message.text)
            ),
        )
        page.expose_function("reportViolation", lambda text: page.violations.append(text))
        page.add_init_script(REPORT_VIOLATIONS)
        opened.append(page)
        return page

    yield open_page
    failed = getattr(request.node, "failed", False)
    for n, page in enumerate(opened):
        with contextlib.suppress(Exception):
            page.evaluate("0")  # a round trip, so that reports still on their way arrive
        if failed:
            with contextlib.suppress(Exception):
                path = tmp_path / f"failure-{n}.png"
                page.screenshot(path=str(path), full_page=True)
                print(f"screenshot: {path}")
        assert not page.errors, page.errors  # no uncaught script error on any page
        assert not page.violations, page.violations


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
    assert error.text_content() == "Size is required"  # the field's label, not its key
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
    customer.wait_for_selector("text=Accept quote", timeout=10_000)  # the page listens
    # Accepting is final: it asks first, and a "no" changes nothing.
    asked = []
    customer.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    customer.click("text=Accept quote")
    customer.wait_for_timeout(500)
    assert asked == ["Accept this quote? The order becomes final."]
    assert status_of(customer) == "2"
    customer.once("dialog", lambda dialog: dialog.accept())
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


def test_the_console_runs_under_the_policy_and_a_breach_is_reported(server, pages):
    page = pages()
    response = page.goto(server.url)
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy
    page.wait_for_selector("#auth-form")
    # What a later inline script or style in the console would do: refused, and seen.
    with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
        page.evaluate(
            """() => {
              const script = document.createElement("script");
              script.textContent = "window.inlineRan = true";
              document.body.append(script);
            }"""
        )
    with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
        page.evaluate("document.body.setAttribute('style', 'color: red')")
    assert page.evaluate("window.inlineRan") is None
    assert page.evaluate("getComputedStyle(document.body).color") != "rgb(255, 0, 0)"
    reported = " ".join(page.violations)
    assert "script-src" in reported and "style-src" in reported, page.violations
    page.context.close()  # this page broke the policy on purpose: no more reports
    page.violations.clear()


def test_the_attack_of_issue_11_is_refused_where_the_customer_types_it(server, pages):
    customer = pages()
    sign_up(customer, server.url, "eve")
    customer.click("text=New request")
    customer.wait_for_selector("#new-order")
    customer.fill("#f-title", "A logo")
    customer.fill("#f-content", "Round and red")
    customer.fill("#f-phone", "12345")
    customer.select_option("select[name='order_extra.size']", "S")
    customer.fill("#f-images", ATTACK)
    customer.click("#new-order button[type=submit]")
    # The text names the field as the form labels it, without its hint.
    assert customer.wait_for_selector(".error").text_content() == refusal("Reference images")
    assert customer.evaluate("document.activeElement.name") == "images"
    assert customer.evaluate(FETCH_JSON, "/api/communication/orders")["total"] == 0

    # Stored through the update endpoint instead: refused the same way.
    customer.fill("#f-images", "")
    customer.click("#new-order button[type=submit]")
    customer.wait_for_selector("[data-testid=title]")
    order_id = int(customer.url.rsplit("/", 1)[1])
    answer = customer.evaluate(
        POST_JSON, ["/api/communication/order/update", {"id": order_id, "images": [ATTACK]}]
    )
    assert answer == {"code": -1, "msg": refusal("images")}
    shown = customer.evaluate(FETCH_JSON, f"/api/communication/order/detail?id={order_id}")
    assert shown["data"]["images"] == [] and shown["data"]["version"] == 1


def test_the_merchant_sets_images_by_the_same_rule(server, pages):
    token = server.register("trent")
    order = {"archive_id": 1, "title": "Sketch me", "content": "c", "phone": "12345",
             "order_extra": {"size": "M"}}  # fmt: skip
    order_id = server.call("POST", "/api/communication/order/create", order, token)["data"]["id"]
    merchant = pages()
    sign_in(merchant, server.url, *MERCHANT)
    merchant.wait_for_selector("[data-testid=orders]")
    merchant.goto(f"{server.url}/#/admin/order/{order_id}")
    merchant.fill("#f-sketch_images", ATTACK)
    merchant.click("#images-form button[type=submit]")
    assert merchant.wait_for_selector(".error").text_content() == refusal("Sketches")
    assert merchant.evaluate("document.activeElement.name") == "sketch_images"
    stored = merchant.evaluate(FETCH_JSON, f"/api/admin/communication/order/detail?id={order_id}")
    assert stored["data"]["sketch_images"] == [] and stored["data"]["version"] == 1

    image = f"{server.url}/static/favicon.svg"
    merchant.fill("#f-sketch_images", "")
    merchant.fill("#f-finished_images", f"  {image}\n\n{UPLOAD}")
    merchant.click("#images-form button[type=submit]")
    merchant.wait_for_selector(f"[data-testid=finished-images] a[href='{image}'] img")
    assert merchant.query_selector(f"[data-testid=finished-images] a[href='{UPLOAD}']")
    assert "images updated: finished_images" in merchant.text_content("[data-testid=thread]")


FETCH_JSON = "(path) => fetch(path).then((r) => r.json())"
POST_JSON = """([path, body]) => fetch(path, {
  method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
}).then((r) => r.json())"""

# Each payload, if it ever ran, would set a global, request a marker path and open a dialog.
RUN = "window.xssRan = 1; fetch('/xss-marker'); alert('xss')"
HOSTILE_TEXTS = [
    f'<img src=x onerror="{RUN}">',
    f'"><script>{RUN}</script>',
    f'\'><svg onload="{RUN}"></svg>',
    f"javascript:{RUN}",
    f'<a href="javascript:{RUN}">click</a>',
]
HOSTILE_URLS = [
    f"javascript:{RUN}",
    f"JaVaScRiPt:{RUN}",
    f"java\tscript:{RUN}",
    f" javascript:{RUN}",
    f"\x01javascript:{RUN}",
    f"data:text/html,<script>{RUN}</script>",
    "//evil.test/x.png",
    "x.png",
    f'https://x.test/"><img src=x onerror="{RUN}">',
    f"vbscript:{RUN}",
]
UPLOAD = "/uploads/3q2-7wEjXDS0_ZWVkfJ0Rg.png"
UPLOAD_THUMB = "/uploads/thumb/3q2-7wEjXDS0_ZWVkfJ0Rg.png"  # an upload shows its thumbnail
LINKS_AND_SOURCES = """() => [...document.querySelectorAll("[href], [src]")]
  .map((el) => el.getAttribute("href") ?? el.getAttribute("src"))"""
HANDLER_ATTRIBUTES = """() => [...document.querySelectorAll("*")]
  .flatMap((el) => [...el.attributes].map((a) => a.name)).filter((n) => n.startsWith("on"))"""


def write_past_the_api(db: str, order_id: int, customer_id: int, safe: list[str]) -> None:
    """What an attacker who got past older validation left in the database."""
    first, second, third, fourth, fifth = HOSTILE_TEXTS
    extra = {"size": first, "budget": second, third[:60]: fourth, fifth[:60]: {"n": [first]}}
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE comm_orders SET title = ?, content = ?, phone = ?, event_date = ?,"
            " quote_content = ?, images = ?, sketch_images = ?, finished_images = ?,"
            " order_extra = ? WHERE id = ?",
            (first, second, third, fourth, fifth, json.dumps([safe[0], *HOSTILE_URLS]),
             json.dumps([*HOSTILE_URLS, safe[1]]), json.dumps(HOSTILE_URLS),
             json.dumps(extra), order_id),
        )  # fmt: skip
        conn.execute("UPDATE users SET user_name = ? WHERE id = ?", (first, customer_id))
        messages = [
            (order_id, customer_id, "user", HOSTILE_TEXTS[n % len(HOSTILE_TEXTS)], kind, content)
            for kind in ("text", "image", "file")
            for n, content in enumerate(HOSTILE_TEXTS + HOSTILE_URLS)
        ]
        conn.executemany(
            "INSERT INTO messages (comm_order_id, sender_id, sender_type, sender_name,"
            " message_type, content, created_time) VALUES (?, ?, ?, ?, ?, ?, 1700000000)",
            messages,
        )
        conn.execute(  # the thread's size, as the store keeps it
            "UPDATE comm_orders SET message_count = message_count + ? WHERE id = ?",
            (len(messages), order_id),
        )


def assert_nothing_ran_and_nothing_links(page, safe: list[str]) -> None:
    page.wait_for_load_state("networkidle")  # images tried, handlers (if any) fired
    assert page.evaluate("window.xssRan") is None
    references = page.evaluate(LINKS_AND_SOURCES)
    allowed = [*safe, UPLOAD_THUMB]
    assert all(r.startswith(("#/", "/static/")) or r in allowed for r in references), references
    assert page.evaluate(HANDLER_ATTRIBUTES) == []
    assert page.evaluate("document.scripts.length") == 1


def test_a_crafted_order_runs_no_script_in_either_console(server, pages):
    signed_up = server.call(
        "POST", "/api/register", {"user_name": "mallory", "password": "correct horse battery"}
    )
    token, customer_id = signed_up["data"]["token"], signed_up["data"]["id"]
    order = {
        "archive_id": 1,
        "title": "t",
        "content": "c",
        "phone": "12345",
        "order_extra": {"size": "S"},
    }
    order_id = server.call("POST", "/api/communication/order/create", order, token)["data"]["id"]
    safe = [f"{server.url}/static/favicon.svg", UPLOAD]
    customer, merchant = pages(), pages()
    requests, dialogs = [], []
    for page in (customer, merchant):
        page.on("request", lambda r: requests.append(r.url))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(customer, server.url, "mallory", "correct horse battery")
    customer.wait_for_selector("[data-testid=orders]")
    write_past_the_api(str(server.db), order_id, customer_id, safe)  # renames mallory too

    sign_in(merchant, server.url, *MERCHANT)
    merchant.wait_for_selector("[data-testid=orders]")
    assert HOSTILE_TEXTS[0] in merchant.text_content("[data-testid=orders]")
    assert_nothing_ran_and_nothing_links(merchant, safe)

    merchant.goto(f"{server.url}/#/admin/order/{order_id}")
    merchant.wait_for_selector("[data-testid=title]")
    assert merchant.text_content("[data-testid=title]") == HOSTILE_TEXTS[0]
    assert merchant.text_content("[data-testid=content]") == HOSTILE_TEXTS[1]
    # Every hostile URL is plain text: in the three image lists, then in the thread's
    # image and file messages.
    unsafe = merchant.query_selector_all("[data-testid=unsafe-url]")
    shown = [u.text_content() for u in unsafe]
    assert shown == HOSTILE_URLS * 3 + (HOSTILE_TEXTS + HOSTILE_URLS) * 2
    # The merchant clicks what looked like a link (found again: a live event may have
    # drawn the page anew since).
    merchant.locator("[data-testid=unsafe-url]").first.click()
    for url in safe:  # the safe ones are links that open apart, showing the image
        link = merchant.query_selector(f"a[href='{url}']")
        assert link.get_attribute("rel") == "noopener noreferrer"
        assert link.get_attribute("target") == "_blank"
        preview = UPLOAD_THUMB if url == UPLOAD else url
        assert link.query_selector(f"img[src='{preview}']") is not None
    assert_nothing_ran_and_nothing_links(merchant, safe)

    customer.reload()
    customer.wait_for_selector(f"[data-testid=orders] >> text=#{order_id}")
    assert_nothing_ran_and_nothing_links(customer, safe)
    customer.goto(f"{server.url}/#/order/{order_id}")
    customer.wait_for_selector("[data-testid=title]")
    assert HOSTILE_TEXTS[1] in customer.text_content("[data-testid=thread]")
    assert_nothing_ran_and_nothing_links(customer, safe)

    assert not [url for url in requests if "xss-marker" in url]
    assert dialogs == []


def test_the_page_checks_urls_by_the_servers_rule(server, pages):
    page = pages()
    page.goto(server.url)
    page.wait_for_selector("#auth-form")
    checked = page.evaluate(
        """async (urls) => {
          const { safeUrl } = await import("/static/app.js");  // the loaded module itself
          return urls.map((url) => safeUrl(url.trim()) !== null);
        }""",
        REFUSED + ACCEPTED,
    )
    assert dict(zip(REFUSED + ACCEPTED, checked, strict=True)) == {
        **dict.fromkeys(REFUSED, False),
        **dict.fromkeys(ACCEPTED, True),
    }


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


# ---------------------------------------------------------------- live events

LIVE_MS = 3000  # an event shows within this (1 s; the console used to poll every 4 s)


def api_token(server, name: str, password: str = "correct horse battery") -> str:
    return server.call("POST", "/api/login", {"user_name": name, "password": password})["data"][
        "token"
    ]


def test_the_merchants_reply_appears_on_the_open_pages_without_a_reload(server, pages):
    customer = pages()
    sign_up(customer, server.url, "carol")
    merchant = pages()
    sign_in(merchant, server.url, *MERCHANT)
    merchant.wait_for_selector("#inbox-filters")

    # A new order shows in the merchant's open inbox.
    token = api_token(server, "carol")
    order = {"archive_id": 1, "title": "A live theme", "content": "c", "phone": "12345",
             "order_extra": {"size": "S"}}  # fmt: skip
    order_id = server.call("POST", "/api/communication/order/create", order, token)["data"]["id"]
    merchant.wait_for_selector("text=A live theme", timeout=LIVE_MS)

    customer.goto(f"{server.url}/#/order/{order_id}")
    customer.wait_for_selector("[data-testid=title]")
    admin = api_token(server, MERCHANT[0], MERCHANT[1])
    reply = {"comm_order_id": order_id, "message_type": "text", "content": "Happy to help"}
    server.call("POST", "/api/admin/communication/message/send", reply, admin)
    customer.wait_for_selector("[data-testid=thread] >> text=Happy to help", timeout=LIVE_MS)
    customer.wait_for_selector("h1 [data-status='1']", timeout=LIVE_MS)  # the order moved too
    quote = {"id": order_id, "quote_price": "900", "quote_content": "A week"}
    server.call("POST", "/api/admin/communication/order/quote", quote, admin)
    customer.wait_for_selector("text=Accept quote", timeout=LIVE_MS)
    assert "900.00" in customer.text_content("[data-testid=facts]")


def test_a_stale_edit_form_reports_the_conflict(server, pages):
    customer = pages()
    sign_up(customer, server.url, "dave")
    token = api_token(server, "dave")
    order = {"archive_id": 1, "title": "First title", "content": "c", "phone": "12345",
             "order_extra": {"size": "S"}}  # fmt: skip
    order_id = server.call("POST", "/api/communication/order/create", order, token)["data"]["id"]
    customer.goto(f"{server.url}/#/order/{order_id}")
    customer.wait_for_selector("[data-testid=title]")
    customer.click("#edit")

    # Meanwhile the order changes elsewhere (another tab): the page shows it live, the
    # open form keeps what it was opened with.
    update = {"id": order_id, "title": "Changed elsewhere"}
    server.call("POST", "/api/communication/order/update", update, token)
    customer.wait_for_selector("[data-testid=title] >> text=Changed elsewhere", timeout=LIVE_MS)
    assert customer.input_value("#edit-form [name=title]") == "First title"

    customer.fill("#edit-form [name=content]", "My late change")
    customer.click("#edit-form button[type=submit]")
    error = customer.wait_for_selector("#edit-form .error")
    assert error.text_content() == "version conflict: the order was changed by someone else"
    shown = server.call("GET", f"/api/communication/order/detail?id={order_id}", token=token)
    assert (shown["data"]["title"], shown["data"]["content"]) == ("Changed elsewhere", "c")
