"""GET /metrics: the server's counters in the Prometheus text format.

Each app has its own registry (never the library's global one), so several apps in one
process count apart. Per request the middleware adds one count and one duration under
the route's pattern (never a raw path: paths no route serves share UNMATCHED, so the
label set stays bounded), kept in plain dicts and given to the library when scraped.
What lives in the database is read when scraped, in one read.

Served to connecting peers on loopback, judged by the socket's peer address (what a
proxy's X-Forwarded-For says does not count), or to anyone sending
`Authorization: Bearer <--metrics-token>`; to anyone else it is a plain 404.
"""

import hmac
import ipaddress
import itertools
import time
from bisect import bisect_left
from collections.abc import Iterator

import prometheus_client
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

# No `_created` series beside each counter: nothing here reads them.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]

UNMATCHED = "(unmatched)"  # the route label of a path no route serves
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST


class _Requests(Collector):
    """orderdesk_http_requests_total and orderdesk_http_request_duration_seconds, kept in
    plain dicts and lists and handed to the library only when scraped: per request a
    dict update and a bisect, no locks (everything runs on the event loop's thread)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, int], int] = {}
        # By route: a count per bucket (the last one past the highest bound), then the sum.
        self.durations: dict[str, list[float]] = {}

    def observe(self, route: str, code: int, seconds: float) -> None:
        counts = self.counts
        key = (route, code)
        counts[key] = counts.get(key, 0) + 1
        cells = self.durations.get(route)
        if cells is None:
            cells = self.durations[route] = [0] * (len(DURATION_BUCKETS) + 1) + [0.0]
        cells[bisect_left(DURATION_BUCKETS, seconds)] += 1
        cells[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "orderdesk_http_requests",
            "Requests answered, by route pattern and code (the envelope's code under /api/, "
            "else the HTTP status; 499: the client went away first)",
            labels=("route", "code"),
        )
        for (route, code), count in sorted(self.counts.items()):
            requests.add_metric((route, str(code)), count)
        yield requests
        durations = HistogramMetricFamily(
            "orderdesk_http_request_duration_seconds",
            "Time from a request's routing to its answer, by route pattern",
            labels=("route",),
        )
        bounds = [str(float(bound)) for bound in DURATION_BUCKETS] + ["+Inf"]
        for route, cells in sorted(self.durations.items()):
            cumulative = list(itertools.accumulate(cells[:-1]))
            durations.add_metric(
                (route,), list(zip(bounds, cumulative, strict=True)), sum_value=cells[-1]
            )
        yield durations


class Metrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=False)
        self._requests = _Requests()
        registry.register(self._requests)
        self.observe = self._requests.observe  # one answered request: route, code, seconds
        self.outbox_pending = Gauge(
            "orderdesk_outbox_pending",
            "Webhook and mail deliveries still to be made",
            registry=registry,
        )
        self.outbox_failed = Counter(
            "orderdesk_outbox_failed",
            "Webhook and mail deliveries given up as failed by this process, by kind",
            ("kind",),
            registry=registry,
        )
        self.event_streams = Gauge(
            "orderdesk_event_streams", "Live event streams open on this process", registry=registry
        )
        self.db_size = Gauge(
            "orderdesk_db_size_bytes",
            "The database's size: SQLite's file and write-ahead log, or PostgreSQL's "
            "pg_database_size",
            registry=registry,
        )
        self.login_failures = Counter(
            "orderdesk_login_failures",
            "Logins refused for a wrong name or password",
            registry=registry,
        )
        self.backup_last_success = Gauge(
            "orderdesk_backup_last_success_timestamp_seconds",
            "When the last scheduled backup was written and checked (Unix time; 0: none yet)",
            registry=registry,
        )
        for kind in ("webhook", "mail"):
            self.outbox_failed.labels(kind)  # shown at 0 from the start

    def delivery_failed(self, kind: str) -> None:
        """A delivery ("webhook" or "mail") was given up as failed."""
        self.outbox_failed.labels(kind).inc()

    def backup_succeeded(self) -> None:
        self.backup_last_success.set(time.time())

    def exposition(self) -> bytes:
        return prometheus_client.generate_latest(self.registry)


def route_label(request: web.Request) -> str:
    """The route's pattern (`/uploads/{name}`, `/static`), or UNMATCHED."""
    resource = request.match_info.route.resource
    return UNMATCHED if resource is None else resource.canonical


def may_read(request: web.Request, token: str) -> bool:
    """A connecting peer on loopback (the socket's own address, whatever a proxy says the
    client is), or the right bearer token (compared in constant time)."""
    if token:
        given = request.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), token.encode()
        ):
            return True
    transport = request.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    if not isinstance(peer, tuple) or not peer:
        return False  # not a TCP peer
    try:
        address = ipaddress.ip_address(peer[0])
    except ValueError:
        return False
    address = getattr(address, "ipv4_mapped", None) or address
    return address.is_loopback
