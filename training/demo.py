"""A small self-contained demo bundle for the service's embedded default (labels are NOT meaningful)."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model.bundle_spec import TextInfo
from model.config import DEFAULT_PROMPT_TEMPLATE, PreprocessConfig, ScaleConfig
from model.demo_cache import DEMO_ENCODER_LAYOUT, DEMO_SEED, demo_reusable
from model.losses import cyclical_beta, total_loss
from model.scorer import ScaleScorer
from training.export import export_bundle

log = logging.getLogger(__name__)

DEMO_ACTIONS = ("walking", "sitting down", "standing up", "jumping", "waving a hand", "clapping",
                "drinking water", "kicking something", "falling down", "pointing with a finger")
DEMO_NOTE = ("DEMO bundle: random-init Shift-GCN encoder and a scorer trained for seconds on generated features; "
             "its labels and rankings are NOT meaningful. Configure a trained bundle for real recognition.")
_TRAIN_STEPS = 60
_BATCH = 64


def build_demo_bundle(out_dir: str | Path, text_encoder: Any = None, seed: int = DEMO_SEED, num_frames: int = 300,
                      encoder_checkpoint: str | Path | None = None) -> Path:
    """Build (or reuse, when the manifest matches) a demo bundle in out_dir and return its path."""
    from model.shift_gcn import ShiftGCN, load_shift_gcn
    from model.text import load_text_encoder, make_prompt

    out = Path(out_dir)
    if text_encoder is None:
        text_encoder = load_text_encoder(random_init_seed=seed)
    encoder_id = _encoder_id(encoder_checkpoint)
    if _reusable(out, text_encoder.weights_id, seed, num_frames, encoder_id):
        return out
    started = time.monotonic()
    progress = demo_progress()
    torch.manual_seed(seed)
    if encoder_checkpoint is None:
        encoder = ShiftGCN(num_class=60)
    else:
        encoder = load_shift_gcn(encoder_checkpoint)
    template = DEFAULT_PROMPT_TEMPLATE
    progress.set_postfix_str("encoding the demo class texts")
    text = text_encoder.encode([make_prompt(name, template=template) for name in DEMO_ACTIONS])
    progress.update()
    progress.set_postfix_str("training the demo scorer")
    scorer, top1 = train_demo_scorer(text, seed)
    progress.update()
    progress.set_postfix_str("exporting ONNX graphs and the CLIP text graph (the slow part)")
    training = {"dataset": "demo-generated", "demo_seed": seed, "encoder": encoder_id,
                "encoder_layout": DEMO_ENCODER_LAYOUT,
                "classes": list(DEMO_ACTIONS), "steps": _TRAIN_STEPS,
                "metrics": {"generated_heldout_top1": top1}}
    info = TextInfo(model_name=getattr(text_encoder, "model_name", "ViT-B-32-quickgelu"),
                    prompt_template=template, weights_id=text_encoder.weights_id)
    try:
        export_bundle(out, encoder, scorer, preprocess=PreprocessConfig(num_frames=num_frames), text=info,
                      training=training, demo=True, note=DEMO_NOTE, overwrite=True,
                      text_encoder=text_encoder)
    except OSError:
        # another replica published the same demo bundle between our check and our rename
        if not _reusable(out, text_encoder.weights_id, seed, num_frames, encoder_id):
            raise
    progress.update()
    progress.close()
    elapsed = time.monotonic() - started
    print(f"built the demo bundle in {out} in {elapsed:.0f} s (reused on the next start)", file=sys.stderr)
    log.info("built demo bundle in %s (%.1fs)", out, elapsed)
    return out


def demo_progress() -> Any:
    """A 3-step progress bar on stderr for the first demo build (about a minute on a 2-core CPU)."""
    from tqdm import tqdm

    return tqdm(total=3, desc="building the demo bundle", unit="step", file=sys.stderr,
                bar_format="{desc}: {n}/{total} steps, {elapsed} elapsed{postfix}")


def _encoder_id(path: str | Path | None) -> str:
    if path is None:
        return "random-init"
    from model.bundle_spec import sha256_hex

    return "sha256:" + sha256_hex(Path(path).read_bytes())


def _reusable(out: Path, weights_id: str, seed: int, num_frames: int, encoder_id: str) -> bool:
    """An existing, intact demo bundle built with the same text weights, seed, frames and encoder."""
    return demo_reusable(out, weights_id, seed, num_frames, encoder_id)


def generated_features(text_global: np.ndarray, n_per_class: int, seed: int,
                       feature_dim: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Features whose class means are a fixed random linear map of the normalised text embeddings."""
    rng = np.random.default_rng(seed)
    g = text_global / np.linalg.norm(text_global, axis=1, keepdims=True)
    g = g - g.mean(0)  # random towers give nearly parallel embeddings; centring keeps classes apart
    g = g / np.linalg.norm(g, axis=1, keepdims=True)
    w = rng.normal(size=(g.shape[1], feature_dim)) * 2.0
    means = g @ w
    y = np.repeat(np.arange(len(g)), n_per_class)
    x = means[y] + rng.normal(scale=0.5, size=(len(y), feature_dim))
    return x.astype(np.float32), y.astype(np.int64)


def train_demo_scorer(text: Any, seed: int, steps: int = _TRAIN_STEPS) -> tuple[ScaleScorer, float]:
    """Train a ScaleScorer for a few seconds on generated features; returns it and its held-out top-1."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x_all, y_all = generated_features(np.asarray(text.global_emb), n_per_class=48, seed=seed)
    test_mask = np.arange(len(y_all)) % 6 == 0
    x, y = torch.from_numpy(x_all[~test_mask]), torch.from_numpy(y_all[~test_mask])
    scorer = ScaleScorer(ScaleConfig())
    opt = torch.optim.AdamW(scorer.parameters(), lr=3e-3, weight_decay=1e-3, foreach=True)
    scorer.train()
    for step in range(steps):
        idx = torch.randint(0, len(y), (_BATCH,), generator=gen)
        beta = cyclical_beta(step, steps, cycles=4)
        loss = total_loss(scorer, x[idx], y[idx], text, beta=beta, generator=gen).total
        opt.zero_grad()
        loss.backward()
        opt.step()
    scorer.eval()
    with torch.no_grad():
        g, tok, mask = (torch.as_tensor(np.asarray(a), dtype=torch.float32)
                        for a in (text.global_emb, text.tokens, text.mask))
        energy = scorer.energy(torch.from_numpy(x_all[test_mask]), scorer.class_side(g, tok, mask))
    top1 = float((energy.argmin(1).numpy() == y_all[test_mask]).mean())
    return scorer, top1
