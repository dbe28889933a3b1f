"""Headers by path: no-store on the API, no versions in `Server`, CSP, nosniff and
Referrer-Policy on what a browser renders."""

import asyncio

import pytest
from orderdesk.routes import ROUTES

from tests.conftest import register

CONSOLE_CSP = (
    "default-src 'self'; img-src 'self' http: https:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
API_REQUESTS = [(m, p) for m, p, _, _ in ROUTES if p.startswith("/api/")] + [
    ("GET", "/api/nothing"),  # not found
    ("DELETE", "/api/login"),  # method not allowed
    ("POST", "/api/register"),  # refused input
]


async def test_every_api_answer_is_no_store_and_names_no_version(client):
    token, _ = await register(client)
    for method, path in API_REQUESTS:
        for headers in ({}, {"Token": token}):
            response = await client.request(method, path, headers=headers)
            assert response.status == 200, (method, path)
            assert response.headers["Cache-Control"] == "no-store", (method, path)
            assert response.headers["Server"] == "orderdesk", (method, path)


def assert_browser_safe(response, csp: str | None = None) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Server"] == "orderdesk"
    policy = response.headers["Content-Security-Policy"]
    if csp is not None:
        assert policy == csp
    directives = {d.split()[0]: d.split()[1:] for d in policy.split("; ")}
    assert directives["default-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    scripts = directives.get("script-src", directives["default-src"])
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts


@pytest.mark.parametrize(
    "path, status",
    [("/", 200), ("/static/app.js", 200), ("/static/style.css", 200), ("/static/none.js", 404)],
)
async def test_the_console_carries_its_exact_policy(client, path, status):
    response = await client.get(path)
    assert response.status == status
    assert_browser_safe(response, CONSOLE_CSP)


@pytest.mark.parametrize(
    "path, status",
    [
        ("/docs", 200),
        ("/docs/init.js", 200),
        ("/docs/openapi.json", 200),
        ("/docs/static/swagger-ui-bundle.js", 200),
        ("/docs/static/index.html", 404),
    ],
)
async def test_the_docs_carry_a_policy_without_inline_script(client, path, status):
    response = await client.get(path)
    assert response.status == status
    assert_browser_safe(response)


async def test_not_even_the_http_parser_names_versions(client):
    """aiohttp's own 400 for a request it cannot parse, before any application code."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(b"NOT HTTP AT ALL\r\n\r\n")
    await writer.drain()
    answer = await reader.read()
    writer.close()
    head = answer.split(b"\r\n\r\n")[0].decode()
    assert head.startswith("HTTP/1.") and " 400 " in head.splitlines()[0]
    assert "\r\nServer: orderdesk" in head and "aiohttp" not in head and "Python" not in head


async def test_uploads_carry_a_policy_that_runs_nothing(client):
    """Whatever /uploads/ serves is shown, never run: a sandboxed document."""
    response = await client.get("/uploads/2030/01/picture.svg")
    assert_browser_safe(response)
    assert response.headers["Content-Security-Policy"].endswith("; sandbox")
