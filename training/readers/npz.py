"""CTR-GCN style ``NTU60_CS.npz`` / ``NTU120_CSub.npz``: x_{part} (N, T, 150), y_{part} one-hot (N, K).

150 = 2 persons x 25 joints x 3 coordinates, person-major. The reader returns the Shift-GCN layout
(N, 3, T, 25, 2) float32 and class ids (N,) int64.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from model.config import NUM_CHANNELS, NUM_JOINTS, NUM_PERSONS

_FLAT = NUM_PERSONS * NUM_JOINTS * NUM_CHANNELS


class NpzFormatError(ValueError):
    """An .npz file that is not a usable CTR-GCN style skeleton archive."""


def _load_key(archive: np.lib.npyio.NpzFile, path: Path, key: str) -> np.ndarray:
    if key not in archive.files:
        raise NpzFormatError(f"{path}: missing array {key!r} (has {sorted(archive.files)})")
    try:
        return archive[key]
    except ValueError as exc:
        raise NpzFormatError(f"{path}: array {key!r} is a pickled/object array; only plain numeric "
                             "arrays are read (pickles can run code and are never loaded)") from exc


def _labels(path: Path, key: str, y: np.ndarray, n: int) -> np.ndarray:
    if y.ndim == 2 and np.issubdtype(y.dtype, np.number):
        if not np.all((y == 0) | (y == 1)) or not np.all(y.sum(axis=1) == 1):
            raise NpzFormatError(f"{path}: {key} is 2-D but not one-hot (each row must hold a single 1)")
        labels = y.argmax(axis=1)
    elif y.ndim == 1 and np.issubdtype(y.dtype, np.integer):
        labels = y
    else:
        raise NpzFormatError(f"{path}: {key} must be one-hot (N, K) or integer ids (N,), "
                             f"got shape {y.shape} dtype {y.dtype}")
    if len(labels) != n:
        raise NpzFormatError(f"{path}: {key} has {len(labels)} rows but x has N={n}")
    return labels.astype(np.int64)


def read_ctrgcn_npz(path: str | Path, part: str) -> tuple[np.ndarray, np.ndarray]:
    """Read part train|test of a CTR-GCN npz as (data (N,3,T,25,2) float32, labels (N,) int64)."""
    path = Path(path)
    if part not in ("train", "test"):
        raise ValueError(f"part must be 'train' or 'test', got {part!r}")
    if not path.is_file():
        raise NpzFormatError(f"{path}: file not found")
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise NpzFormatError(f"{path}: not a readable .npz archive ({exc})") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise NpzFormatError(f"{path}: expected an .npz archive, found a single .npy array")
    with archive:
        x = _load_key(archive, path, f"x_{part}")
        y = _load_key(archive, path, f"y_{part}")
    if x.ndim != 3 or x.shape[2] != _FLAT:
        raise NpzFormatError(f"{path}: x_{part} must have shape (N, T, {_FLAT}) "
                             f"(2 persons x 25 joints x 3), got {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise NpzFormatError(f"{path}: x_{part} must be a float array, got dtype {x.dtype}")
    labels = _labels(path, f"y_{part}", y, len(x))
    n, t = x.shape[:2]
    data = x.reshape(n, t, NUM_PERSONS, NUM_JOINTS, NUM_CHANNELS).transpose(0, 4, 1, 3, 2)
    return np.ascontiguousarray(data, dtype=np.float32), labels
