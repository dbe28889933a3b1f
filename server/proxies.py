"""The client's address and scheme behind a trusted reverse proxy (--trusted-proxy).

Only a request whose connecting peer is trusted may say who the client is: its
`X-Forwarded-For` names the client as the rightmost address that is not itself a
trusted proxy (each proxy appends the address it saw, so entries left of that one are
the client's own claims), and `X-Forwarded-Proto: https` marks it HTTPS. From any other
peer both headers are ignored. A header that cannot be read leaves the peer's address.
"""

import ipaddress
from collections.abc import Iterable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from .config import Network
from .keys import CLIENT, REQUEST_ID, RESULT_CODE, USER

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # A dual-stack socket shows IPv4 peers as ::ffff:a.b.c.d; compare them as IPv4.
    return getattr(address, "ipv4_mapped", None) or address


def is_trusted(address: Address | None, trusted: Iterable[Network]) -> bool:
    return address is not None and any(address in network for network in trusted)


def forwarded_client(x_forwarded_for: list[str], trusted: tuple[Network, ...]) -> str | None:
    """The rightmost untrusted address of the X-Forwarded-For values, or the leftmost
    when all are trusted; None when there is none or an entry on the way is unreadable."""
    hops = [hop for value in x_forwarded_for for hop in value.split(",")]
    client = None
    for hop in reversed(hops):
        client = parse_address(hop)
        if not is_trusted(client, trusted):
            break
    return None if client is None else str(client)


def trusted_proxy_middleware(trusted: tuple[Network, ...]) -> Middleware:
    @web.middleware
    async def from_trusted_proxy(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not is_trusted(parse_address(request.remote or ""), trusted):
            return await handler(request)
        client = forwarded_client(request.headers.getall("X-Forwarded-For", []), trusted)
        proto = request.headers.get("X-Forwarded-Proto", "").rpartition(",")[2]
        scheme = "https" if proto.strip().lower() == "https" else request.scheme
        seen_as = request.clone(remote=client or request.remote or "", scheme=scheme)
        try:
            return await handler(seen_as)
        finally:
            # The access log reads the request aiohttp made, not this clone (whose state
            # is a copy): hand back what it logs.
            request[CLIENT] = seen_as.remote or "-"
            if REQUEST_ID in seen_as:
                request[REQUEST_ID] = seen_as[REQUEST_ID]
            if RESULT_CODE in seen_as:
                request[RESULT_CODE] = seen_as[RESULT_CODE]
            if USER in seen_as:
                request[USER] = seen_as[USER]

    return from_trusted_proxy
