"""Shared per-app state and the FastAPI dependencies routes use (state lookup, API-key check)."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from service.engine.model_state import ModelState
from service.inputs.payloads import Limits
from service.metrics import Metrics
from service.problems import Problem
from service.registry import Registry, RegistrySnapshot
from service.settings import Settings


@dataclass
class ServiceState:
    """Everything a request needs: settings, registry, metrics and the current ModelState (hot-swappable)."""

    settings: Settings
    limits: Limits
    metrics: Metrics
    registry: Registry
    model: ModelState  # replaced as one reference by a reload (service/engine/reload.py)
    last_snapshot: RegistrySnapshot | None = None
    warmup_error: str | None = None
    reloader: Any = None  # service.engine.reload.Reloader, set by the app

    # The current model's parts, for routes that do not score (a scoring route takes `use_model` once).
    bundle = property(lambda self: self.model.bundle, doc="The current bundle.")
    engine = property(lambda self: self.model.engine, doc="The current inference engine.")
    text_encoder = property(lambda self: self.model.text_encoder, doc="The current text tower.")
    conditioner = property(lambda self: self.model.conditioner, doc="The current conditioner.")
    batcher = property(lambda self: self.model.batcher, doc="The current micro-batcher.")
    preprocess = property(lambda self: self.model.preprocess, doc="The current preprocessing settings.")
    demo = property(lambda self: self.model.demo, doc="True when the bundle's labels are not meaningful.")
    warning = property(lambda self: self.model.warning, doc="The demo warning (None for a real bundle).")

    async def snapshot(self) -> RegistrySnapshot:
        """registry.snapshot() (a cheap version check), remembered and mirrored into the metrics."""
        snap = await self.registry.snapshot()
        self.last_snapshot = snap
        self.metrics.registry_size.set(len(snap.classes))
        self.metrics.registry_version.set(snap.version)
        return snap


def get_state(request: Request) -> ServiceState:
    """The app's ServiceState; 503 while the app is still starting."""
    state = getattr(request.app.state, "service", None)
    if state is None:
        raise Problem(503, "starting", "the service is still starting", headers={"Retry-After": "1"})
    return state


async def use_model(request: Request) -> AsyncIterator[ModelState]:
    """Dependency: the current ModelState, counted as in use until the answer is built (reload drains it)."""
    state = get_state(request)
    model = state.model
    request.state.bundle_version = model.version  # the X-Scale-Bundle-Version header names this bundle
    async with model.in_use():
        yield model


def require_api_key(request: Request) -> None:
    """Write routes: when settings.api_key is set, X-API-Key or `Authorization: Bearer` must match it."""
    key = get_state(request).settings.api_key
    if key is None:
        return
    given = request.headers.get("x-api-key")
    auth = request.headers.get("authorization", "")
    if given is None and auth.lower().startswith("bearer "):
        given = auth[7:].strip()
    if not given:
        raise Problem(401, "unauthorized", "this route needs an API key: send X-API-Key or "
                      "'Authorization: Bearer <key>'", headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(given.encode(), key.get_secret_value().encode()):
        raise Problem(401, "unauthorized", "the API key is wrong", headers={"WWW-Authenticate": "Bearer"})
