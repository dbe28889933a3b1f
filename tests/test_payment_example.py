"""docs/payment_callback.py, the README's worked example, run as it is: a real
subprocess receiving a real server's webhooks and calling back with an API key, on
both engines. Its callback comes three times; the order is paid once."""

import asyncio
import base64
import http.client
import json
import os
import secrets
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from tests.conftest import ORDER, query_rows
from tests.live import ROOT, LiveServer, free_port
from tests.receivers import eventually_sync
from tests.test_webhooks_live import FLAGS, admin_token, database, deliveries, make_admin

pytestmark = pytest.mark.slow  # a server process and the script's

SCRIPT = ROOT / "docs" / "payment_callback.py"


def printed(output: Path) -> list[dict]:
    """The script's answers so far: its lines of JSON."""
    lines = output.read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def forged_webhook(port: int) -> int:
    """The HTTP status the script answers a purchase order awaiting payment signed with
    another secret than the webhook's (it must pay nothing for it)."""
    event = {"type": "purchase_order.updated", "data": {"order_id": "1" * 18, "status": 0}}
    body = json.dumps(event)
    now = datetime.now(UTC)
    other_secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    headers = {
        "webhook-id": "msg_forged",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(other_secret).sign("msg_forged", now, body),
    }
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", "/", body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_the_callback_script_pays_an_accepted_quote_once(tmp_path, engine):
    with database(engine, tmp_path) as db:
        make_admin(db)
        with LiveServer(db, *FLAGS, log=tmp_path / "server.log") as server:
            admin = admin_token(server)
            made = server.call(
                "POST", "/api/admin/api-keys", {"name": "payments", "role": "staff"}, token=admin
            )
            port = free_port()
            hook = server.call(
                "POST",
                "/api/admin/webhooks",
                {"url": f"http://127.0.0.1:{port}/", "events": ["purchase_order.updated"]},
                token=admin,
            )["data"]
            settings = {
                "ORDERDESK_URL": server.url,
                "ORDERDESK_API_KEY": made["data"]["key"],
                "WEBHOOK_SECRET": hook["secret"],
                "PORT": str(port),
            }
            output = tmp_path / "callback.log"
            with output.open("wb") as log:
                script = subprocess.Popen(
                    [sys.executable, str(SCRIPT)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, **settings},
                )
            try:
                eventually_sync(lambda: "receiving" in output.read_text())
                assert forged_webhook(port) == 401
                customer = server.register("alice")
                comm_order = server.call(
                    "POST", "/api/communication/order/create", ORDER, token=customer
                )["data"]["id"]
                quoted = server.call(
                    "POST",
                    "/api/admin/communication/order/quote",
                    {"id": comm_order, "quote_price": "120.50", "quote_content": "One week"},
                    token=admin,
                )
                assert quoted["code"] == 0, quoted
                accept = {"id": comm_order}
                accepted = server.call(
                    "POST", "/api/communication/order/accept", accept, token=customer
                )
                assert accepted["code"] == 0, accepted
                answers = eventually_sync(lambda: len(printed(output)) == 3 and printed(output))
                # Made (0), then paid (1): both delivered, the second answered 204 too.
                eventually_sync(
                    lambda: (
                        [d["status"] for d in deliveries(server, admin, hook["id"])]
                        == ["delivered", "delivered"]
                    )
                )
            finally:
                script.terminate()
                script.wait(timeout=10)

            listed = server.call("GET", f"/api/orders?comm_order_id={comm_order}", token=customer)
            (purchase,) = listed["data"]
            number = purchase["order_id"]
            reference = f"psp-{number}"
            assert (
                answers
                == [
                    {
                        "code": 0,
                        "msg": "marked paid",
                        "order_id": number,
                        "pay_way": "card",
                        "payment_reference": reference,
                    }
                ]
                * 3
            )
            assert (purchase["status"], purchase["amount"]) == (1, 12050)
            assert (purchase["pay_way"], purchase["payment_reference"]) == ("card", reference)
            shown = server.call(
                "GET", f"/api/communication/order/detail?id={comm_order}", token=customer
            )
            about_payment = [
                m["content"]
                for m in shown["data"]["messages"]
                if m["sender_type"] == "system" and "paid" in m["content"]
            ]
            assert about_payment == [f"purchase order {number} paid: card, reference {reference}"]
            events = asyncio.run(
                query_rows(
                    db, "SELECT data FROM events WHERE type = 'purchase_order.updated' ORDER BY id"
                )
            )
            assert [json.loads(data)["status"] for (data,) in events] == [0, 1]
            server.assert_no_faults()
            server.stop()
