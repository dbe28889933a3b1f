"""The response envelope {code, msg, data?, total?} and the JSON request body."""

import gc
from typing import Any, NamedTuple

import orjson
from aiohttp import web

from . import jsonbody, texts
from .errors import ClientDisconnected, Invalid
from .texts import Text, language_of
from .validate.values import NumberText, reject_nul, unparsable_number_field

_ABSENT = object()


class Ok(NamedTuple):
    """A handler's successful result; the envelope middleware answers it. (A named
    tuple: made on every request, at half a frozen dataclass's cost.)"""

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


# Bodies larger than this are parsed with the garbage collector paused (see _parse).
_PAUSE_GC_ABOVE = 64 * 1024


def _parse(raw: bytes) -> Any:
    """orjson's parse. A large body may make hundreds of thousands of lists and dicts;
    while they are being made the garbage collector keeps starting collections, and
    the older generations' walk every container made so far (most of such a parse's
    time). For a large body the collector waits until the parse is done."""
    if len(raw) <= _PAUSE_GC_ABOVE or not gc.isenabled():
        return orjson.loads(raw)
    gc.disable()
    try:
        return orjson.loads(raw)
    finally:
        gc.enable()


async def read_json(request: web.Request, numbers_as_text: tuple[str, ...] = ()) -> dict[str, Any]:
    """The body as a JSON object; no body counts as {}. Size is capped by the app's
    client_max_size (aiohttp raises HTTPRequestEntityTooLarge past it), nesting by
    jsonbody.MAX_DEPTH. The body is parsed once: numbers in the top-level fields
    `numbers_as_text` come as NumberText, their text as sent, read from the
    raw bytes."""
    try:
        raw = await request.read()
    except OSError:  # the connection was reset, lost or timed out: the client is gone
        raise ClientDisconnected() from None
    if not raw:
        return {}
    if request.content_type != "application/json":
        raise Invalid(texts.NOT_JSON_CONTENT_TYPE)
    jsonbody.check_depth(raw)
    try:
        body = _parse(raw)
    except orjson.JSONDecodeError as error:
        overflow = str(error).startswith("number is infinity")
        refusal = unparsable_number_field(raw) if overflow else None
        raise (refusal or Invalid(texts.INVALID_JSON)) from None
    if not isinstance(body, dict):
        raise Invalid(texts.NOT_AN_OBJECT)
    if b"\\u0000" in raw:  # the only way JSON text can hold a NUL: orjson refuses a raw one
        reject_nul(body)
    if not numbers_as_text:
        return body
    sent_numbers = tuple(n for n in numbers_as_text if type(body.get(n)) in (int, float))
    if sent_numbers:
        written = jsonbody.top_level_numbers(raw, sent_numbers)
        body.update((name, NumberText(text)) for name, text in written.items())
    return body
