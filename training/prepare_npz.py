"""CTR-GCN style npz -> the skeleton cache layout that read_skeleton_cache reads (train/val parts)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np


def valid_length(clip: np.ndarray) -> int:
    """Frames up to the last one holding any non-zero joint of clip (3, T, 25, 2); at least 1."""
    nonzero = np.flatnonzero(np.abs(clip).sum(axis=(0, 2, 3)) > 0)
    return int(nonzero[-1]) + 1 if len(nonzero) else 1


def resample_clip(clip: np.ndarray, num_frames: int) -> np.ndarray:
    """Nearest-frame resampling of the valid part of clip (3, T, 25, 2) to num_frames frames."""
    length = valid_length(clip)
    idx = np.rint(np.linspace(0, length - 1, num_frames)).astype(np.int64)
    return clip[:, idx]


def npz_to_cache(src: str | Path, out_dir: str | Path, num_frames: int, num_classes: int,
                 dataset: str | None = None) -> Path:
    """Write <out_dir>/{train,val}_data.npy (N,3,num_frames,25,2) + labels from an npz's train/test parts.

    CTR-GCN npz clips are already centred and zero-padded to 300 frames; the valid part of each clip is
    resampled to `num_frames` (nearest frame) so Shift-GCN gets a multiple of 4 frames. `dataset`
    (ntu60|ntu120) is recorded in meta.json so a later stage can refuse the cache for the other dataset.
    """
    from training.readers import read_ctrgcn_npz

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for part, cache_part in (("train", "train"), ("test", "val")):
        data, labels = read_ctrgcn_npz(src, part)
        if len(labels) and labels.max() >= num_classes:
            raise ValueError(f"{src}: y_{part} has class {int(labels.max())}, outside the {num_classes} classes")
        # clip by clip into a memmap: a full NTU archive would otherwise be held in memory several times over
        tmp, final = out / f"{cache_part}_data.npy.partial", out / f"{cache_part}_data.npy"
        clips = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32,
                                          shape=(len(data), 3, num_frames, 25, 2))
        for i, clip in enumerate(data):
            clips[i] = resample_clip(clip, num_frames)
        clips.flush()
        del clips, data
        os.replace(tmp, final)
        np.save(out / f"{cache_part}_label.npy", labels.astype(np.int64), allow_pickle=False)
        counts[cache_part] = len(labels)
    meta = {"source": str(src), "num_frames": num_frames, "counts": counts}
    if dataset is not None:
        meta["dataset"] = dataset
    (out / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return out
