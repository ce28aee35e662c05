"""Open-set calibration at export: the energy threshold that accepts 95 % of pseudo-unseen validation samples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from model.openset import DEFAULT_TPR, calibrate_threshold
from model.scorer import ScaleScorer
from training.text_cache import ClassTexts


def calibrate_open_set(scorer: ScaleScorer, x: np.ndarray, y: np.ndarray, texts: ClassTexts, classes: list[int],
                       tpr: float = DEFAULT_TPR, source: str = "pseudo-unseen validation classes") -> dict[str, Any]:
    """The manifest's `open_set` entry: threshold on the best energy of in-set samples among `classes`."""
    from training.scorer_train import class_energies

    keep = np.isin(y, classes)
    if not keep.any():
        raise ValueError(f"no calibration samples of the classes {classes[:10]}")
    energy = class_energies(scorer, x[keep], texts, list(classes))
    best = energy.min(axis=1)
    # percent, like every accuracy in results.json
    top1 = float((np.asarray(classes)[energy.argmin(axis=1)] == y[keep]).mean() * 100.0)
    return {"threshold": calibrate_threshold(best, tpr), "tpr": tpr, "source": source,
            "classes": [int(c) for c in classes], "samples": int(keep.sum()), "in_set_top1": top1}


def calibrate_from_config(config_path: str | Path, scorer: ScaleScorer, tpr: float = DEFAULT_TPR) -> dict[str, Any]:
    """Calibrate on the `val` part (pseudo-unseen classes held out of the seen set) of a pipeline's features."""
    from training.config import load_config
    from training.pipeline import features_dir, split_of
    from training.readers import read_feature_folder
    from training.stages import texts_for

    cfg = load_config(config_path)
    folder = read_feature_folder(features_dir(cfg), split_of(cfg))
    if folder.val is None:
        raise ValueError(f"{features_dir(cfg)} has no val part (pseudo-unseen validation features); "
                         "run `scale extract` with a validation split")
    classes = sorted(np.unique(folder.val.labels).tolist())
    return calibrate_open_set(scorer, folder.val.features, folder.val.labels, texts_for(cfg), classes, tpr)
