"""Webhooks (the merchant's) and a user's mail setting."""

from aiohttp import web

from .. import notify, sessions, texts
from ..envelope import Ok, read_json
from ..handlers import store_of
from ..keys import CONFIG, USER
from ..store import outbox
from ..validate import webhooks as forms


async def _checked_url(request: web.Request, url: str | None) -> None:
    """Where the URL points is allowed, when one was sent."""
    if url is not None:
        await notify.check_target(url, request.app[CONFIG].webhook_allow_private)


async def list_webhooks(request: web.Request) -> Ok:
    return Ok(await store_of(request).read(outbox.list_webhooks))


async def create(request: web.Request) -> Ok:
    settings = forms.CREATE_WEBHOOK.parse(await read_json(request))
    await _checked_url(request, settings.url)
    secret = notify.new_secret()
    webhook = await store_of(request).write(
        outbox.create_webhook, settings.url, settings.events, settings.description, secret
    )
    return Ok({**webhook, "secret": secret}, texts.WEBHOOK_CREATED)


async def update(request: web.Request) -> Ok:
    settings = forms.UPDATE_WEBHOOK.parse(await read_json(request))
    await _checked_url(request, settings.url)
    webhook = await store_of(request).write(
        outbox.update_webhook,
        settings.id,
        settings.url,
        settings.events,
        settings.description,
        settings.enabled,
        notify.schedule_left_ms(request.app[CONFIG].webhook_retry_base),
    )
    return Ok(webhook, texts.WEBHOOK_UPDATED)


async def delete(request: web.Request) -> Ok:
    webhook_id = forms.WEBHOOK_ID.parse(await read_json(request))
    await store_of(request).write(outbox.delete_webhook, webhook_id)
    return Ok(text=texts.WEBHOOK_DELETED)


async def rotate(request: web.Request) -> Ok:
    webhook_id = forms.WEBHOOK_ID.parse(await read_json(request))
    secret = notify.new_secret()
    webhook = await store_of(request).write(outbox.rotate_secret, webhook_id, secret)
    return Ok({**webhook, "secret": secret}, texts.WEBHOOK_SECRET_ROTATED)


async def deliveries(request: web.Request) -> Ok:
    query = forms.DELIVERIES_QUERY.parse(request.query)
    rows, total = await store_of(request).read(outbox.list_deliveries, query.webhook_id, query.page)
    return Ok(rows, total=total)


async def redeliver(request: web.Request) -> Ok:
    delivery_id = forms.REDELIVER.parse(await read_json(request))
    delivery = await store_of(request).write(outbox.redeliver, delivery_id)
    return Ok(delivery, texts.REDELIVERY_QUEUED)


async def set_notifications(request: web.Request) -> Ok:
    sessions.refuse_api_key(request)  # the admin's own mail, not a key's to change
    enabled = forms.NOTIFICATIONS.parse(await read_json(request))
    user = request[USER]
    await store_of(request).write(outbox.set_notify_email, user["id"], enabled)
    return Ok(user | {"notify_email": enabled}, texts.NOTIFICATIONS_SAVED)
