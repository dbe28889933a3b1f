"""Webhooks, on both engines: the admin endpoints, Standard Webhooks signing
checked by the `standardwebhooks` library, the event filter, retries, redelivery, a
hanging receiver, and the SSRF rules. Receivers are real aiohttp servers on 127.0.0.1
(tests/receivers.py); the server runs with --webhook-allow-private for them, and
without it where the refusals are tested."""

import asyncio
import base64
import json
from dataclasses import replace

import aiohttp
import pytest
from orderdesk.app import create_app
from orderdesk.config import Config
from orderdesk.keys import OUTBOX, STORE
from orderdesk.store import events
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.conftest import (
    assert_fail,
    assert_ok,
    call,
    make_admin,
    make_order,
    query_rows,
    quote,
    register,
)
from tests.receivers import Receiver, eventually, only_loopback

HOOKS = "/api/admin/webhooks"


@pytest.fixture
def config(db, clock) -> Config:
    # A tiny retry base: each retry is due a moment after the failure, once the test
    # has moved the clock past it.
    return Config(
        db=db, session_ttl=3600, clock=clock, webhook_allow_private=True, webhook_retry_base=0.001
    )


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


async def add_hook(client, admin: str, url: str, **fields) -> dict:
    return assert_ok(await call(client, "POST", HOOKS, token=admin, json={"url": url, **fields}))


async def deliveries(client, admin: str, webhook_id: int) -> list[dict]:
    body = await call(
        client, "GET", f"{HOOKS}/deliveries", token=admin, params={"webhook_id": webhook_id}
    )
    return assert_ok(body)


def wake(client) -> None:
    client.server.app[OUTBOX].wake()


def verified(secret: str, receipt) -> dict:
    """The body, verified as any Standard Webhooks receiver verifies it."""
    return Webhook(secret).verify(receipt.body, receipt.headers)


async def test_admin_endpoints_manage_webhooks_and_show_the_secret_once(client):
    admin = await make_admin(client)
    created = await add_hook(client, admin, "http://127.0.0.1:9/hook", description="ERP")
    secret = created.pop("secret")
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) >= 24
    assert created["events"] == ["*"] and created["enabled"] is True
    assert set(created) == {"id", "url", "events", "description", "enabled", "created_time"}
    assert assert_ok(await call(client, "GET", HOOKS, token=admin)) == [created]

    changes = {"id": created["id"], "events": ["order.created"], "enabled": False}
    updated = assert_ok(await call(client, "POST", f"{HOOKS}/update", token=admin, json=changes))
    assert (updated["events"], updated["enabled"], updated["description"]) == (
        ["order.created"],
        False,
        "ERP",
    )
    rotated = assert_ok(
        await call(client, "POST", f"{HOOKS}/rotate", token=admin, json={"id": created["id"]})
    )
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != secret
    assert "secret" not in assert_ok(await call(client, "GET", HOOKS, token=admin))[0]

    gone = {"id": created["id"]}
    assert_ok(await call(client, "POST", f"{HOOKS}/delete", token=admin, json=gone))
    assert assert_ok(await call(client, "GET", HOOKS, token=admin)) == []
    for path in ("delete", "rotate", "update"):
        body = await call(client, "POST", f"{HOOKS}/{path}", token=admin, json=gone)
        assert_fail(body, msg="webhook not found")
    listing = await call(
        client, "GET", f"{HOOKS}/deliveries", token=admin, params={"webhook_id": 1}
    )
    assert_fail(listing, msg="webhook not found")
    missing = {"delivery_id": 99}
    assert_fail(
        await call(client, "POST", f"{HOOKS}/redeliver", token=admin, json=missing),
        msg="delivery not found",
    )

    customer, _ = await register(client)
    assert_fail(await call(client, "GET", HOOKS, token=customer), code=1002)
    assert_fail(await call(client, "POST", HOOKS, token=customer, json={}), code=1002)


@pytest.mark.parametrize(
    "events", [[], ["order.created", "order.created"], ["*", "order.created"], ["x"], "*", [1]]
)
async def test_events_must_be_known_types_or_the_star(client, events):
    admin = await make_admin(client)
    sent = {"url": "http://x.test/", "events": events}
    assert_fail(
        await call(client, "POST", HOOKS, token=admin, json=sent),
        msg="events must be a non-empty list of event types (order.created, order.updated, "
        'message.created, purchase_order.updated) or ["*"]',
    )


