"""The ceiling: a bare aiohttp app that parses the same JSON body and answers the same
envelope, with no database and no session. orderdesk's numbers are ratios to this."""

import sys

import orjson
from aiohttp import web


async def update(request: web.Request) -> web.Response:
    body = orjson.loads(await request.read())
    if not isinstance(body, dict):
        body = {}
    payload = {"code": 0, "msg": "order updated", "data": body}
    return web.Response(body=orjson.dumps(payload), content_type="application/json")


def main() -> None:
    app = web.Application()
    app.router.add_post("/api/communication/order/update", update)
    port = int(sys.argv[sys.argv.index("--port") + 1])
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
