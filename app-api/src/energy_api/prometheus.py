"""Prometheus metrics: request count and latency per route template, the cache and the load shedder.

Why every label is normalised: a label value is a time series kept for the life of the process,
so a label a client controls is unbounded memory and an unbounded /metrics. The route is the
matched template or "unmatched", the method one the API serves (GET, POST) or "other", the status
one of the few the app produces; so each route has at most 3 methods x 16 latency series plus
its request counters, whatever clients send (the issue saw 300 made-up methods make 300 series).

Why a registry per app instance instead of prometheus_client's global one: tests (and a process
that serves two apps) create several apps; a global registry would refuse the second set of
collectors with "Duplicated timeseries".

Why a raw ASGI middleware: Starlette's BaseHTTPMiddleware adds a task and a stream copy per
request, which is measurable at the latencies `/forecasts` aims for.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from energy_api.cache import CacheStats
from energy_api.load_shedding import LimiterStats

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
SERVED_METHODS = frozenset({"GET", "POST"})
OTHER_METHOD = "other"
UNMATCHED_ROUTE = "unmatched"


def method_label(method: str) -> str:
    return method if method in SERVED_METHODS else OTHER_METHOD


class _CacheCollector(Collector):
    """Reads the cache's and the load shedder's own counters at scrape time (no per-request
    bookkeeping)."""

    def __init__(self, stats: CacheStats, limiter: LimiterStats | None) -> None:
        self._stats = stats
        self._limiter = limiter

    def collect(self) -> Iterator[Metric]:
        stats = self._stats
        yield CounterMetricFamily("energy_api_cache_hits", "Responses served from the cache", value=stats.hits)
        yield CounterMetricFamily("energy_api_cache_misses", "Responses built from the stores", value=stats.misses)
        yield CounterMetricFamily(
            "energy_api_cache_evictions", "Entries evicted to stay within the size bounds", value=stats.evictions
        )
        yield GaugeMetricFamily("energy_api_cache_bytes", "Accounted size of the cached entries", value=stats.bytes)
        if self._limiter is not None:
            shed, active, queued = self._limiter.shed, self._limiter.active, self._limiter.queued
            yield CounterMetricFamily("energy_api_shed_requests", "Requests answered 503: no build slot", value=shed)
            yield GaugeMetricFamily("energy_api_builds_active", "Responses being built now", value=active)
            yield GaugeMetricFamily("energy_api_builds_queued", "Requests waiting for a build slot", value=queued)


class RequestMetrics:
    """The collectors of one app instance."""

    def __init__(self, cache_stats: CacheStats, limiter_stats: LimiterStats | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "energy_api_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "energy_api_request_duration_seconds",
            "Time from request to the end of the response",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_CacheCollector(cache_stats, limiter_stats))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one request; `method` is normalised here (see the module docstring)."""
        method = method_label(method)
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class PrometheusMiddleware:
    """Times every HTTP request and labels it with the matched route template (not the raw path,
    which would make one time series per area and consumer type)."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = getattr(scope.get("route"), "path", UNMATCHED_ROUTE)
            self.metrics.observe(scope["method"], route, status, time.perf_counter() - started)
