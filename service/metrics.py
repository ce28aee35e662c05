"""Prometheus metrics (one CollectorRegistry per app) and the ASGI middleware that records requests."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.routing import Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class Metrics:
    """Every metric the service exports; a private registry so several apps can live in one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("scale_http_requests", "HTTP requests by route and status",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram("scale_http_request_duration_seconds", "HTTP request latency",
                                 ["method", "route"], registry=r)
        self.batch_size = Histogram("scale_batch_size_sequences", "Sequences per inference run",
                                    buckets=BATCH_BUCKETS, registry=r)
        self.batch_requests = Histogram("scale_batch_size_requests", "Requests merged into one inference run",
                                        buckets=BATCH_BUCKETS, registry=r)
        self.inference_runs = Counter("scale_inference_runs", "Inference runs (encoder + sample side)",
                                      registry=r)
        self.inference_seconds = Histogram("scale_inference_duration_seconds", "Time of one inference run",
                                           registry=r)
        self.queue_wait = Histogram("scale_queue_wait_seconds", "Time a request waited in the batch queue",
                                    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                             0.5, 1.0, 2.5), registry=r)
        self.queue_depth = Gauge("scale_queue_depth", "Sequences waiting in the batch queue", registry=r)
        self.registry_size = Gauge("scale_registry_classes", "Registered classes in the last snapshot",
                                   registry=r)
        self.registry_version = Gauge("scale_registry_version", "Registry version of the last snapshot",
                                      registry=r)
        self.conditioning = Counter("scale_conditioning_lookups", "Class conditioning lookups by source",
                                    ["source"], registry=r)
        self.stream_sessions = Gauge("scale_stream_sessions", "Open /streams WebSocket sessions", registry=r)
        self.stream_frames = Counter("scale_stream_frames", "Frames received on /streams", registry=r)
        self.stream_window_latency = Histogram(
            "scale_stream_window_latency_seconds", "From the frame completing a window to its result being sent",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0), registry=r)

        self.registry_restores = Counter("scale_registry_restores", "Times this replica found the Redis store "
                                         "had lost data and restored its snapshot", registry=r)
        self.registry_restored_classes = Counter("scale_registry_restored_classes", "Classes written back "
                                                 "after the store lost data", registry=r)

        self.registry_slow = Counter("scale_registry_slow_answers", "Registry cache reads and writes that took "
                                     "longer than their budget (served without the cache)", ["operation"],
                                     registry=r)
        for operation in ("get_conditioning", "put_conditioning"):
            self.registry_slow.labels(operation)

    def record_slow(self, operation: str) -> None:
        """Count one registry cache answer that came too late (the request went on without it)."""
        self.registry_slow.labels(operation).inc()

    def record_restore(self, restored: int) -> None:
        """Count one lost-store recovery that wrote back `restored` classes."""
        self.registry_restores.inc()
        self.registry_restored_classes.inc(restored)

    def render(self) -> bytes:
        """Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts requests by route template and status and times them (pure ASGI, streaming-safe)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}
        request_scope = {k: scope.get(k) for k in ("type", "path", "root_path", "method")}  # routing rewrites them

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = _route_template(scope, request_scope)
            method = scope.get("method", "")
            self.metrics.requests.labels(method, route, str(status["code"])).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - start)


def _route_template(scope: dict[str, Any], request_scope: dict[str, Any]) -> str:
    # FastAPI's routes store themselves in the scope. Plain Starlette routes (/openapi.json) and mounts (the
    # docs pages' assets) do not: they are found again here. Unknown paths collapse into one label value.
    route = scope.get("route")
    if getattr(route, "path", None):
        return route.path
    for candidate in getattr(scope.get("app"), "routes", ()):
        if isinstance(candidate, Route | Mount) and candidate.matches(request_scope)[0] is Match.FULL:
            return candidate.path + "/{path}" if isinstance(candidate, Mount) else candidate.path
    return "<unmatched>"
