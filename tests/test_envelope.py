"""The conventions every endpoint shares: the envelope, bodies, check order."""

import io

import pytest
from orderdesk.model import MAX_BODY_BYTES
from orderdesk.routes import ROUTES
from orderdesk.store import orders

from tests.conftest import assert_fail, assert_ok, call, make_admin, register

# Every /api/ route but the OpenAPI document itself answers the envelope.
ENVELOPED = [r for r in ROUTES if r[1].startswith("/api/") and r[1] != "/api/openapi.json"]


@pytest.mark.parametrize("method, path, handler, access", ENVELOPED)
async def test_every_route_answers_an_envelope_with_a_request_id(
    client, method, path, handler, access
):
    response = await client.request(method, path)
    assert response.status == 200
    body = await response.json()
    assert isinstance(body["code"], int) and isinstance(body["msg"], str)
    assert len(response.headers["X-Request-Id"]) == 16


async def test_unknown_paths_and_wrong_methods(client):
    assert_fail(await call(client, "GET", "/api/nothing/here"), msg="not found")
    assert_fail(await call(client, "GET", "/api/login"), msg="method not allowed")
    assert_fail(await call(client, "DELETE", "/api/communication/orders"), msg="method not allowed")


async def test_route_and_method_are_checked_before_the_session(client):
    body = await call(client, "GET", "/api/communication/order/update")
    assert_fail(body, msg="method not allowed")


async def test_session_is_checked_before_input(client):
    body = await call(client, "POST", "/api/communication/order/update", data=b"{not json")
    assert_fail(body, code=1001)


async def test_role_is_checked_before_input(client):
    token, _ = await register(client)
    body = await call(
        client, "POST", "/api/admin/communication/order/quote", token=token, data=b"{bad"
    )
    assert_fail(body, code=1002)


@pytest.mark.parametrize(
    "data, content_type, message",
    [
        (b"{not json", "application/json", "request body is not valid JSON"),
        (b"[1, 2]", "application/json", "request body must be a JSON object"),
        (b'"text"', "application/json", "request body must be a JSON object"),
        (b"null", "application/json", "request body must be a JSON object"),
        (b'{"id": NaN}', "application/json", "request body is not valid JSON"),
        (b'{"user_name": "x"}', "text/plain", "request body must be application/json"),
        (
            b"user_name=x",
            "application/x-www-form-urlencoded",
            "request body must be application/json",
        ),
    ],
)
async def test_malformed_bodies(client, data, content_type, message):
    body = await call(
        client, "POST", "/api/login", data=data, headers={"Content-Type": content_type}
    )
    assert_fail(body, msg=message)


async def test_a_charset_parameter_is_fine(client):
    body = await call(
        client,
        "POST",
        "/api/register",
        data='{"user_name": "zoë", "password": "long enough"}'.encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert assert_ok(body)["user_name"] == "zoë"


async def test_a_post_without_a_body_counts_as_an_empty_object(client):
    assert_fail(await call(client, "POST", "/api/login"), msg="user_name is required")


async def test_bodies_over_one_mebibyte_are_refused(client):
    token, _ = await register(client)
    padding = b" " * (MAX_BODY_BYTES - 200)
    at_limit = b'{"archive_id": 1, "title": "t", "content": "c", "phone": "12345"' + padding
    at_limit += b" " * (MAX_BODY_BYTES - len(at_limit) - 1) + b"}"
    assert len(at_limit) == MAX_BODY_BYTES
    headers = {"Content-Type": "application/json"}
    path = "/api/communication/order/create"
    assert_ok(
        await call(client, "POST", path, token=token, data=io.BytesIO(at_limit), headers=headers)
    )
    over = at_limit + b" "
    body = await call(client, "POST", path, token=token, data=io.BytesIO(over), headers=headers)
    assert_fail(body, msg="request body too large")
    listed = await call(client, "GET", "/api/communication/orders", token=token)
    assert listed["total"] == 1


@pytest.mark.faults_expected
async def test_unexpected_faults_answer_a_generic_error_without_a_trace(
    client, monkeypatch, caplog
):
    token, _ = await register(client)

    async def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(orders, "list_orders", broken)
    response = await client.get("/api/communication/orders", headers={"Token": token})
    body = await response.json()
    assert body == {"code": -1, "msg": "internal server error"}
    request_id = response.headers["X-Request-Id"]
    assert any(request_id in r.getMessage() and r.exc_info for r in caplog.records)


async def test_non_api_paths_are_plain_http(client):
    response = await client.get("/nothing")
    assert response.status == 404


async def test_admin_routes_need_an_admin(client):
    customer, _ = await register(client)
    admin = await make_admin(client)
    path = "/api/admin/communication/orders"
    assert_fail(await call(client, "GET", path), code=1001)
    assert_fail(await call(client, "GET", path, token=customer), code=1002)
    assert_ok(await call(client, "GET", path, token=admin))
