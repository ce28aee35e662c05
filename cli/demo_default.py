"""`scale serve`'s embedded default: the demo bundle found in the cache without torch, or built in a child.

The serving process never imports torch or open_clip for the demo: a cached bundle is checked from its
manifest (model/demo_cache.py) and served through its ONNX graphs, text graph included; a missing or stale
one is built by a child process, which exits (and takes torch with it) before the server loads it.
"""

from __future__ import annotations

import logging
import multiprocessing
from pathlib import Path
from typing import Any

from model.demo_cache import DEMO_SEED, demo_reusable
from service.engine.loading import StartupError
from service.settings import Settings

log = logging.getLogger("scale.serve")


def expected_weights_id(clip_weights: Path | None) -> str | None:
    """The text weights id the demo must carry: the seeded random tower, or the sha256 of a weights file."""
    if clip_weights is None:
        return f"random-init:seed={DEMO_SEED}"
    if clip_weights.is_file():
        from model.text import sha256_file

        return f"sha256:{sha256_file(clip_weights)}"
    return None  # a directory or a missing file: the builder resolves it and reports what is wrong


def build_demo(demo_dir: str, clip_weights: str | None, flag: str | None) -> None:
    """Load the text tower and build (or reuse) the demo bundle: runs in the child process."""
    from model.text import load_text_encoder
    from service.settings import setting_source
    from training.demo import build_demo_bundle

    text = (load_text_encoder(clip_weights, source=setting_source("clip_weights", flag)) if clip_weights is not None
            else load_text_encoder(random_init_seed=DEMO_SEED))
    log.warning("building the DEMO bundle in %s with %s text weights (its rankings are NOT meaningful)",
                demo_dir, text.weights_id)
    build_demo_bundle(demo_dir, text_encoder=text, seed=DEMO_SEED)


def _child(conn: Any, args: tuple) -> None:
    try:
        build_demo(*args)
    except BaseException as exc:  # every failure goes back to the parent as its message
        conn.send(str(exc) or type(exc).__name__)
        raise SystemExit(2) from None
    conn.send(None)


def run_in_child(demo_dir: str, clip_weights: str | None, flag: str | None) -> None:
    """Run build_demo in a fresh (spawned) interpreter; its error becomes a StartupError here."""
    args = (demo_dir, clip_weights, flag)
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(sender, args), name="scale-demo-build")
    proc.start()
    sender.close()
    proc.join()
    message = receiver.recv() if receiver.poll() else None
    if message is not None or proc.exitcode != 0:
        raise StartupError(message or f"the demo bundle build exited with code {proc.exitcode}")


def ensure_demo_bundle(settings: Settings, flag: str | None) -> Path:
    """The demo bundle in settings.demo_dir, reused from the cache or built in a child process."""
    weights_id = expected_weights_id(settings.clip_weights)
    if weights_id is not None and demo_reusable(settings.demo_dir, weights_id):
        log.warning("no trained bundle configured: serving the cached DEMO bundle in %s with %s text weights "
                    "(its rankings are NOT meaningful)", settings.demo_dir, weights_id)
        return settings.demo_dir
    clip = str(settings.clip_weights) if settings.clip_weights is not None else None
    run_in_child(str(settings.demo_dir), clip, flag)
    return settings.demo_dir