async def test_each_event_is_posted_signed_as_standard_webhooks(client, receiver):
    admin = await make_admin(client)
    hook = await add_hook(client, admin, receiver.url)
    token, _ = await register(client)
    order = await make_order(client, token)
    (receipt,) = await eventually(receiver.got)
    payload = verified(hook["secret"], receipt)
    assert payload["type"] == "order.created"
    assert payload["data"] == order
    assert payload["timestamp"].endswith("Z") and "T" in payload["timestamp"]
    assert receipt.headers["Content-Type"] == "application/json"
    with pytest.raises(WebhookVerificationError):  # another secret does not verify it
        Webhook("whsec_" + base64.b64encode(b"x" * 24).decode()).verify(
            receipt.body, receipt.headers
        )

    # After a rotation, new deliveries are signed with the new secret.
    rotated = assert_ok(
        await call(client, "POST", f"{HOOKS}/rotate", token=admin, json={"id": hook["id"]})
    )
    await quote(client, admin, order["id"])
    receipts = await eventually(lambda: len(receiver.got()) >= 3 and receiver.got())
    kinds = sorted(verified(rotated["secret"], r)["type"] for r in receipts[1:])
    assert kinds == ["message.created", "order.updated"]
    (delivered,) = [
        d for d in await deliveries(client, admin, hook["id"]) if d["event_type"] == "order.created"
    ]
    assert (delivered["status"], delivered["attempts"], delivered["http_status"]) == (
        "delivered",
        1,
        200,
    )


async def test_only_enabled_webhooks_whose_events_match_receive(client):
    admin = await make_admin(client)
    with Receiver() as orders, Receiver() as chat, Receiver() as disabled:
        await add_hook(client, admin, orders.url, events=["order.created"])
        await add_hook(client, admin, chat.url, events=["message.created", "order.updated"])
        off = await add_hook(client, admin, disabled.url)
        changes = {"id": off["id"], "enabled": False}
        assert_ok(await call(client, "POST", f"{HOOKS}/update", token=admin, json=changes))
        token, _ = await register(client)
        order = await make_order(client, token)
        message = {"comm_order_id": order["id"], "message_type": "text", "content": "Hi"}
        assert_ok(
            await call(client, "POST", "/api/communication/message/send", token=token, json=message)
        )
        await eventually(lambda: orders.got() and chat.got())
        assert [json.loads(r.body)["type"] for r in orders.got()] == ["order.created"]
        assert [json.loads(r.body)["type"] for r in chat.got()] == ["message.created"]
        assert await deliveries(client, admin, off["id"]) == []
        assert disabled.got() == []


async def test_a_failing_receiver_gets_retries_with_the_same_webhook_id_until_a_2xx(client, clock):
    admin = await make_admin(client)
    with Receiver(answer=lambda n: 200 if n == 3 else 500) as flaky:
        hook = await add_hook(client, admin, flaky.url)
        token, _ = await register(client)
        await make_order(client, token)
        for attempt in (1, 2):
            await eventually(lambda attempt=attempt: len(flaky.got()) == attempt)
            (pending,) = await eventually(
                lambda attempt=attempt: _with_attempts(client, admin, hook["id"], attempt)
            )
            assert (pending["status"], pending["http_status"], pending["error"]) == (
                "pending",
                500,
                "HTTP 500",
            )
            assert len(flaky.got()) == attempt  # not before the next attempt is due
            clock.advance(60)
            wake(client)
        receipts = await eventually(lambda: len(flaky.got()) == 3 and flaky.got())
        assert len({r.headers["webhook-id"] for r in receipts}) == 1
        assert len({verified(hook["secret"], r)["type"] for r in receipts}) == 1
        (done,) = await eventually(lambda: _with_attempts(client, admin, hook["id"], 3))
        assert (done["status"], done["http_status"], done["error"]) == ("delivered", 200, "")


async def _with_attempts(client, admin: str, webhook_id: int, attempts: int) -> list[dict]:
    found = await deliveries(client, admin, webhook_id)
    return found if found and found[0]["attempts"] == attempts else []


async def test_by_default_a_delivery_is_tried_at_least_6_times_over_24_hours(
    db, clock, server_log, aiohttp_client, caplog
):
    # Sessions outlive the 27 hours the clock is moved through.
    config = Config(db=db, session_ttl=10**6, clock=clock, webhook_allow_private=True)
    client = await aiohttp_client(create_app(config), cookie_jar=aiohttp.DummyCookieJar())
    admin = await make_admin(client)
    with Receiver(answer=lambda n: 503) as down:
        hook = await add_hook(client, admin, down.url)
        token, _ = await register(client)
        await make_order(client, token)
        start, tried = clock(), 0
        while True:
            tried += 1
            (delivery,) = await eventually(
                lambda tried=tried: _with_attempts(client, admin, hook["id"], tried)
            )
            assert len(down.got()) == tried
            if delivery["status"] == "failed":
                break
            assert delivery["next_attempt_time"] > clock()
            clock.advance(delivery["next_attempt_time"] - clock() + 1)
            wake(client)
        assert tried >= 6 and clock() - start >= 24 * 3600
        assert (delivery["http_status"], delivery["error"]) == (503, "HTTP 503")
    # Failures are logged, at most one line a minute (these all came within one).
    said = [r.getMessage() for r in caplog.records if "webhook delivery" in r.getMessage()]
    assert said == [
        f"webhook delivery {delivery['id']} (webhook {hook['id']}) failed (attempt 1): "
        "HTTP 503; it is tried again later"
    ], said


