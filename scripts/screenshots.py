"""Take the README's screenshots of the web console: a customer's order page, the
merchant's inbox and the merchant's order page, at desktop and phone width, and a
customer's purchase order, on a throw-away database. Needs Debian's chromium.

    .venv/bin/python scripts/screenshots.py
"""

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.live import LiveServer, run_cli  # noqa: E402
from tests.test_browser import CHROMIUM_ARGS  # noqa: E402

OUT = ROOT / "docs"
ORDER = {"archive_id": 1, "phone": "+86 138 0000 0000"}


def main() -> None:
    with tempfile.TemporaryDirectory() as work, LiveServer(Path(work) / "shots.db") as server:
        db = str(Path(work) / "shots.db")
        run_cli("create-admin", "--db", db, "--username", "merchant", "--password", "merchant pass")
        admin = server.call(
            "POST", "/api/login", {"user_name": "merchant", "password": "merchant pass"}
        )
        admin = admin["data"]["token"]
        fields = [{"field_name": "budget", "name": "Budget", "type": "number"},
                  {"field_name": "delivery_time", "name": "Delivery", "type": "date"}]  # fmt: skip
        server.call("POST", "/api/admin/communication/fields", {"fields": fields}, admin)
        alice = server.register("alice")
        orders = []
        for title, content in [
            ("Responsive theme for a tea shop", "Bilingual storefront with online payment"),
            ("Logo redesign", "A cleaner mark that works in one colour"),
            ("Product photos, 20 items", "White background, two angles each"),
        ]:
            body = {**ORDER, "title": title, "content": content,
                    "order_extra": {"budget": 12000, "delivery_time": "2027-01-31"}}  # fmt: skip
            orders.append(server.call("POST", "/api/communication/order/create", body, alice))
        first = orders[0]["data"]["id"]
        for path, text, token in [
            ("/api/admin/communication/message/send", "Which payment providers?", admin),
            ("/api/communication/message/send", "Alipay and Stripe, please.", alice),
        ]:
            message = {"comm_order_id": first, "message_type": "text", "content": text}
            server.call("POST", path, message, token)
        quote = {"id": first, "quote_price": "12000", "quote_content": "Three weeks, two rounds"}
        server.call("POST", "/api/admin/communication/order/quote", quote, admin)
        # The desk: a staff member who has the second order, a saved reply.
        sam = server.call("POST", "/api/register", {"user_name": "sam", "password": "staff pass 1"})
        server.call(
            "POST", "/api/admin/users/update", {"id": sam["data"]["id"], "role": "staff"}, admin
        )
        second = orders[1]["data"]["id"]
        assign = {"id": second, "assignee_id": sam["data"]["id"]}
        server.call("POST", "/api/admin/communication/order/assign", assign, admin)
        reply = {"title": "Thanks", "content": "Thank you! We will send a quote within a day."}
        server.call("POST", "/api/admin/replies", reply, admin)
        message = {"comm_order_id": second, "message_type": "text", "content": "Any news?"}
        server.call("POST", "/api/communication/message/send", message, alice)
        # The third: accepted, paid and shipped, awaiting the customer's receipt.
        third = orders[2]["data"]["id"]
        quote = {"id": third, "quote_price": "4800.50", "quote_content": "Within a week"}
        server.call("POST", "/api/admin/communication/order/quote", quote, admin)
        server.call("POST", "/api/communication/order/accept", {"id": third}, alice)
        purchase = server.call("GET", f"/api/orders?comm_order_id={third}", token=alice)
        number = purchase["data"][0]["order_id"]
        paid = {"order_id": number, "payment_reference": "BANK-20261202-7781"}
        server.call("POST", "/api/admin/order/paid", paid, admin)
        shipped = {
            "order_id": number,
            "express_company": "SF Express",
            "tracking_number": "SF1402 8873 21",
        }
        server.call("POST", "/api/admin/order/deliver", shipped, admin)

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS
            )
            desktop, phone = {"width": 1000, "height": 760}, {"width": 390, "height": 844}
            alice_login, merchant_login = (
                ("alice", "correct horse battery"),
                ("merchant", "merchant pass"),
            )
            # `part`: the element shot alone (None: the page as it opens).
            for (user, password), path, shot, viewport, part in [
                (alice_login, f"#/order/{first}", "customer-order.png", desktop, None),
                (alice_login, f"#/order/{first}", "customer-order-phone.png", phone, None),
                (merchant_login, "#/admin", "merchant-inbox.png", desktop, None),
                (merchant_login, "#/admin", "merchant-inbox-phone.png", phone, None),
                (merchant_login, f"#/admin/order/{first}", "merchant-order.png", desktop, None),
                (alice_login, f"#/order/{third}", "customer-purchase.png", desktop,
                 "[data-testid=purchase]"),
            ]:  # fmt: skip
                page = browser.new_context(viewport=viewport).new_page()
                page.goto(server.url)
                page.fill("#f-user_name", user)
                page.fill("#f-password", password)
                page.click("#auth-form button[type=submit]")
                page.wait_for_selector("#sign-out")  # signed in
                page.goto(f"{server.url}/{path}")
                page.wait_for_selector("[data-testid=orders], [data-testid=title]")
                page.wait_for_load_state("networkidle")
                page.evaluate("window.scrollTo(0, 0)")
                (page.locator(part) if part else page).screenshot(path=str(OUT / shot))
                print(OUT / shot)
            browser.close()


if __name__ == "__main__":
    main()
