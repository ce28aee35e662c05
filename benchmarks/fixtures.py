"""Random-weight models and inputs for benchmarks (timings do not depend on trained weights)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from model.bundle_spec import TextInfo
from model.config import (
    CLIP_CONTEXT_LENGTH,
    DEFAULT_CLIP_MODEL,
    DEFAULT_PROMPT_TEMPLATE,
    PreprocessConfig,
    ScaleConfig,
)
from model.scorer import ScaleScorer
from model.shift_gcn import ShiftGCN


def random_models(seed: int = 0, num_class: int = 60) -> tuple[ShiftGCN, ScaleScorer]:
    """A seeded random-init Shift-GCN encoder and SCALE scorer (default config), both in eval mode."""
    torch.manual_seed(seed)
    return ShiftGCN(num_class=num_class).eval(), ScaleScorer(ScaleConfig()).eval()


def random_text(k: int, seed: int = 0, text_dim: int = 512) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stand-in CLIP features for K classes: global (K,512), tokens (K,77,512), mask with 5..20 real tokens."""
    if k < 1:
        raise ValueError(f"number of classes must be >= 1, got {k}")
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((k, text_dim)).astype(np.float32)
    tokens = rng.standard_normal((k, CLIP_CONTEXT_LENGTH, text_dim)).astype(np.float32)
    lengths = rng.integers(5, 21, size=k)
    mask = (np.arange(CLIP_CONTEXT_LENGTH)[None, :] < lengths[:, None]).astype(np.float32)
    return g, tokens, mask


def random_features(b: int, seed: int = 1, feature_dim: int = 256) -> np.ndarray:
    """B random skeleton features (B, 256) float32."""
    return np.random.default_rng(seed).standard_normal((b, feature_dim)).astype(np.float32)


def export_random_bundle(out_dir: Path, encoder: ShiftGCN, scorer: ScaleScorer, num_frames: int = 300,
                         fp16: bool = False) -> Path:
    """Export the given random models as a model bundle (training/export.py) for onnxruntime timings."""
    from training.export import export_bundle

    info = TextInfo(model_name=DEFAULT_CLIP_MODEL, prompt_template=DEFAULT_PROMPT_TEMPLATE,
                    weights_id="random-init:seed=0")
    return export_bundle(out_dir, encoder, scorer, preprocess=PreprocessConfig(num_frames=num_frames), text=info,
                         training={"dataset": "benchmark-random"}, fp16=fp16, demo=True,
                         note="benchmark bundle: random weights, timings only", overwrite=True)
