"""Route handlers: parse and validate the input, make one store call, answer."""

from aiohttp import web

from ..keys import ACCESS, STORE, USER
from ..store import ANY_OWNER, Sender, Store


def store_of(request: web.Request) -> Store:
    return request.app[STORE]


def owner_scope(request: web.Request) -> int | None:
    """Customer routes see the caller's own orders; merchant routes (staff and admins)
    see every order."""
    return ANY_OWNER if request[ACCESS].merchant else request[USER]["id"]


def sender_of(request: web.Request) -> Sender:
    """The message sender: always the session's user, never the body; staff and admins
    write as "admin"."""
    user = request[USER]
    kind = "admin" if request[ACCESS].merchant else "user"
    return Sender(user["id"], user["user_name"], kind)
