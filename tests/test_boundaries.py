"""The served OpenAPI document is the contract for inputs: for every operation,
each documented request constraint (type, length, range, pattern, enum, item count,
required) is read from /api/openapi.json, and a value just inside and just outside it
is sent. The document decides (through a JSON Schema validator) whether the request is
valid; the server must then refuse exactly the invalid ones, naming the field, and
refuse none of the valid ones on an input rule. A rule changed in the validation but
not in the document (or the other way round) fails here.

"Refused on an input rule" means a message of the input catalogue (required, type,
length, range, pattern, ...); a valid request may still be refused for what it asks
(a wrong password, an order in the wrong status), which says nothing about the rule.
"""

import itertools
import re
from collections.abc import Callable
from typing import Any

import aiohttp
import jsonschema
import pytest
from orderdesk import model, openapi, texts
from orderdesk.app import create_app
from orderdesk.config import Config

from tests.conftest import PASSWORD, call, make_admin, make_order, quote, register
from tests.examples import example

# The catalogue texts of input rules, as patterns of the English message.
INPUT_RULES = [
    texts.REQUIRED,
    texts.POSITIVE_INTEGER,
    texts.ZERO_OR_POSITIVE_INTEGER,
    texts.NOT_A_STRING,
    texts.EMPTY,
    texts.LENGTH_RANGE,
    texts.LENGTH_MAX,
    texts.PHONE_CHARACTERS,
    texts.EMAIL_FORM,
    texts.NOT_A_STRING_LIST,
    texts.TOO_MANY_ITEMS,
    texts.ITEM_LENGTH,
    texts.IMAGE_URL_FORM,
    texts.ONE_OF,
    texts.STATUS_ONE_OR_CANCELLED,
    texts.EXTRA_NOT_OBJECT,
    texts.EXTRA_TOO_MANY_KEYS,
    texts.EXTRA_KEY_LENGTH,
    texts.EXTRA_TOO_DEEP,
    texts.EXTRA_TOO_BIG,
    texts.FIELDS_NOT_LIST,
    texts.FIELDS_TOO_MANY,
    texts.DEFINITION_NOT_OBJECT,
    texts.DEFINITION_DUPLICATE,
    texts.DEFINITION_TYPE,
    texts.DEFINITION_REQUIRED_FLAG,
    texts.DEFINITION_OPTIONS,
    texts.DEFINITION_OPTION_EMPTY,
    texts.DEFINITION_OPTIONS_DISTINCT,
    texts.QUOTE_PRICE_FORMAT,
    texts.QUOTE_PRICE_RANGE,
    texts.USER_NAME_CHARACTERS,
    texts.USER_NAME_RESERVED,
    texts.USER_NAME_SCRIPTS,
    texts.NOT_A_BOOLEAN,
    texts.INTEGER_TOO_LARGE,
    texts.WEBHOOK_URL_SCHEME,
    texts.WEBHOOK_EVENTS,
]
INPUT_PATTERNS = [
    re.compile(".*".join(map(re.escape, re.split(r"\{[^}]*\}", text.en))) + "$")
    for text in INPUT_RULES
]
# Whoever names a field sends a URL filler that fits this pattern family.
URL_PREFIX = "https://shop.example/"
# Every operation that takes a body or a query (the others have no input to bound).
API_OPERATIONS = [
    (method, path)
    for (method, path), operation in openapi.OPERATIONS.items()
    if operation.body is not None or operation.query is not None
]


def is_input_refusal(body: dict[str, Any]) -> bool:
    return body["code"] == -1 and any(p.match(body["msg"]) for p in INPUT_PATTERNS)


def names(msg: str, field: str) -> bool:
    return re.search(rf"(^|\s){re.escape(field)}(\s|\.|$)", msg) is not None


# ---------------------------------------------------------------- values from a schema


def _matches(schema: dict[str, Any], text: str) -> bool:
    return "pattern" not in schema or re.search(schema["pattern"], text) is not None


def _text_of_length(schema: dict[str, Any], n: int) -> str:
    """A string of n characters that fits the schema's pattern if any filler does."""
    fillers = ["a" * n, "1" * n, "a" * (n - 1) + "@", URL_PREFIX + "a" * (n - len(URL_PREFIX))]
    fitting = [f for f in fillers if len(f) == n and _matches(schema, f)]
    return fitting[0] if fitting else "a" * n


def string_values(schema: dict[str, Any]) -> list[Any]:
    if "enum" in schema:
        return [*schema["enum"], "not-a-choice"]
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    lengths = {low, low - 1} | ({high, high + 1} if high is not None else {max(low, 5)})
    values: list[Any] = [_text_of_length(schema, n) for n in sorted(lengths) if n >= 0]
    if "pattern" in schema:
        k = max(low, 1)
        values += [f for f in ("a" * k, "~" * k) if not _matches(schema, f)][:1]
    return values


