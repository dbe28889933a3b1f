"""The OpenAPI description: complete, valid, served with live docs, and kept by the server."""

import jsonschema
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from orderdesk import openapi
from orderdesk.entities import ENTITIES
from orderdesk.routes import ROUTES
from orderdesk.store import open_store
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import ORDER, call, query_rows, register
from tests.faults import assert_not_internal_error
from tests.live import LiveServer, run_cli
from tests.shapes import assert_declared_shape

API_ROUTES = {(method, path) for method, path, _, _ in ROUTES if path.startswith("/api/")}


def test_every_api_route_is_described_and_every_description_is_a_route():
    assert set(openapi.OPERATIONS) == API_ROUTES


@pytest.mark.parametrize("version", ["3.1.0", "3.0.3"])
def test_the_description_is_valid_openapi(version):
    validate(openapi.document(version))


async def test_the_document_and_the_docs_are_served(client):
    described = await (await client.get("/api/openapi.json")).json()
    assert described == openapi.document("3.1.0")
    for_docs = await (await client.get("/docs/openapi.json")).json()
    assert for_docs["openapi"] == "3.0.3" and for_docs["paths"] == described["paths"]
    page = await client.get("/docs")
    html = await page.text()
    # No inline script: the page's Content-Security-Policy would block it.
    assert page.status == 200 and '<script src="/docs/init.js"></script>' in html
    assert "<script>" not in html and "SwaggerUIBundle(" not in html
    script = await client.get("/docs/init.js")
    started = await script.text()
    assert script.status == 200 and script.content_type == "text/javascript"
    assert "SwaggerUIBundle(" in started and "persistAuthorization" in started
    for asset in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"):
        response = await client.get(f"/docs/static/{asset}")
        assert response.status == 200, asset
        assert len(await response.read()) > 10_000  # the real file, served locally


@pytest.mark.parametrize(
    "name",
    ["index.html", "oauth2-redirect.html", "swagger-initializer.js", "index.css",
     "swagger-ui.js", "swagger-ui-bundle.js.map", "favicon-32x32.png", "..%2f__init__.py"],
)  # fmt: skip
async def test_only_the_swagger_ui_files_the_docs_use_are_served(client, name):
    response = await client.get(f"/docs/static/{name}")
    assert response.status == 404, name


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    db = tmp_path_factory.mktemp("contract") / "contract.db"
    with LiveServer(db) as server:
        run_cli("create-admin", "--db", str(db), "--username", "boss", "--password", "boss pass 1")
        login = server.call("POST", "/api/login", {"user_name": "boss", "password": "boss pass 1"})
        server.token = login["data"]["token"]
        order = {"archive_id": 1, "title": "t", "content": "c", "phone": "12345"}
        server.call("POST", "/api/communication/order/create", order, server.token)
        yield server


@schemathesis.check
def not_an_internal_error(ctx, response, case):
    """HTTP 200 hides a fault inside the envelope: code -1 "internal server error"."""
    if response.headers.get("content-type", [""])[0].startswith("application/json"):
        assert_not_internal_error(response.json())


# Logging out would end the session the rest of the run uses; the event stream never ends
# (tests/test_events.py covers it).
contract = (
    schemathesis.openapi.from_dict(openapi.document())
    .exclude(path="/api/logout")
    .exclude(path="/api/events")
)


@contract.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_server_keeps_the_contract(case, live):
    """Generated requests for every operation, as a logged-in merchant: never a server
    error, and every answer matches the described envelope."""
    case.call_and_validate(
        base_url=live.url,
        headers={"Token": live.token},
        checks=[
            not_a_server_error,
            not_an_internal_error,
            response_schema_conformance,
            status_code_conformance,
            content_type_conformance,
        ],
    )
    live.assert_no_faults()


async def test_an_answer_with_an_undeclared_key_fails_the_shape_check(client):
    """`call` checks every answer against its operation's closed schema: a key that an
    answer holds and the document does not declare (or a declared one it lacks) fails."""
    token, _ = await register(client)
    answer = await call(client, "POST", "/api/communication/order/create", token=token, json=ORDER)
    path = "/api/communication/order/create"
    assert_declared_shape("POST", path, answer)
    with_more = {**answer, "data": {**answer["data"], "not_declared": "2027-01-01"}}
    with pytest.raises(AssertionError, match="not_declared"):
        assert_declared_shape("POST", path, with_more)
    without = {**answer, "data": {k: v for k, v in answer["data"].items() if k != "thumb"}}
    with pytest.raises(AssertionError, match="thumb"):
        assert_declared_shape("POST", path, without)


async def test_every_stored_key_an_entity_declares_is_a_column(db):
    """A key declared as stored (entities.py) is a column of its table on both engines:
    declaring a new order field without its migration fails here."""
    store = await open_store(db)
    await store.close()
    tables = {"Order": "comm_orders", "Message": "messages", "User": "users", "Webhook": "webhooks"}
    for entity in ENTITIES:
        table = tables.get(entity.name)
        if table is None:
            continue
        if db.startswith("postgresql://"):
            rows = await query_rows(
                db,
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = ? AND table_schema = current_schema()",
                table,
            )
        else:
            rows = [(row[1],) for row in await query_rows(db, f"PRAGMA table_info('{table}')")]
        columns = {row[0] for row in rows}
        stored = {key.name for key in entity.keys if key.stored}
        assert stored <= columns, (table, stored - columns)


@pytest.mark.parametrize("method, path", sorted(openapi.OPERATIONS))
def test_each_operation_documents_one_valid_example_request(method, path):
    """The example the per-path tests start from is valid by the document itself."""
    operation = openapi.OPERATIONS[(method, path)]
    if path == "/api/openapi.json":
        return  # no input at all
    assert operation.example is not None, f"{method} {path} has no example request"
    root = {"components": {"schemas": openapi.COMPONENTS}}
    if operation.body is not None:
        jsonschema.Draft202012Validator({**operation.body.schema(), **root}).validate(
            operation.example
        )
    if operation.query is not None:
        for parameter in operation.query.parameters():
            name = parameter["name"]
            if name in operation.example:
                jsonschema.Draft202012Validator(parameter["schema"]).validate(
                    operation.example[name]
                )
            else:
                assert not parameter["required"], (method, path, name)
