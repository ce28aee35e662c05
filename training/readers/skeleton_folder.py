"""Raw NTU ``.skeleton`` folder -> preprocessed, memory-mapped cache split by protocol (docs/data.md).

Layout written: ``<out>/<benchmark>/{train,val}_data.npy`` (N, 3, T, 25, 2) float32, ``{part}_label.npy``
(N,) int64, ``{part}_names.txt`` and ``meta.json`` (counts, skipped and failed samples).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from functools import partial
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from tqdm import tqdm

from model.config import NUM_CHANNELS, NUM_JOINTS, NUM_PERSONS, PreprocessConfig
from model.skeleton_io import parse_sample_name
from training.readers.common import load_npy
from training.readers.protocols import check_benchmark, in_dataset, is_training, load_missing

log = logging.getLogger(__name__)
PARTS = ("train", "val")
_COPY_CHUNK = 256


class SkeletonCacheError(ValueError):
    """A skeleton cache that is missing or inconsistent."""


@dataclass(frozen=True)
class SkeletonCache:
    """What build_skeleton_cache wrote, and what it skipped or could not read."""

    root: Path
    dataset: str
    benchmark: str
    num_frames: int
    counts: dict[str, int]
    skipped_missing: tuple[str, ...] = ()
    skipped_other_dataset: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = field(default=())

    def load(self, part: str) -> tuple[np.ndarray, np.ndarray]:
        """(data memmap, labels) of part train|val."""
        return read_skeleton_cache(self.root, part)


def read_joints(path: str) -> np.ndarray:
    """(M, T, 25, 3) joints of one clip: NTU .skeleton, a pickle-free .npy, or JSON (a nested list, or an
    object whose "skeleton" or "joints" member is one), (T, 25, 3) taken as one person."""
    from model.skeleton_io import read_skeleton

    if path.endswith(".skeleton"):
        seq = read_skeleton(path)
        if int(seq.body_counts.max(initial=0)) == 0:
            raise ValueError("no body in any frame")
        return seq.joints
    if path.endswith(".npy"):
        joints = np.load(path, allow_pickle=False)
    elif path.endswith(".json"):
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        joints = np.asarray(data.get("skeleton", data.get("joints")) if isinstance(data, dict) else data,
                            dtype=np.float64)
    else:
        raise ValueError(f"unsupported clip file type {Path(path).suffix!r} (.skeleton, .npy or .json)")
    joints = joints[None] if joints.ndim == 3 else joints
    if joints.ndim != 4 or joints.shape[2:] != (NUM_JOINTS, 3) or not np.issubdtype(joints.dtype, np.number):
        raise ValueError(f"expected numeric (M, T, {NUM_JOINTS}, 3) or (T, {NUM_JOINTS}, 3) joints, got {joints.shape}")
    if not np.isfinite(joints).all() or not np.any(joints):
        raise ValueError("joints are all zero or not finite")
    return joints


def _process(path: str, num_frames: int) -> tuple[np.ndarray | None, str | None]:
    """Read and preprocess one clip to (3, T, 25, 2); errors come back as text so the pool keeps going."""
    from model.preprocess import preprocess_sequence

    try:
        persons = preprocess_sequence(read_joints(path), PreprocessConfig(num_frames=num_frames))  # (2, T, V, C)
        return np.ascontiguousarray(np.transpose(persons, (3, 1, 2, 0)), dtype=np.float32), None
    except Exception as exc:  # noqa: BLE001 - any per-file failure is reported and the file skipped
        return None, f"{type(exc).__name__}: {exc}"


def _scan(src: Path, dataset: str, benchmark: str, missing: frozenset[str]):
    parts: dict[str, list[tuple[Path, int]]] = {p: [] for p in PARTS}
    skipped_missing, other, failed = [], [], []
    for path in sorted(src.glob("*.skeleton")):
        name = path.name[: -len(".skeleton")]
        try:
            sample = parse_sample_name(path.name)
        except ValueError as exc:
            failed.append((path.name, str(exc)))
            continue
        if not in_dataset(sample, dataset):
            other.append(name)
        elif name in missing:
            skipped_missing.append(name)
        else:
            parts["train" if is_training(sample, dataset, benchmark) else "val"].append((path, sample.label))
    return parts, skipped_missing, other, failed


def _finalize(tmp: Path, final: Path, filled: int, total: int, shape: tuple[int, ...]) -> None:
    """Move the packed temp memmap into place, shrinking it when some files failed."""
    if filled == total:
        os.replace(tmp, final)
        return
    if filled == 0:
        np.save(final, np.zeros((0, *shape), dtype=np.float32), allow_pickle=False)
    else:
        src = np.load(tmp, mmap_mode="r")
        dst = np.lib.format.open_memmap(final, mode="w+", dtype=np.float32, shape=(filled, *shape))
        for start in range(0, filled, _COPY_CHUNK):
            stop = min(start + _COPY_CHUNK, filled)
            dst[start:stop] = src[start:stop]
        dst.flush()
        del src, dst
    tmp.unlink()


def _write_part(pool_map, items: list[tuple[Path, int]], out: Path, part: str, num_frames: int,
                progress: bool, failed: list[tuple[str, str]]) -> int:
    shape = (NUM_CHANNELS, num_frames, NUM_JOINTS, NUM_PERSONS)
    tmp, final = out / f"{part}_data.npy.partial", out / f"{part}_data.npy"
    names, labels, filled = [], [], 0
    data = (np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(len(items), *shape))
            if items else None)
    results = pool_map([str(p) for p, _ in items])
    for (path, label), (array, error) in tqdm(zip(items, results, strict=True), total=len(items),
                                              desc=f"{part}", disable=not progress):
        if error is not None:
            log.warning("skipping %s: %s", path.name, error)
            failed.append((path.name, error))
            continue
        data[filled] = array
        names.append(path.stem)
        labels.append(label)
        filled += 1
    if data is not None:
        data.flush()
        del data
        _finalize(tmp, final, filled, len(items), shape)
    else:
        np.save(final, np.zeros((0, *shape), dtype=np.float32), allow_pickle=False)
    np.save(out / f"{part}_label.npy", np.asarray(labels, dtype=np.int64), allow_pickle=False)
    (out / f"{part}_names.txt").write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
    return filled


def write_parts(parts: dict[str, list[tuple[Path, int]]], out: Path, num_frames: int, workers: int | None,
                progress: bool, failed: list[tuple[str, str]]) -> dict[str, int]:
    """Preprocess the (file, label) items of each part into the cache layout; returns clips written per part."""
    workers = max(1, min(os.cpu_count() or 1, 8) if workers is None else workers)
    worker = partial(_process, num_frames=num_frames)
    counts: dict[str, int] = {}
    if workers == 1:
        for part in PARTS:
            counts[part] = _write_part(lambda paths: map(worker, paths), parts[part], out, part, num_frames,
                                       progress, failed)
    else:
        with Pool(workers) as pool:
            for part in PARTS:
                counts[part] = _write_part(lambda paths: pool.imap(worker, paths, chunksize=4), parts[part],
                                           out, part, num_frames, progress, failed)
    return counts


def build_skeleton_cache(src_dir: str | Path, out_dir: str | Path, benchmark: str = "xsub",
                         dataset: str = "ntu60", num_frames: int = 300, workers: int | None = None,
                         progress: bool = True, missing_list: str | Path | None = None) -> SkeletonCache:
    """Parse, preprocess and cache every ``*.skeleton`` in `src_dir`, split by `benchmark`.

    Published missing-skeleton samples (or those in `missing_list`) and samples outside `dataset` are
    skipped; files that fail to parse are logged, listed in ``meta.json`` and skipped.
    """
    check_benchmark(dataset, benchmark)
    PreprocessConfig(num_frames=num_frames)  # validates num_frames early with a clear message
    src = Path(src_dir)
    if not src.is_dir():
        raise FileNotFoundError(f"{src}: skeleton folder not found")
    parts, skipped_missing, other, failed = _scan(src, dataset, benchmark, load_missing(dataset, missing_list))
    for name, error in failed:
        log.warning("skipping %s: %s", name, error)
    out = Path(out_dir) / benchmark
    out.mkdir(parents=True, exist_ok=True)
    counts = write_parts(parts, out, num_frames, workers, progress, failed)
    cache = SkeletonCache(root=out, dataset=dataset, benchmark=benchmark, num_frames=num_frames,
                          counts=counts, skipped_missing=tuple(skipped_missing),
                          skipped_other_dataset=tuple(other), failed=tuple(failed))
    meta = {"dataset": dataset, "benchmark": benchmark, "num_frames": num_frames,
            "preprocess": PreprocessConfig(num_frames=num_frames).to_dict(), "counts": counts,
            "skipped_missing": list(skipped_missing), "skipped_other_dataset": other,
            "failed": [{"name": n, "error": e} for n, e in failed]}
    (out / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return cache


def read_skeleton_cache(path: str | Path, part: str) -> tuple[np.ndarray, np.ndarray]:
    """Open ``<path>/{part}_data.npy`` as a read-only memmap (N, 3, T, 25, 2) with its (N,) labels."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, got {part!r}")
    root = Path(path)
    data = load_npy(root / f"{part}_data.npy", SkeletonCacheError, mmap=True)
    labels = load_npy(root / f"{part}_label.npy", SkeletonCacheError)
    if data.ndim != 5 or data.shape[1] != NUM_CHANNELS or data.shape[3:] != (NUM_JOINTS, NUM_PERSONS):
        raise SkeletonCacheError(f"{root / f'{part}_data.npy'}: expected (N, 3, T, 25, 2), got {data.shape}")
    if labels.ndim != 1 or len(labels) != len(data) or not np.issubdtype(labels.dtype, np.integer):
        raise SkeletonCacheError(f"{root / f'{part}_label.npy'}: expected {len(data)} integer labels, "
                                 f"got shape {labels.shape} dtype {labels.dtype}")
    return data, labels.astype(np.int64)
