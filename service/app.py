"""FastAPI application factory: loads the bundle and text tower, wires registry, batcher, routes, errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from model.bundle import Bundle, load_bundle
from service.deps import ServiceState
from service.engine.inference import choose_providers
from service.engine.loading import load_text_for, resolve_bundle_path
from service.engine.model_state import build_model
from service.engine.policy import bundle_session_options
from service.engine.reload import BundleVersionHeader, Reloader
from service.inputs.payloads import Limits
from service.metrics import Metrics, MetricsMiddleware
from service.openapi import install_openapi
from service.problems import Problem, install_problem_handlers, problem_response
from service.registry import Registry, RegistryUnavailable, make_registry
from service.security import warn_if_open
from service.settings import Settings, load_settings

log = logging.getLogger("service")


def build_state(settings: Settings, metrics: Metrics, *, bundle: Bundle | None = None,
                text_encoder: Any = None, registry: Registry | None = None) -> ServiceState:
    """Load everything a request needs (blocking: bundle sessions and the text tower)."""
    if bundle is None:
        providers = choose_providers(settings.device)
        bundle = load_bundle(resolve_bundle_path(settings), providers=providers,
                             session_options=bundle_session_options(settings, providers))
    manifest = bundle.manifest
    if manifest.demo:
        log.warning("!" * 72 + "\n!!! DEMO BUNDLE %s: labels and rankings are NOT meaningful. %s\n" + "!" * 72,
                    manifest.bundle_version, manifest.note)
    text_encoder = load_text_for(bundle, settings, text_encoder)
    warn_if_open(settings.host, settings.api_key is not None)
    registry = registry if registry is not None else make_registry(settings)
    if hasattr(registry, "on_restore"):  # Redis: count lost-store recoveries in /metrics
        registry.on_restore = metrics.record_restore
    model = build_model(settings, metrics, bundle, text_encoder, registry)
    log.info("bundle %s loaded from %s; onnxruntime providers %s; serving policy %s", bundle.version,
             bundle.root, model.engine.providers, model.policy)
    limits = Limits(max_body_bytes=settings.max_body_bytes, max_frames=settings.max_frames,
                    max_sequences=settings.max_sequences, max_classes=settings.max_classes_per_request,
                    max_text_length=settings.max_text_chars, max_top_k=settings.max_classes,
                    default_top_k=settings.top_k)
    return ServiceState(settings=settings, limits=limits, metrics=metrics, registry=registry, model=model)


async def _warm(state: ServiceState) -> None:
    try:
        await asyncio.to_thread(state.engine.warmup)
    except Exception as exc:  # readiness reports it; liveness stays up so the logs can be read
        state.warmup_error = f"{type(exc).__name__}: {exc}"
        log.exception("warm-up failed")


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: ServiceState = await asyncio.to_thread(build_state, app.state.settings, app.state.metrics,
                                                 **app.state.inject)
    try:
        await state.snapshot()
    except RegistryUnavailable as exc:
        log.warning("registry unreachable at start (%s); serving reads once it answers", exc)
    state.batcher.start()
    warm = asyncio.create_task(_warm(state), name="scale-warmup")
    state.reloader = Reloader(state, lambda: resolve_bundle_path(state.settings))
    state.reloader.start()
    app.state.service = state
    try:
        yield
    finally:
        app.state.service = None
        warm.cancel()
        await state.reloader.close()
        await state.batcher.stop()
        await state.registry.close()


class BodyLimitMiddleware:
    """413 for bodies over max_bytes: by Content-Length before reading, else by counting while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int, per_path: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.per_path = per_path or {}  # larger limits for routes taking long sequences (/detect)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, size: str, limit: int) -> None:
        setting = "SCALE_DETECT_MAX_BODY_BYTES" if scope.get("path") in self.per_path else "SCALE_MAX_BODY_BYTES"
        problem = Problem(413, "payload-too-large", f"request body is {size} bytes; the limit is "
                          f"{limit} bytes ({setting})")
        await problem_response(problem, scope.get("path"))(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope.get("path", ""), self.max_bytes)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await self._refuse(scope, receive, send, length.decode(), limit)
            return
        chunks, total, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > limit:
                await self._refuse(scope, receive, send, f"more than {limit}", limit)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body, sent = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def create_app(settings: Settings | None = None, *, bundle: Bundle | None = None, text_encoder: Any = None,
               registry: Registry | None = None) -> FastAPI:
    """Build the app; heavy loading happens in the lifespan (bundle, text tower, warm-up in background)."""
    from service.routers import admin, classes, detect, health, playground, recognize, streams

    settings = settings or load_settings()
    # FastAPIOffline: /docs (Swagger UI) and /redoc load their JS/CSS from the app, not from a CDN
    app = FastAPIOffline(title="SCALE zero-shot skeleton action recognition", version="1.0",
                  description="Register action texts, then rank them for posted NTU-25 skeleton sequences.",
                  lifespan=_lifespan)
    app.state.settings = settings
    app.state.inject = {"bundle": bundle, "text_encoder": text_encoder, "registry": registry}
    app.state.service = None
    app.state.metrics = Metrics()
    install_problem_handlers(app)
    install_openapi(app)
    app.include_router(classes.router)
    app.include_router(recognize.router)
    app.include_router(detect.router)
    app.include_router(streams.router)
    app.include_router(health.router)
    app.include_router(admin.router)
    app.include_router(playground.router)  # GET /playground: the page, its files and samples
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes,
                       per_path={"/detect": settings.detect_max_body_bytes})
    app.add_middleware(BundleVersionHeader)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)  # outermost: 413s are counted too
    return app