async def test_redeliver_sends_again_with_the_same_webhook_id(client, receiver):
    admin = await make_admin(client)
    hook = await add_hook(client, admin, receiver.url)
    token, _ = await register(client)
    await make_order(client, token)
    (first,) = await eventually(receiver.got)
    (delivery,) = await eventually(lambda: _with_attempts(client, admin, hook["id"], 1))
    again = await call(
        client, "POST", f"{HOOKS}/redeliver", token=admin, json={"delivery_id": delivery["id"]}
    )
    assert assert_ok(again)["status"] == "pending"
    receipts = await eventually(lambda: len(receiver.got()) == 2 and receiver.got())
    assert receipts[1].headers["webhook-id"] == first.headers["webhook-id"]
    assert verified(hook["secret"], receipts[1]) == verified(hook["secret"], first)


async def test_a_new_message_never_takes_an_earlier_ones_webhook_id(client, receiver):
    """Standard Webhooks: an id names one message (a receiver drops repeats). Deleting
    the webhook deletes its deliveries; the next delivery's id is still new."""
    admin = await make_admin(client)
    token, _ = await register(client)
    first_hook = await add_hook(client, admin, receiver.url)
    await make_order(client, token)
    (first,) = await eventually(receiver.got)
    await eventually(lambda: _with_attempts(client, admin, first_hook["id"], 1))
    gone = {"id": first_hook["id"]}
    assert_ok(await call(client, "POST", f"{HOOKS}/delete", token=admin, json=gone))
    await add_hook(client, admin, receiver.url)
    await make_order(client, token)
    receipts = await eventually(lambda: len(receiver.got()) == 2 and receiver.got())
    assert receipts[1].headers["webhook-id"] != first.headers["webhook-id"]


@pytest.fixture
def no_polling(monkeypatch):
    """The delivery worker looks at the outbox only when woken: its poll is a minute.
    Requested before `client`, so the worker's very first wait is that long too."""
    monkeypatch.setattr("orderdesk.notify.POLL_SECONDS", 60.0)


async def test_a_commit_with_deliveries_and_a_redelivery_wake_the_worker(
    no_polling, client, receiver
):
    admin = await make_admin(client)
    hook = await add_hook(client, admin, receiver.url)
    token, _ = await register(client)
    await make_order(client, token)
    (first,) = await eventually(receiver.got, timeout=5)
    (delivery,) = await eventually(lambda: _with_attempts(client, admin, hook["id"], 1))
    again = await call(
        client, "POST", f"{HOOKS}/redeliver", token=admin, json={"delivery_id": delivery["id"]}
    )
    assert assert_ok(again)["status"] == "pending"
    await eventually(lambda: len(receiver.got()) == 2, timeout=5)


@pytest.mark.slow  # waits out a hanging receiver
async def test_a_hanging_receiver_costs_one_attempt_not_the_queue(client):
    admin = await make_admin(client)
    with Receiver(answer=lambda n: None) as hanging, Receiver() as quick:
        stuck = await add_hook(client, admin, hanging.url)
        await add_hook(client, admin, quick.url)
        token, _ = await register(client)
        for n in range(3):
            await make_order(client, token, title=f"Order {n}")
        # Every event reaches the quick receiver while the other hangs on its first.
        await eventually(lambda: len(quick.got()) == 3, timeout=5)
        assert len(hanging.got()) >= 1
        # Requests are answered meanwhile.
        assert_ok(await call(client, "GET", HOOKS, token=admin))

        async def timed_out() -> list[dict]:
            found = await deliveries(client, admin, stuck["id"])
            return [d for d in found if d["error"] == "no answer within 10 s"]

        first = (await eventually(timed_out, timeout=30))[0]
        assert (first["status"], first["attempts"], first["http_status"]) == ("pending", 1, 0)


