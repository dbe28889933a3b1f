"""The ceiling: a bare aiohttp app that parses the same JSON body and answers the same
envelope, with no database and no session. orderdesk's numbers are ratios to this,
measured on the same event loop (--loop uvloop|asyncio) as the server it is compared with."""

import argparse
import asyncio

import orjson
from aiohttp import web


async def update(request: web.Request) -> web.Response:
    body = orjson.loads(await request.read())
    if not isinstance(body, dict):
        body = {}
    payload = {"code": 0, "msg": "order updated", "data": body}
    return web.Response(body=orjson.dumps(payload), content_type="application/json")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_post("/api/communication/order/update", update)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None, loop=loop)


if __name__ == "__main__":
    main()
