"""The peer: the same authenticated update, written the way a Python developer usually
would with FastAPI + uvicorn: a pydantic body model, a dependency that looks the session
up, one aiosqlite connection opened at startup and a commit per request (under a lock:
the requests share the connection, so their transactions must not interleave).

It shares orderdesk's database file and sessions (the `Token` header, its sha256 in
`sessions`), updates the caller's own order (merging order_extra, bumping the version)
and appends the system message: the same work as orderdesk's update, without its other
checks (field definitions, sizes, version guard, what changed).

    python bench/peer.py --db FILE --port P
"""

import argparse
import asyncio
import hashlib
import json
import time
from contextlib import asynccontextmanager
from typing import Annotated, Any

import aiosqlite
import uvicorn
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from pydantic import BaseModel


class OrderUpdate(BaseModel):
    id: int
    title: str | None = None
    content: str | None = None
    order_extra: dict[str, Any] | None = None


def get_db(request: Request) -> aiosqlite.Connection:
    return request.app.state.db


Database = Annotated[aiosqlite.Connection, Depends(get_db)]


async def current_user(token: Annotated[str, Header(alias="Token")], db: Database) -> int:
    digest = hashlib.sha256(token.encode()).digest()
    async with db.execute(
        "SELECT user_id FROM sessions WHERE token_hash = ? AND expires_at > ?",
        (digest, int(time.time())),
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        raise HTTPException(status_code=401, detail="not logged in")
    return row["user_id"]


def create_app(db_path: str) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.db = await aiosqlite.connect(db_path)
        app.state.db.row_factory = aiosqlite.Row
        await app.state.db.execute("PRAGMA synchronous = NORMAL")  # the file is in WAL mode
        app.state.write_lock = asyncio.Lock()
        yield
        await app.state.db.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/api/communication/order/update")
    async def update_order(
        body: OrderUpdate,
        request: Request,
        user_id: Annotated[int, Depends(current_user)],
        db: Database,
    ) -> dict[str, Any]:
        async with request.app.state.write_lock:
            return await update(db, body, user_id)

    return app


async def update(db: aiosqlite.Connection, body: OrderUpdate, user_id: int) -> dict[str, Any]:
    now = int(time.time())
    async with db.execute(
        """UPDATE comm_orders SET title = coalesce(?, title),
               content = coalesce(?, content),
               order_extra = json_patch(order_extra, ?),
               version = version + 1, updated_time = ?
           WHERE id = ? AND user_id = ? RETURNING *""",
        (body.title, body.content, json.dumps(body.order_extra or {}), now, body.id, user_id),
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        await db.rollback()
        return {"code": -1, "msg": "order not found"}
    await db.execute(
        """INSERT INTO messages (comm_order_id, sender_id, sender_type, sender_name,
                                 message_type, content, created_time)
           VALUES (?, 0, 'system', 'system', 'text', 'order updated', ?)""",
        (body.id, now),
    )
    await db.commit()
    order = dict(row)
    for name in ("images", "sketch_images", "finished_images", "order_extra"):
        order[name] = json.loads(order[name])
    return {"code": 0, "msg": "order updated", "data": order}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(create_app(args.db), host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