PRIVATE_URLS = [
    "http://127.0.0.1/hook",
    "http://127.1.2.3:8080/",
    "http://localhost:8080/hook",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://0.0.0.0/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://[::1]/",
    "http://[::]/",
    "http://[fe80::1]/",
    "http://[fd00::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:10.0.0.1]/",
    # Written in full-width letters and digits, which the HTTP client normalises.
    "http://１２７.０.０.１/hook",
    "http://ｌｏｃａｌｈｏｓｔ/",
    # IPv6 forms that embed a refused IPv4 address: 6to4, NAT64, Teredo.
    "http://[2002:7f00:1::1]/",
    "http://[2002:a00:1::]/",
    "http://[2002:a9fe:a9fe::1]/latest/meta-data/",
    "http://[64:ff9b::7f00:1]/",
    "http://[64:ff9b::a00:1]/",
    "http://[64:ff9b:1::a00:1]/",
    "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",  # Teredo, client 127.0.0.1
    "http://[2001:0:a00:1:8000:63bf:3fff:fdd2]/",  # Teredo, server 10.0.0.1
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
async def test_private_targets_are_refused_when_saved(db, clock, server_log, url, aiohttp_client):
    config = Config(db=db, session_ttl=3600, clock=clock)
    client = await aiohttp_client(create_app(config), cookie_jar=aiohttp.DummyCookieJar())
    admin = await make_admin(client)
    refusal = "url must not point to a loopback, private, link-local or other non-public address"
    assert_fail(await call(client, "POST", HOOKS, token=admin, json={"url": url}), msg=refusal)
    public = await add_hook(client, admin, "http://93.184.216.34/hook")
    changed = await call(
        client, "POST", f"{HOOKS}/update", token=admin, json={"id": public["id"], "url": url}
    )
    assert_fail(changed, msg=refusal)
    assert assert_ok(await call(client, "GET", HOOKS, token=admin))[0]["url"] == public["url"]


@pytest.mark.parametrize(
    "url",
    [
        "http://[2002:5db8:d822::1]/",  # 6to4 of 93.184.216.34
        "http://[64:ff9b::5db8:d822]/",  # NAT64 of it
        "http://[::ffff:93.184.216.34]/",
    ],
)
async def test_an_embedded_public_ipv4_address_is_taken(db, clock, server_log, url, aiohttp_client):
    config = Config(db=db, session_ttl=3600, clock=clock)
    client = await aiohttp_client(create_app(config), cookie_jar=aiohttp.DummyCookieJar())
    admin = await make_admin(client)
    await add_hook(client, admin, url)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "file:///etc/passwd", "http://user:pw@example.com/", "//x/"]
)
async def test_only_http_and_https_urls_are_taken(client, url):
    admin = await make_admin(client)
    body = await call(client, "POST", HOOKS, token=admin, json={"url": url})
    assert_fail(body, msg="url must be an http:// or https:// URL with a host")


async def test_private_targets_are_refused_again_when_delivered(
    db, config, server_log, receiver, aiohttp_client
):
    """Saved while private targets were allowed, refused once they are not: by name (the
    resolved address is checked before connecting) and as a literal address."""
    allowed = await aiohttp_client(create_app(config), cookie_jar=aiohttp.DummyCookieJar())
    admin = await make_admin(allowed)
    by_name = await add_hook(allowed, admin, receiver.url.replace("127.0.0.1", "localhost"))
    literal = await add_hook(allowed, admin, receiver.url)
    await allowed.close()

    strict = replace(config, webhook_allow_private=False)
    client = await aiohttp_client(create_app(strict), cookie_jar=aiohttp.DummyCookieJar())
    admin = await make_admin(client)
    token, _ = await register(client)
    await make_order(client, token)
    for hook, error in (
        (by_name, "refused: the host resolves to a non-public address"),
        (literal, "refused: the URL points to a non-public address"),
    ):
        (refused,) = await eventually(
            lambda hook=hook: _with_attempts(client, admin, hook["id"], 1)
        )
        assert (refused["status"], refused["http_status"], refused["error"]) == (
            "pending",
            0,
            error,
        )
    assert receiver.got() == []


async def test_finished_deliveries_are_pruned_after_30_days_pending_ones_stay(
    client, db, clock, receiver
):
    admin = await make_admin(client)
    hook = await add_hook(client, admin, receiver.url, events=["order.created"])
    token, _ = await register(client)
    await make_order(client, token)
    await eventually(receiver.got)
    (done,) = await deliveries(client, admin, hook["id"])
    # A pending delivery as old, due far in the future: the worker leaves it alone.
    await query_rows(
        db,
        "INSERT INTO deliveries (webhook_id, event_id, event_type, payload, created_time,"
        f" next_attempt_ms) VALUES ({hook['id']}, 1, 'order.created', '{{}}',"
        f" {int(clock.now)}, {2**62})",
    )
    store = client.server.app[STORE]
    clock.advance(29 * 86400)
    await store.write(events.prune)
    admin = await make_admin(client)  # the old session has expired meanwhile
    assert done["id"] in [d["id"] for d in await deliveries(client, admin, hook["id"])]
    clock.advance(2 * 86400)
    await store.write(events.prune)
    admin = await make_admin(client)
    left = await deliveries(client, admin, hook["id"])
    assert [d["status"] for d in left] == ["pending"]


