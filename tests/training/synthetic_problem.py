"""A generated zero-shot problem packaged the way the scorer stages take it: (problem, texts, split)."""

from __future__ import annotations

import torch

from training.splits import ZeroShotSplit
from training.synthetic import zero_shot_problem
from training.text_cache import ClassTexts


def make_problem(num_classes: int, num_unseen: int, per_class_train: int, per_class_test: int, seed: int):
    """Generate the problem and wrap its text vectors and split (single-threaded torch for stable CI timing)."""
    torch.set_num_threads(1)
    p = zero_shot_problem(num_classes=num_classes, num_unseen=num_unseen, per_class_train=per_class_train,
                          per_class_test=per_class_test, seed=seed)
    names = tuple(f"c{i}" for i in range(num_classes))
    texts = ClassTexts(p.text_global, p.text_tokens, p.token_mask, names, "synthetic")
    split = ZeroShotSplit("synthetic", "synthetic", num_classes, tuple(p.seen), tuple(p.unseen), "none")
    return p, texts, split
