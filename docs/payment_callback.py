"""A payment provider's callback glue for orderdesk: a worked example.

It receives orderdesk's webhooks and checks their Standard Webhooks signature. For a
purchase order awaiting payment (`purchase_order.updated`, status 0) it takes the
payment (simulated: the provider's reference is made up as "psp-" + order_id) and
tells orderdesk with `POST /api/admin/order/paid`, authenticated by an API key.

A real provider retries its callback until it gets an answer, so the callback must be
safe to repeat: this one is sent three times (the original and two retries). orderdesk
marks the order paid once; all three answer code 0. Each answer is printed as a line
of JSON.

Run it with the project's virtualenv:

    ORDERDESK_URL=http://127.0.0.1:8001 ORDERDESK_API_KEY=odk_... \\
    WEBHOOK_SECRET=whsec_... PORT=8002 .venv/bin/python docs/payment_callback.py
"""

import asyncio
import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import Mapping

from aiohttp import ClientSession, web

ORDERDESK_URL = os.environ.get("ORDERDESK_URL", "http://127.0.0.1:8001")
API_KEY = os.environ["ORDERDESK_API_KEY"]
WEBHOOK_SECRET = os.environ["WEBHOOK_SECRET"]
PORT = int(os.environ.get("PORT", "8002"))

AWAITING_PAYMENT = 0
CALLBACKS = 3  # the provider's callback and two retries of it
TOLERANCE = 300  # seconds a webhook's timestamp may be off, against replays
PAYMENTS: set[asyncio.Task[None]] = set()  # in progress (held so none is collected)


def signed_by_orderdesk(headers: Mapping[str, str], body: bytes) -> bool:
    """Standard Webhooks 1.0: `webhook-signature` holds one or more "v1,<base64>", each
    an HMAC-SHA256 of "id.timestamp.body" keyed with the secret's base64 part."""
    message_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE:
        return False
    key = base64.b64decode(WEBHOOK_SECRET.removeprefix("whsec_"))
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256)
    expected = "v1," + base64.b64encode(digest.digest()).decode()
    sent = headers.get("webhook-signature", "").split()
    return any(hmac.compare_digest(expected, signature) for signature in sent)


async def take_payment(order_id: str) -> None:
    """Charge the customer (simulated), then report it to orderdesk, repeatedly."""
    reference = "psp-" + order_id
    callback = {"order_id": order_id, "pay_way": "card", "payment_reference": reference}
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with ClientSession() as session:
        for _ in range(CALLBACKS):
            url = f"{ORDERDESK_URL}/api/admin/order/paid"
            async with session.post(url, json=callback, headers=headers) as response:
                answer = await response.json()
            shown = {"code": answer["code"], "msg": answer["msg"], **callback}
            print(json.dumps(shown), flush=True)


async def webhook(request: web.Request) -> web.Response:
    body = await request.read()
    if not signed_by_orderdesk(request.headers, body):
        return web.Response(status=401)
    event = json.loads(body)
    order = event["data"]
    if event["type"] == "purchase_order.updated" and order["status"] == AWAITING_PAYMENT:
        # Answer the webhook at once; the payment runs on its own.
        payment = asyncio.create_task(take_payment(order["order_id"]))
        PAYMENTS.add(payment)
        payment.add_done_callback(PAYMENTS.discard)
    return web.Response(status=204)


def main() -> None:
    app = web.Application()
    app.router.add_post("/", webhook)
    # run_app calls `print` once it listens: the line then means webhooks can come.
    listening = f"receiving orderdesk's webhooks on http://127.0.0.1:{PORT}/"
    web.run_app(app, host="127.0.0.1", port=PORT, print=lambda _: print(listening, flush=True))


if __name__ == "__main__":
    main()
