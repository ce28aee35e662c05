"""Whether a cached demo bundle can be reused, decided from its manifest alone (no torch, no open_clip)."""

from __future__ import annotations

import logging
from pathlib import Path

from model.bundle import BundleError, read_manifest, verify_files

log = logging.getLogger(__name__)

DEMO_SEED = 0  # seeds the demo's random encoder, its random text tower and its generated data
DEMO_NUM_FRAMES = 300
RANDOM_ENCODER = "random-init"
# How the demo's encoder graphs were laid out at export; a cache exported another way is rebuilt, so that
# an upgrade serves the faster row-layout graphs (model/row_layout.py) instead of an older cache's.
DEMO_ENCODER_LAYOUT = "rows"


def demo_reusable(out: Path, weights_id: str, seed: int = DEMO_SEED, num_frames: int = DEMO_NUM_FRAMES,
                  encoder_id: str = RANDOM_ENCODER) -> bool:
    """An existing, intact demo bundle built with the same text weights, seed, frames and encoder."""
    if not (out / "manifest.json").is_file():
        return False
    try:
        manifest = read_manifest(out)
        verify_files(out, manifest)
    except BundleError as exc:
        log.warning("rebuilding demo bundle: %s", exc)
        return False
    return (manifest.demo and manifest.text_graph is not None and manifest.text.weights_id == weights_id
            and manifest.num_frames == num_frames and manifest.training.get("demo_seed") == seed
            and manifest.training.get("encoder") == encoder_id
            and manifest.training.get("encoder_layout") == DEMO_ENCODER_LAYOUT)
