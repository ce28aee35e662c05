"""Operational routes: liveness, readiness, bundle/provider info and Prometheus metrics."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from model.layouts import LAYOUTS
from model.text_onnx import OnnxTextEncoder
from service.deps import get_state, require_api_key
from service.metrics import CONTENT_TYPE
from service.problems import Problem

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "not ready (see checks)"}})
async def readyz(request: Request) -> JSONResponse:
    """Readiness: bundle loaded and warm, and the registry reachable or a snapshot present."""
    state = getattr(request.app.state, "service", None)
    if state is None:
        return JSONResponse({"status": "starting", "checks": {"bundle": False}}, status_code=503,
                            headers={"Retry-After": "1"})
    reachable = await state.registry.ping()
    checks: dict[str, Any] = {"bundle": True, "warm": state.engine.warm, "registry_reachable": reachable,
                              "snapshot": state.last_snapshot is not None}
    if state.warmup_error:
        checks["warmup_error"] = state.warmup_error
    ready = state.engine.warm and (reachable or state.last_snapshot is not None)
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                        status_code=200 if ready else 503, headers={} if ready else {"Retry-After": "1"})


# An absolute, home or dot-relative path inside any string (a manifest's training notes, a reload error).
_PATH = re.compile(r"(?<![\w.:/])(?:~|\.{1,2})?/[^\s'\",;()]+")


def without_paths(value: Any) -> Any:
    """`value` with every `bundle_path` entry dropped and every filesystem path in a string masked."""
    if isinstance(value, dict):
        return {k: without_paths(v) for k, v in value.items() if k != "bundle_path"}
    if isinstance(value, list):
        return [without_paths(v) for v in value]
    return _PATH.sub("<path>", value) if isinstance(value, str) else value


def _shows_paths(request: Request) -> bool:
    """Filesystem paths are for the operator: only a request that carries the configured API key sees them."""
    if get_state(request).settings.api_key is None:
        return False
    try:
        require_api_key(request)
    except Problem:
        return False
    return True


@router.get("/info")
async def info(request: Request) -> dict[str, Any]:
    """Bundle manifest, onnxruntime providers, encoder runtime, registry version, batching, demo flag (paths: key only)."""
    state = get_state(request)
    snap = state.last_snapshot
    out: dict[str, Any] = {
        "bundle_version": state.bundle.version,
        "manifest": state.bundle.manifest.hashed_body(),  # as written: optional fields absent stay absent
        "providers": state.engine.providers,
        "device": state.engine.device,
        "encoder_runtime": state.engine.runtime.info(),
        "warm": state.engine.warm,
        "text_weights_id": state.text_encoder.weights_id,
        "registry": {"backend": type(state.registry).__name__, "version": snap.version if snap else None,
                     "classes": len(snap.classes) if snap else None, "stale": snap.stale if snap else None,
                     "key_prefix": getattr(state.registry, "prefix", None)},
        "batching": {"max_batch_size": state.settings.max_batch_size, "max_wait_ms": state.settings.max_wait_ms,
                     "queue_size": state.settings.queue_size, "warm_sizes": state.engine.buckets or [1]},
        "text_encoder": "onnx" if isinstance(state.text_encoder, OnnxTextEncoder) else "open_clip",
        "limits": settings_limits(state.settings),
        "demo": state.demo,
        "layouts": {name: spec.info() for name, spec in LAYOUTS.items()},
        "bundle_path": str(state.bundle.root),
        "text_aggregation": state.settings.text_aggregation,
    }
    if state.reloader is not None:
        out["reload"] = state.reloader.info()
    if state.warning:
        out["warning"] = state.warning
    return out if _shows_paths(request) else without_paths(out)


LIMIT_SETTINGS = ("max_body_bytes", "max_frames", "max_sequences", "max_classes", "max_classes_per_request",
                  "max_text_chars", "top_k")


def settings_limits(settings: Any) -> dict[str, Any]:
    """The request and registry limits under their setting names (SCALE_<NAME>), as an operator sets them."""
    return {name: getattr(settings, name) for name in LIMIT_SETTINGS}


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus text exposition."""
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE)