def number_values(schema: dict[str, Any], step: float) -> list[Any]:
    if "enum" in schema:
        return [*schema["enum"], max(schema["enum"]) + 1]
    values = []
    if "minimum" in schema:
        values += [schema["minimum"] - step, schema["minimum"]]
    if "maximum" in schema:
        values += [schema["maximum"], schema["maximum"] + step]
    return values or [1]


def array_values(schema: dict[str, Any], item: Callable[[int], Any]) -> list[Any]:
    high = schema.get("maxItems")
    counts = [0, 1] + ([high, high + 1] if high is not None else [])
    return [[item(i) for i in range(count)] for count in counts]


def first_valid(schema: dict[str, Any], candidates: list[Any], root: dict) -> Any:
    validator = validator_for(schema, root)
    return next(c for c in candidates if validator.is_valid(c))


def values_for(schema: dict[str, Any], root: dict, item_maker: Callable | None) -> list[Any]:
    """Values just inside and just outside each constraint of `schema`, and one of a
    wrong JSON type; whether each is valid is for the schema to say."""
    if "oneOf" in schema or "anyOf" in schema:
        branches = schema.get("oneOf") or schema["anyOf"]
        return [v for b in branches for v in values_for(b, root, item_maker)]
    kind = schema.get("type")
    if kind == "string":
        return [*string_values(schema), 12345]
    if kind == "integer":
        return [*number_values(schema, 1), True]
    if kind == "number":
        return [*number_values(schema, 0.01), "not a number"]
    if kind == "boolean":
        return [True, False, "yes"]
    if kind == "array":
        items = schema.get("items", {})
        if item_maker is None:
            inside = first_valid(items, values_for(items, root, None), root)
            item_maker = lambda i: inside  # noqa: E731
        return [*array_values(schema, item_maker), "not a list"]
    if kind == "object":
        high = schema.get("maxProperties")
        counts = [0, 1] + ([high, high + 1] if high is not None else [])
        return [{f"k{i}": i for i in range(count)} for count in counts] + [["not an object"]]
    return []  # documented as accepted and ignored


def validator_for(schema: dict[str, Any], root: dict) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({**schema, "components": root["components"]})


# ---------------------------------------------------------------- the operations


class Context:
    """A customer (alice, with email and phone), a merchant, and orders in the states
    each operation starts from."""

    def __init__(self) -> None:
        self.serial = itertools.count(1)

    async def prepare(self, client) -> None:
        self.email, self.phone = "alice@example.com", "+86 138-0000-0000"
        self.token, _ = await register(client, "alice", email=self.email, phone=self.phone)
        self.admin = await make_admin(client)
        self.pending = (await make_order(client, self.token))["id"]
        self.quoted = (await make_order(client, self.token))["id"]
        await quote(client, self.admin, self.quoted)
        # A webhook (the client allows private targets), and its deliveries.
        hook = {"url": "http://127.0.0.1:9/hook"}
        body = await call(client, "POST", "/api/admin/webhooks", token=self.admin, json=hook)
        self.webhook = body["data"]["id"]
        query = {"webhook_id": self.webhook}
        await make_order(client, self.token)
        body = await call(
            client, "GET", "/api/admin/webhooks/deliveries", token=self.admin, params=query
        )
        self.delivery = body["data"][0]["id"]
        # An upload of alice's, for deleting (once; then "attachment not found").
        form = aiohttp.FormData()
        form.add_field("file", b"%PDF-1.4 a document", filename="doc.pdf")
        body = await call(client, "POST", "/api/attachment/upload", token=self.token, data=form)
        self.attachment = body["data"]["id"]


def base_request(ctx: Context, method: str, path: str, field: str) -> tuple[dict, str | None]:
    """A valid request of the operation (body or query), and the token it is sent with;
    when `field` is one that is only read in a certain shape (login's email and phone),
    the request has that shape."""
    n = next(ctx.serial)
    if path == "/api/register":
        return {"user_name": f"user{n}", "password": PASSWORD}, None
    if path in ("/api/login", FORGOT):
        password = {"password": PASSWORD} if path == "/api/login" else {}
        if field in ("email", "phone"):
            return {field: getattr(ctx, field), **password}, None
        return {"user_name": "alice", **password}, None
    if path == "/api/logout":
        return {}, None
    order = ctx.quoted if path.endswith(("/accept", "/reject")) else ctx.pending
    request = example(
        method,
        path,
        order=order,
        webhook=ctx.webhook,
        delivery=ctx.delivery,
        attachment=ctx.attachment,
    )
    merchant = path.startswith("/api/admin/")
    return request, ctx.admin if merchant else ctx.token


FORGOT = "/api/user/password/forgot"

# Items of lists whose items must differ from each other (no schema rule can say so).
ITEM_MAKERS = {"fields": lambda i: {"field_name": f"field{i}", "type": "text"}}


