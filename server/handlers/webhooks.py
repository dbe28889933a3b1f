"""Webhooks (spec 9, merchant only) and a user's mail setting."""

from aiohttp import web

from .. import notify, texts, validate
from ..envelope import Ok, read_json
from ..handlers import store_of
from ..keys import CONFIG, USER


async def _checked_url(request: web.Request, url: str | None) -> None:
    """Where the URL points is allowed (spec 9), when one was sent."""
    if url is not None:
        await notify.check_target(url, request.app[CONFIG].webhook_allow_private)


async def list_webhooks(request: web.Request) -> Ok:
    return Ok(await store_of(request).list_webhooks())


async def create(request: web.Request) -> Ok:
    settings = validate.new_webhook(await read_json(request))
    await _checked_url(request, settings.url)
    secret = notify.new_secret()
    webhook = await store_of(request).create_webhook(
        settings.url, settings.events, settings.description, secret
    )
    return Ok({**webhook, "secret": secret}, texts.WEBHOOK_CREATED)


async def update(request: web.Request) -> Ok:
    webhook_id, settings = validate.webhook_changes(await read_json(request))
    await _checked_url(request, settings.url)
    webhook = await store_of(request).update_webhook(
        webhook_id,
        settings.url,
        settings.events,
        settings.description,
        settings.enabled,
        notify.schedule_left_ms(request.app[CONFIG].webhook_retry_base),
    )
    return Ok(webhook, texts.WEBHOOK_UPDATED)


async def delete(request: web.Request) -> Ok:
    await store_of(request).delete_webhook(validate.webhook_id(await read_json(request)))
    return Ok(text=texts.WEBHOOK_DELETED)


async def rotate(request: web.Request) -> Ok:
    webhook_id = validate.webhook_id(await read_json(request))
    secret = notify.new_secret()
    webhook = await store_of(request).rotate_webhook_secret(webhook_id, secret)
    return Ok({**webhook, "secret": secret}, texts.WEBHOOK_SECRET_ROTATED)


async def deliveries(request: web.Request) -> Ok:
    webhook_id, page = validate.deliveries_query(request.query)
    rows, total = await store_of(request).list_deliveries(webhook_id, page)
    return Ok(rows, total=total)


async def redeliver(request: web.Request) -> Ok:
    delivery = await store_of(request).redeliver(validate.redelivery(await read_json(request)))
    return Ok(delivery, texts.REDELIVERY_QUEUED)


async def set_notifications(request: web.Request) -> Ok:
    enabled = validate.notify_email(await read_json(request))
    await store_of(request).set_notify_email(request[USER]["id"], enabled)
    return Ok({**request[USER], "notify_email": enabled}, texts.NOTIFICATIONS_SAVED)
