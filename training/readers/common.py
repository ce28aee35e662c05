"""Helpers shared by the readers: pickle-free .npy loading with clear errors, class filtering."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np


def load_npy(path: Path, error: type[ValueError], mmap: bool = False) -> np.ndarray:
    """np.load a .npy file without pickles; every failure becomes `error` naming the file and the problem."""
    if not path.is_file():
        raise error(f"{path}: file not found")
    try:
        return np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise error(f"{path}: holds a pickled/object array; only plain numeric .npy files are read "
                        "(pickles can run code and are never loaded)") from exc
        raise error(f"{path}: not a readable .npy file ({exc})") from exc
    except (OSError, EOFError) as exc:
        raise error(f"{path}: not a readable .npy file ({exc})") from exc


def first_offending(labels: np.ndarray, allowed: Iterable[int], limit: int = 5) -> list[int]:
    """The first (up to `limit`) distinct labels, in order of appearance, that are not in `allowed`."""
    bad = labels[~np.isin(labels, np.fromiter(allowed, dtype=np.int64))]
    _, first_pos = np.unique(bad, return_index=True)
    return [int(bad[i]) for i in sorted(first_pos)[:limit]]


def class_mask(labels: np.ndarray, classes: Iterable[int]) -> np.ndarray:
    """Boolean mask of the samples whose label is in `classes`."""
    return np.isin(np.asarray(labels), np.fromiter(classes, dtype=np.int64))


def relabel(labels: np.ndarray, classes: Iterable[int]) -> np.ndarray:
    """Map global class ids to their position in `classes` (raises if a label is not in `classes`)."""
    classes = np.fromiter(classes, dtype=np.int64)
    lookup = {int(c): i for i, c in enumerate(classes)}
    try:
        return np.array([lookup[int(label)] for label in np.asarray(labels)], dtype=np.int64)
    except KeyError as exc:
        raise ValueError(f"label {exc.args[0]} is not one of the classes {classes.tolist()}") from exc


def filter_classes(data: np.ndarray, labels: np.ndarray, classes: Iterable[int],
                   relabel_to_local: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Keep the samples whose label is in `classes`; optionally map labels to 0..len(classes)-1."""
    classes = tuple(int(c) for c in classes)
    labels = np.asarray(labels)
    if len(data) != len(labels):
        raise ValueError(f"data has {len(data)} samples but labels has {len(labels)}")
    mask = class_mask(labels, classes)
    kept = labels[mask].astype(np.int64)
    return np.asarray(data[mask]), relabel(kept, classes) if relabel_to_local else kept
