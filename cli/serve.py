"""`scale serve`: run the SCALE service under uvicorn (flags override SCALE_* environment settings)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import Any

log = logging.getLogger("scale.serve")


def register(subparsers: Any) -> None:
    """Add the `serve` subcommand."""
    p = subparsers.add_parser("serve", help="run the HTTP service",
                              description="Serve a model bundle over HTTP (FastAPI + uvicorn). Flags override "
                                          "the SCALE_* environment variables; see docs/service.md.")
    p.add_argument("--host", help="bind address (SCALE_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, help="TCP port (SCALE_PORT, default 8000)")
    p.add_argument("--bundle", help="model bundle directory (SCALE_BUNDLE_PATH)")
    p.add_argument("--redis-url", help="shared registry, e.g. redis://localhost:6379/0 (REDIS_URL); "
                                       "without it the registry lives in this process")
    p.add_argument("--clip-weights", help="CLIP ViT-B/32 weights file the bundle was exported with "
                                          "(SCALE_CLIP_WEIGHTS)")
    p.add_argument("--device", choices=("auto", "cuda", "cpu"), help="onnxruntime device (SCALE_DEVICE)")
    p.add_argument("--demo", action="store_true",
                   help="serve the demo bundle (built or reused in SCALE_DEMO_DIR) even when a bundle is "
                        "configured; it is also the default when none is. Its rankings are NOT meaningful")
    p.add_argument("--log-level", choices=("debug", "info", "warning", "error", "critical"))
    p.set_defaults(func=run)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    given = {"host": args.host, "port": args.port, "bundle_path": args.bundle, "redis_url": args.redis_url,
             "clip_weights": args.clip_weights, "device": args.device, "log_level": args.log_level}
    return {k: v for k, v in given.items() if v is not None}


def run(args: argparse.Namespace) -> int:
    """Load settings, bundle and text tower (clear errors, exit 2), then serve until SIGINT/SIGTERM."""
    import uvicorn

    from model.bundle import BundleError, load_bundle
    from model.text import MissingWeightsError
    from service.app import create_app, registry_settings
    from service.engine.inference import choose_providers
    from service.engine.loading import StartupError, load_text_for, resolve_bundle_path
    from service.engine.policy import bundle_session_options, device_of
    from service.engine.runtimes import resolve_encoder_runtime
    from service.inputs.http_protocol import problem_protocol
    from service.settings import SettingsError, load_settings

    try:
        settings = load_settings(**_overrides(args))
    except SettingsError as exc:
        print(f"scale serve: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    flag = "--clip-weights" if args.clip_weights is not None else None
    try:
        if args.demo or settings.bundle_path is None:
            # Embedded default: no bundle configured -> the demo bundle, served through ONNX only; if it must be
            # built, a child process does it (torch and open_clip never enter this process).
            from cli.demo_default import ensure_demo_bundle

            settings = settings.model_copy(update={"bundle_path": ensure_demo_bundle(settings, flag)})
        providers = choose_providers(settings.device)
        # a runtime or precision this machine cannot serve stops here with a clear message
        resolve_encoder_runtime(settings.encoder_runtime, settings.encoder_precision, device_of(providers))
        bundle = load_bundle(resolve_bundle_path(settings), providers=providers,
                             session_options=bundle_session_options(settings, providers))
        text_encoder = load_text_for(bundle, settings, weights_flag=flag)
        registry_settings(settings, bundle.manifest.demo)  # an open Redis with a key set: refused here (exit 2)
    except (StartupError, BundleError, MissingWeightsError, RuntimeError) as exc:
        print(f"scale serve: cannot start: {exc}", file=sys.stderr)
        return 2
    app = create_app(settings, bundle=bundle, text_encoder=text_encoder)
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal through the handler it
    # found installed; a no-op handler there makes a graceful stop exit 0 instead of dying by the signal.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level,
                timeout_graceful_shutdown=10, http=problem_protocol())
    log.info("scale serve stopped")
    return 0
