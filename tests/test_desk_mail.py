"""Mail on the merchant's side with staff, on both engines, against a real SMTP server:
every enabled admin and staff member with an email, or the order's assignee alone;
the mail a new assignee gets."""

import pytest
from orderdesk.config import Config

from tests.conftest import assert_ok, call, mail_config, make_order, make_staff, register
from tests.receivers import eventually
from tests.test_mail import BOSS, PUBLIC_URL, boss, parts, send

ASSIGN = "/api/admin/communication/order/assign"
HELPER, OTHER = "helper@shop.test", "other@shop.test"


@pytest.fixture
def config(db, clock, smtp) -> Config:
    return mail_config(db, clock, smtp)


async def received(smtp, count: int) -> list[tuple[str, str]]:
    mails = await eventually(lambda: len(smtp.mails()) >= count and smtp.mails())
    assert len(mails) == count, [m["Subject"] for _, m in mails]
    return sorted((rcpt, mail["Subject"]) for (rcpt,), mail in mails)


async def test_merchant_mail_goes_to_staff_too_or_to_the_assignee_alone(client, smtp):
    admin = await boss(client)
    helper, h = await make_staff(client, admin, "helper", email=HELPER)
    _, other = await make_staff(client, admin, "other", email=OTHER)
    _, mute = await make_staff(client, admin, "mute")  # no email: never mailed
    alice, _ = await register(client, "alice")
    order = await make_order(client, alice, title="Theme")
    n = order["id"]
    assert await received(smtp, 3) == sorted(
        (to, f"New order #{n}: Theme") for to in (BOSS, HELPER, OTHER)
    )

    # Assigned by the admin to helper: helper is told, and alone hears of the customer.
    body = {"id": n, "assignee_id": h["id"]}
    assert_ok(await call(client, "POST", ASSIGN, token=admin, json=body))
    await send(client, alice, n, "Blue please")
    new_order = [(to, f"New order #{n}: Theme") for to in (BOSS, HELPER, OTHER)]
    assert await received(smtp, 5) == sorted(
        [
            *new_order,
            (HELPER, f"Order #{n} was assigned to you: Theme"),
            (HELPER, f"New message from the customer on order #{n}: Theme"),
        ]
    )
    (assigned,) = [m for _, m in smtp.mails() if m["Subject"].startswith(f"Order #{n} was")]
    assert f"{PUBLIC_URL}#/admin/order/{n}" in parts(assigned)[0]

    # An assignee without an email: everyone with one is mailed again; assigning oneself
    # mails nobody.
    assert_ok(
        await call(client, "POST", ASSIGN, token=helper, json={"id": n, "assignee_id": mute["id"]})
    )
    await send(client, alice, n, "And white")
    subject = f"New message from the customer on order #{n}: Theme"
    mails = await received(smtp, 8)
    assert [m for m in mails if m[1] == subject] == sorted(
        [(HELPER, subject), (BOSS, subject), (HELPER, subject), (OTHER, subject)]
    )
    assert_ok(
        await call(client, "POST", ASSIGN, token=helper, json={"id": n, "assignee_id": h["id"]})
    )
    # A disabled assignee is no assignee for mail, and disabled staff are not mailed.
    for disabled in (h["id"], other["id"]):
        change = {"id": disabled, "disabled": True}
        assert_ok(await call(client, "POST", "/api/admin/users/update", token=admin, json=change))
    await send(client, alice, n, "Thanks")
    mails = await received(smtp, 9)
    assert mails.count((BOSS, subject)) == 2 and mails.count((HELPER, subject)) == 2
