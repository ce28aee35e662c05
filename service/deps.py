"""Shared per-app state and the FastAPI dependencies routes use (state lookup, API-key check)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from model.bundle import Bundle
from model.config import PreprocessConfig
from service.batcher import MicroBatcher
from service.conditioning import Conditioner
from service.inference import InferenceEngine
from service.metrics import Metrics
from service.payloads import Limits
from service.problems import Problem
from service.registry import Registry, RegistrySnapshot
from service.settings import Settings


@dataclass
class ServiceState:
    """Everything a request needs: settings, bundle, engine, registry, batcher, metrics."""

    settings: Settings
    limits: Limits
    metrics: Metrics
    bundle: Bundle
    engine: InferenceEngine
    text_encoder: Any
    registry: Registry
    conditioner: Conditioner
    batcher: MicroBatcher
    preprocess: PreprocessConfig
    last_snapshot: RegistrySnapshot | None = None
    warmup_error: str | None = None

    @property
    def demo(self) -> bool:
        """True when the bundle's labels are not meaningful."""
        return bool(self.bundle.manifest.demo)

    @property
    def warning(self) -> str | None:
        """The demo warning shown in /info and recognize answers (None for a real bundle)."""
        if not self.demo:
            return None
        return self.bundle.manifest.note or "DEMO bundle: rankings are NOT meaningful."

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