def cases(operation: dict[str, Any], root: dict) -> list[tuple[str, str, Any]]:
    """(field, where, value) to send, `value` MISSING for "leave the field out"."""
    found = []
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body:
        for field, schema in body["schema"]["properties"].items():
            found.append((field, "body", MISSING))
            found += [(field, "body", v) for v in values_for(schema, root, ITEM_MAKERS.get(field))]
    for parameter in query_parameters(operation):
        field, schema = parameter["name"], parameter["schema"]
        found.append((field, "query", MISSING))
        found += [(field, "query", v) for v in values_for(schema, root, None)]
        found.append((field, "query", "x"))
    return found


MISSING = object()


def query_parameters(operation: dict[str, Any]) -> list[dict[str, Any]]:
    """The query's fields; a header parameter (the stream's Last-Event-ID, where anything
    but an event id means "start live") is no request field."""
    return [p for p in operation.get("parameters", []) if p["in"] == "query"]


def query_value(value: Any) -> Any:
    """What the schema validates for a query value, and the text sent."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def expect_valid(operation: dict[str, Any], root: dict, where: str, field: str, sent: dict):
    if where == "body":
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        return validator_for(schema, root).is_valid(sent), schema.get("anyOf", [])
    parameter = next(p for p in operation["parameters"] if p["name"] == field)
    if field not in sent:
        return not parameter["required"], []
    value = sent[field]
    schema = parameter["schema"]
    numeric = "integer" in [b.get("type") for b in [schema, *schema.get("oneOf", [])]]
    typed = int(value) if numeric and re.fullmatch(r"-?[0-9]+", value) else value
    return validator_for(schema, root).is_valid(typed), []


def described(value: Any) -> str:
    if value is MISSING:
        return "(left out)"
    if isinstance(value, list | dict | str) and len(value) > 3:
        return f"<{type(value).__name__} of length {len(value)}>"
    return repr(value)


STREAM_OPENED = {"code": 0, "msg": "(an event stream opened)"}


async def answer_of(client, method: str, path: str, token: str | None, kwargs: dict) -> dict:
    """The envelope; an accepted GET /api/events answers a stream that never ends, so
    its opening counts as acceptance and it is closed at once."""
    if path != "/api/events":
        return await call(client, method, path, token=token, **kwargs)
    async with client.request(method, path, headers={"Token": token}, **kwargs) as response:
        assert response.status == 200
        if response.content_type == "text/event-stream":
            return STREAM_OPENED
        return await response.json()


@pytest.fixture
async def loose_client(db, clock, server_log, aiohttp_client):
    """No throttles: the boundary values register and fail logins by the dozen."""
    config = Config(
        db=db,
        session_ttl=3600,
        clock=clock,
        max_login_failures_per_address=0,
        max_registrations_per_hour=0,
        webhook_allow_private=True,  # webhook URLs are checked for shape, not resolved
    )
    return await aiohttp_client(create_app(config), cookie_jar=aiohttp.DummyCookieJar())


@pytest.mark.parametrize(
    "method, path", API_OPERATIONS, ids=[f"{m} {p}" for m, p in API_OPERATIONS]
)
async def test_each_documented_constraint_holds_at_its_boundaries(
    loose_client, clock, method, path
):
    client = loose_client
    root = await (await client.get("/api/openapi.json")).json()
    operation = root["paths"][path][method.lower()]
    ctx = Context()
    await ctx.prepare(client)
    tried, mismatches = 0, []
    for field, where, value in cases(operation, root):
        sent, token = base_request(ctx, method, path, field)
        if path == FORGOT:
            clock.advance(model.RESET_REQUEST_WINDOW)  # its per-address limit has no setting
        sent = dict(sent)
        if value is MISSING:
            sent.pop(field, None)
        else:
            sent[field] = query_value(value) if where == "query" else value
        valid, any_of = expect_valid(operation, root, where, field, sent)
        kwargs = {"json": sent} if where == "body" else {"params": sent}
        answer = await answer_of(client, method, path, token, kwargs)
        tried += 1
        shown = described(value)
        if valid and is_input_refusal(answer):
            mismatches.append(f"{field}={shown}: documented valid, refused: {answer['msg']}")
        elif not valid:
            group = [field] + [r["required"][0] for r in any_of if value is MISSING]
            if not is_input_refusal(answer) or not any(names(answer["msg"], f) for f in group):
                mismatches.append(f"{field}={shown}: documented invalid, answered {answer}")
    assert tried > 0
    assert not mismatches, f"{method} {path}:\n" + "\n".join(mismatches)


async def test_the_boundary_cases_cover_every_documented_field(loose_client):
    """Each operation with a body or query gets cases for every field it documents, and
    at least one value on each side of some constraint."""
    root = await (await loose_client.get("/api/openapi.json")).json()
    for method, path in API_OPERATIONS:
        operation = root["paths"][path][method.lower()]
        fields = set(operation.get("requestBody", {}).get("content", {}).get(
            "application/json", {}).get("schema", {}).get("properties", {}))  # fmt: skip
        fields |= {p["name"] for p in query_parameters(operation)}
        assert fields, (method, path)
        assert {f for f, _, _ in cases(operation, root)} == fields, (method, path)
