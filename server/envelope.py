"""The response envelope {code, msg, data?, total?} and the JSON request body."""

import json
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from . import texts
from .errors import ClientDisconnected, Invalid
from .texts import Text, language_of
from .validate.values import NumberText, reject_nul, unparsable_number_field

_ABSENT = object()


@dataclass(frozen=True)
class Ok:
    """A handler's successful result; the envelope middleware answers it."""

    data: Any = _ABSENT
    text: Text = texts.OK
    total: int | None = None


def envelope(code: int, msg: str, data: Any = _ABSENT, total: int | None = None) -> web.Response:
    payload: dict[str, Any] = {"code": code, "msg": msg}
    if data is not _ABSENT:
        payload["data"] = data
    if total is not None:
        payload["total"] = total
    return web.Response(body=orjson.dumps(payload), content_type="application/json")


def request_language(request: web.Request) -> str:
    return language_of(request.headers.get("Accept-Language", ""))


def as_response(request: web.Request, result: Ok | web.StreamResponse) -> web.StreamResponse:
    if isinstance(result, Ok):
        msg = result.text.render(request_language(request), {})
        return envelope(0, msg, result.data, result.total)
    return result


async def read_json(request: web.Request, numbers_as_text: tuple[str, ...] = ()) -> dict[str, Any]:
    """The body as a JSON object; no body counts as {}. Size is capped by the app's
    client_max_size (aiohttp raises HTTPRequestEntityTooLarge past it). Numbers in the
    fields `numbers_as_text` come as NumberText, the text as sent."""
    try:
        raw = await request.read()
    except ConnectionResetError:
        raise ClientDisconnected() from None
    if not raw:
        return {}
    if request.content_type != "application/json":
        raise Invalid(texts.NOT_JSON_CONTENT_TYPE)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        overflow = str(error).startswith("number is infinity")
        refusal = unparsable_number_field(raw) if overflow else None
        raise (refusal or Invalid(texts.INVALID_JSON)) from None
    if not isinstance(body, dict):
        raise Invalid(texts.NOT_AN_OBJECT)
    if b"\\u0000" in raw:  # the only way JSON text can hold a NUL: orjson refuses a raw one
        reject_nul(body)
    sent_numbers = [n for n in numbers_as_text if type(body.get(n)) in (int, float)]
    if sent_numbers:
        # orjson has checked the body; read it again only for these numbers' text.
        literal = json.loads(raw, parse_int=NumberText, parse_float=NumberText)
        body.update((name, literal[name]) for name in sent_numbers)
    return body
