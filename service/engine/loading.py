"""Start-up loading shared by the app factory and hot reload: the bundle's path and its CLIP text tower."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from model.bundle import Bundle
from service.settings import Settings, setting_source

_RANDOM_INIT = re.compile(r"^random-init:seed=(\d+)$")

_NO_BUNDLE = ("no model bundle in {path} (SCALE_BUNDLE_PATH; empty folder, no manifest.json): export one with "
              "`scale export` and point SCALE_BUNDLE_PATH at it (docker compose: HOST_BUNDLE_DIR in .env), or "
              "run the demo image: `docker compose --profile demo up -d scale-demo` (see docs/deploy.md)")


class StartupError(RuntimeError):
    """The service cannot start with this configuration (message says what to change)."""


def resolve_bundle_path(settings: Settings) -> Path:
    """settings.bundle_path, else the demo bundle in settings.demo_dir when one was built there."""
    if settings.bundle_path is not None:
        if settings.bundle_path.is_dir() and not (settings.bundle_path / "manifest.json").exists():
            raise StartupError(_NO_BUNDLE.format(path=settings.bundle_path))
        return settings.bundle_path
    if (settings.demo_dir / "manifest.json").is_file():
        return settings.demo_dir
    raise StartupError(f"no model bundle: set SCALE_BUNDLE_PATH, or run `scale serve --demo` to build the "
                       f"demo bundle in {settings.demo_dir}")


def load_text_for(bundle: Bundle, settings: Settings, text_encoder: Any = None, weights_flag: str | None = None) -> Any:
    """The CLIP text tower the bundle was exported with: its text graph when it has one (no torch), else
    open_clip; refuses weights whose id differs from the manifest's."""
    from model.text import load_text_encoder

    info = bundle.manifest.text
    if text_encoder is None and bundle.manifest.text_graph is not None:
        from model.text_onnx import OnnxTextEncoder

        return OnnxTextEncoder.from_bundle(bundle.root, bundle.manifest, providers=bundle.providers())
    if text_encoder is None:
        seed = _RANDOM_INIT.match(info.weights_id)
        if seed:
            text_encoder = load_text_encoder(model_name=info.model_name, random_init_seed=int(seed.group(1)))
        else:
            text_encoder = load_text_encoder(settings.clip_weights, model_name=info.model_name,
                                             source=setting_source("clip_weights", weights_flag))
    if text_encoder.weights_id != info.weights_id:
        raise StartupError(f"CLIP text weights {text_encoder.weights_id} differ from the ones bundle "
                           f"{bundle.version} was exported with ({info.weights_id}); configure the matching "
                           "file with SCALE_CLIP_WEIGHTS / --clip-weights")
    return text_encoder
