"""Your own dataset (training/datasets.py) -> the same preprocessed, memory-mapped cache as NTU's."""

from __future__ import annotations

import json
from pathlib import Path

from model.config import PreprocessConfig
from training.datasets import DatasetSpec
from training.readers.skeleton_folder import PARTS, SkeletonCache, write_parts


def build_dataset_cache(spec: DatasetSpec, out_dir: str | Path, num_frames: int = 300, workers: int | None = None,
                        progress: bool = True) -> SkeletonCache:
    """Read and preprocess every clip of `spec` into ``<out_dir>/xsub/{train,val}_*`` (val = the test part).

    A clip that cannot be read is logged, listed in ``meta.json`` under ``failed`` and skipped.
    """
    PreprocessConfig(num_frames=num_frames)
    out = Path(out_dir) / "xsub"  # the stages read <cache>/xsub whatever the dataset's protocol is called
    out.mkdir(parents=True, exist_ok=True)
    parts: dict[str, list[tuple[Path, int]]] = {p: [] for p in PARTS}
    failed: list[tuple[str, str]] = []
    for clip in spec.clips:
        if clip.path.is_file():
            parts[clip.part].append((clip.path, clip.label))
        else:
            failed.append((clip.path.name, f"{clip.path}: file not found"))
    counts = write_parts(parts, out, num_frames, workers, progress, failed)
    meta = {"dataset": spec.name, "benchmark": spec.test_by, "num_frames": num_frames, "source": str(spec.file),
            "preprocess": PreprocessConfig(num_frames=num_frames).to_dict(), "counts": counts,
            "skipped_missing": [], "skipped_other_dataset": [],
            "failed": [{"name": n, "error": e} for n, e in failed]}
    (out / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return SkeletonCache(root=out, dataset=spec.name, benchmark=spec.test_by, num_frames=num_frames, counts=counts,
                         failed=tuple(failed))
