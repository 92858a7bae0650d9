"""Prometheus metrics: request count and latency per route template, and cache hits and misses.

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
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from energy_api.cache import CacheStats

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class _CacheCollector(Collector):
    """Reads the cache's own counters at scrape time (no per-request bookkeeping)."""

    def __init__(self, stats: CacheStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self._stats
        yield CounterMetricFamily("energy_api_cache_hits", "Responses served from the cache", value=stats.hits)
        yield CounterMetricFamily("energy_api_cache_misses", "Responses built from the stores", value=stats.misses)


class RequestMetrics:
    """The collectors of one app instance."""

    def __init__(self, cache_stats: CacheStats) -> None:
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
        self.registry.register(_CacheCollector(cache_stats))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
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
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.observe(scope["method"], route, status, time.perf_counter() - started)