async def test_a_target_saved_while_allowed_is_refused_on_the_address_connected_to(
    db, config, server_log, aiohttp_client
):
    """URLs saved under --webhook-allow-private, delivered without it: the host as the
    HTTP client normalises it (full-width digits and letters), IPv4-mapped and
    IPv6 forms embedding a loopback IPv4 address. Each attempt is refused before any
    connection: the loopback receiver gets nothing, and no connection is even tried to
    an address that is not loopback (the test refuses those itself)."""
    with Receiver() as receiver:
        port = receiver.port
        urls = [
            f"http://１２７.０.０.１:{port}/hook",
            f"http://ｌｏｃａｌｈｏｓｔ:{port}/hook",
            f"http://[::ffff:127.0.0.1]:{port}/hook",
            f"http://[2002:7f00:1::1]:{port}/hook",
            f"http://[64:ff9b::7f00:1]:{port}/hook",
            f"http://[2001:0:4136:e378:8000:63bf:80ff:fffe]:{port}/hook",
        ]
        allowed = await aiohttp_client(create_app(config), cookie_jar=aiohttp.DummyCookieJar())
        admin = await make_admin(allowed)
        hooks = [await add_hook(allowed, admin, url) for url in urls]
        await allowed.close()

        strict = replace(config, webhook_allow_private=False)
        with only_loopback() as tried:
            client = await aiohttp_client(create_app(strict), cookie_jar=aiohttp.DummyCookieJar())
            admin = await make_admin(client)
            token, _ = await register(client)
            await make_order(client, token)
            for hook in hooks:
                (refused,) = await eventually(
                    lambda hook=hook: _with_attempts(client, admin, hook["id"], 1)
                )
                assert (refused["status"], refused["http_status"]) == ("pending", 0)
                assert refused["error"].startswith("refused: "), (hook["url"], refused)
        assert tried == []
        assert receiver.got() == []


async def test_disabling_a_webhook_holds_its_deliveries_until_enabled(client, clock):
    """A disabled webhook's pending deliveries are not attempted (however long overdue);
    enabled again within their schedule, they are sent; enabled after it ran out, they
    are failed unsent."""
    admin = await make_admin(client)
    with Receiver(answer=lambda n: 500 if n in (1, 3) else 200) as flaky:
        hook = await add_hook(client, admin, flaky.url, events=["order.created"])
        token, _ = await register(client)

        async def set_enabled(enabled: bool) -> None:
            changes = {"id": hook["id"], "enabled": enabled}
            assert_ok(await call(client, "POST", f"{HOOKS}/update", token=admin, json=changes))

        for within_schedule in (True, False):
            await make_order(client, token)
            sent = len(flaky.got()) + 1
            await eventually(lambda sent=sent: len(flaky.got()) == sent)
            (first, *_) = await eventually(lambda: _with_attempts(client, admin, hook["id"], 1))
            assert (first["status"], first["error"]) == ("pending", "HTTP 500")
            await set_enabled(False)
            # Long overdue (the whole schedule is about 99 s at this retry base).
            clock.advance(60 if within_schedule else 200)
            wake(client)
            await asyncio.sleep(1.0)
            wake(client)
            await asyncio.sleep(0.5)
            assert len(flaky.got()) == sent
            (held, *_) = await deliveries(client, admin, hook["id"])
            assert (held["id"], held["status"], held["attempts"]) == (first["id"], "pending", 1)

            await set_enabled(True)
            if within_schedule:
                await eventually(lambda sent=sent: len(flaky.got()) == sent + 1)
                (done,) = await eventually(lambda: _with_attempts(client, admin, hook["id"], 2))
                assert (done["id"], done["status"]) == (first["id"], "delivered")
            else:
                (failed, *_) = await deliveries(client, admin, hook["id"])
                assert (failed["id"], failed["status"], failed["attempts"]) == (
                    first["id"],
                    "failed",
                    1,
                )
                assert failed["error"] == (
                    "not sent: the webhook was disabled until after its last attempt"
                )
                await asyncio.sleep(0.5)
                assert len(flaky.got()) == sent
