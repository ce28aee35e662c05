"""256-d features of a trained encoder, written in the SynSE / SA-DVAE feature-folder layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from model.shift_gcn import ShiftGCN
from model.single_person import SinglePersonEncoder, features_split
from training.encoder_train import check_skeleton_data, load_encoder
from training.scorer_train import pick_device


@torch.no_grad()
def encode_clips(model: ShiftGCN, data: np.ndarray, device: torch.device, batch_size: int = 64,
                 progress: bool = True, desc: str = "features", index: np.ndarray | None = None) -> np.ndarray:
    """(N, 3, T, 25, 2) clips (rows `index` only, when given) -> (n, 256) float32 features, no gradient.

    Clips whose second person is absent take the exact single-person path (half the encoder work).
    """
    model.eval()
    single = SinglePersonEncoder(model, data.shape[2]) if data.ndim == 5 and model.num_person == 2 else None
    index = np.arange(len(data)) if index is None else np.asarray(index)
    out = []
    for i in tqdm(range(0, len(index), batch_size), desc=desc, disable=not progress, leave=False):
        # batch-wise reads keep a memory-mapped cache on disk instead of copying it whole
        x = torch.as_tensor(np.asarray(data[index[i:i + batch_size]], dtype=np.float32), device=device)
        out.append(features_split(model, single, x).cpu().numpy())
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 256), np.float32)


def extract_features(
    encoder_path: str | Path, train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray],
    split: Any, out_dir: str | Path, val_classes: list[int] | None = None, device: str = "auto",
    batch_size: int = 64, progress: bool = True,
) -> Path:
    """Write train (seen, X-sub train), ztest (unseen, X-sub test), gtest (all, X-sub test) and val.

    `val` holds the X-sub *training* clips of `val_classes` (the pseudo-unseen classes used for model
    selection), so the selection split never touches test clips. Labels stay global class ids.
    """
    from training.readers import FeatureSet, write_feature_folder

    seen, unseen = sorted(split.seen), sorted(split.unseen)
    every = sorted(seen + unseen)
    train_x, train_y = train
    test_x, test_y = test
    keep = np.isin(train_y, seen)  # unseen training clips exist in the cache but are never used
    check_skeleton_data(train_x, train_y, every, "extract: training clips")
    check_skeleton_data(test_x, test_y, every, "extract: test clips")
    if not np.isin(test_y, unseen).any():
        raise ValueError(f"extract: the test clips contain no unseen class of {split.name}; nothing to evaluate")
    dev = pick_device(device)
    model, enc_seen = load_encoder(encoder_path, dev)
    if enc_seen != seen:
        raise ValueError(f"{encoder_path} was trained on classes {enc_seen[:8]}..., not the seen classes of "
                         f"{split.name}")
    idx = np.flatnonzero(keep)
    f_train = encode_clips(model, train_x, dev, batch_size, progress, "train features", index=idx)
    y_train = train_y[idx]
    f_test = encode_clips(model, test_x, dev, batch_size, progress, "test features")
    z = np.isin(test_y, unseen)
    val = None
    if val_classes:
        v = np.isin(y_train, val_classes)
        val = FeatureSet(f_train[v], y_train[v])
    return write_feature_folder(out_dir, FeatureSet(f_train, y_train), FeatureSet(f_test[z], test_y[z]),
                                FeatureSet(f_test, test_y), val)
