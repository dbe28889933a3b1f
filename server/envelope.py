"""The response envelope {code, msg, data?, total?} and the JSON request body."""

from typing import Any

import orjson
from aiohttp import web

from server.errors import Invalid

_ABSENT = object()


def envelope(code: int, msg: str, data: Any = _ABSENT, total: int | None = None) -> web.Response:
    payload: dict[str, Any] = {"code": code, "msg": msg}
    if data is not _ABSENT:
        payload["data"] = data
    if total is not None:
        payload["total"] = total
    return web.Response(body=orjson.dumps(payload), content_type="application/json")


def ok(data: Any = _ABSENT, msg: str = "ok", total: int | None = None) -> web.Response:
    return envelope(0, msg, data, total)


async def read_json(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; no body counts as {}. Size is capped by the app's
    client_max_size (aiohttp raises HTTPRequestEntityTooLarge past it)."""
    raw = await request.read()
    if not raw:
        return {}
    if request.content_type != "application/json":
        raise Invalid("request body must be application/json")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Invalid("request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise Invalid("request body must be a JSON object")
    return body
