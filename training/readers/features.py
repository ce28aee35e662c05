"""Pre-extracted skeleton features in the SynSE / SA-DVAE / TDSM / SMIE folder layout (docs/data.md).

``train.npy`` + ``train_label.npy`` (seen classes), ``ztest.npy`` + ``z_label.npy`` (unseen classes;
SMIE's ``test.npy`` + ``test_label.npy`` accepted instead), optional ``gtest.npy`` + ``g_label.npy``
(+ ``gtest_out.npy``) and ``val.npy`` + ``val_label.npy``. Labels are global class ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.config import FEATURE_DIM
from training.readers.common import class_mask, first_offending, load_npy
from training.splits import ZeroShotSplit, as_split

# part -> (feature file, label file); the first pair that exists wins
_LAYOUT: dict[str, tuple[tuple[str, str], ...]] = {
    "train": (("train.npy", "train_label.npy"),),
    "ztest": (("ztest.npy", "z_label.npy"), ("test.npy", "test_label.npy")),
    "gtest": (("gtest.npy", "g_label.npy"),),
    "val": (("val.npy", "val_label.npy"),),
}


class FeatureFolderError(ValueError):
    """A feature folder that cannot be used: missing file, bad shape/dtype, pickle, or labels off-split."""


@dataclass(frozen=True)
class FeatureSet:
    """Features (N, D) float32 with their global class ids (N,) int64."""

    features: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, classes: tuple[int, ...] | list[int]) -> FeatureSet:
        """The samples whose label is in `classes` (labels stay global)."""
        mask = class_mask(self.labels, classes)
        return FeatureSet(self.features[mask], self.labels[mask])


@dataclass(frozen=True)
class FeatureFolder:
    """The parts of one feature folder; gtest/val/gtest_out are None when absent."""

    train: FeatureSet
    ztest: FeatureSet
    gtest: FeatureSet | None = None
    val: FeatureSet | None = None
    gtest_out: np.ndarray | None = None


def _check_features(path: Path, array: np.ndarray, feature_dim: int) -> np.ndarray:
    if array.ndim != 2 or array.shape[1] != feature_dim:
        raise FeatureFolderError(f"{path}: features must have shape (N, {feature_dim}), got {array.shape}")
    if not np.issubdtype(array.dtype, np.floating):
        raise FeatureFolderError(f"{path}: features must be a float array, got dtype {array.dtype}")
    if not np.isfinite(array).all():
        raise FeatureFolderError(f"{path}: features contain NaN or Inf")
    return np.ascontiguousarray(array, dtype=np.float32)


def _check_labels(path: Path, array: np.ndarray, n: int, num_classes: int) -> np.ndarray:
    if array.ndim != 1:
        raise FeatureFolderError(f"{path}: labels must be 1-D class ids (N,), got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        raise FeatureFolderError(f"{path}: labels must be an integer array, got dtype {array.dtype}")
    if len(array) != n:
        raise FeatureFolderError(f"{path}: {len(array)} labels but the features file has N={n} rows")
    if len(array) and (array.min() < 0 or array.max() >= num_classes):
        raise FeatureFolderError(f"{path}: labels must be in [0, {num_classes}), "
                                 f"found range [{array.min()}, {array.max()}]")
    return array.astype(np.int64)


def _read_part(folder: Path, part: str, feature_dim: int, num_classes: int,
               required: bool) -> FeatureSet | None:
    for feat_name, label_name in _LAYOUT[part]:
        if (folder / feat_name).exists() or (folder / label_name).exists():
            feats = _check_features(folder / feat_name, load_npy(folder / feat_name, FeatureFolderError),
                                    feature_dim)
            labels = _check_labels(folder / label_name, load_npy(folder / label_name, FeatureFolderError),
                                   len(feats), num_classes)
            return FeatureSet(feats, labels)
    if required:
        names = " or ".join(f"{f} + {lab}" for f, lab in _LAYOUT[part])
        raise FeatureFolderError(f"{folder}: missing {part} files (expected {names})")
    return None


def _check_split(path: Path, labels: np.ndarray, allowed: tuple[int, ...], what: str, split: str) -> None:
    bad = first_offending(labels, allowed)
    if bad:
        raise FeatureFolderError(f"{path}: labels {bad} are not {what} classes of {split}; "
                                 "is this folder for another split?")


def read_feature_folder(path: str | Path, split: ZeroShotSplit | str,
                        feature_dim: int = FEATURE_DIM) -> FeatureFolder:
    """Read and validate a peers'-layout feature folder against `split` (see module docstring)."""
    folder, split = Path(path), as_split(split)
    if not folder.is_dir():
        raise FeatureFolderError(f"{folder}: feature folder not found")
    train = _read_part(folder, "train", feature_dim, split.num_classes, required=True)
    ztest = _read_part(folder, "ztest", feature_dim, split.num_classes, required=True)
    gtest = _read_part(folder, "gtest", feature_dim, split.num_classes, required=False)
    val = _read_part(folder, "val", feature_dim, split.num_classes, required=False)
    _check_split(folder / "train_label.npy", train.labels, split.seen, "seen", split.name)
    ztest_label = "z_label.npy" if (folder / "z_label.npy").exists() else "test_label.npy"
    _check_split(folder / ztest_label, ztest.labels, split.unseen, "unseen", split.name)
    if val is not None:
        _check_split(folder / "val_label.npy", val.labels, split.seen, "seen", split.name)
    gtest_out = None
    if gtest is not None and (folder / "gtest_out.npy").exists():
        gtest_out = load_npy(folder / "gtest_out.npy", FeatureFolderError)
        if gtest_out.ndim != 2 or len(gtest_out) != len(gtest):
            raise FeatureFolderError(f"{folder / 'gtest_out.npy'}: expected ({len(gtest)}, K) logits, "
                                     f"got {gtest_out.shape}")
    return FeatureFolder(train=train, ztest=ztest, gtest=gtest, val=val, gtest_out=gtest_out)


def write_feature_folder(path: str | Path, train: FeatureSet, ztest: FeatureSet,
                         gtest: FeatureSet | None = None, val: FeatureSet | None = None) -> Path:
    """Write feature sets in the same layout (ztest as ``ztest.npy`` + ``z_label.npy``)."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    parts = {"train": train, "ztest": ztest, "gtest": gtest, "val": val}
    for part, fset in parts.items():
        if fset is None:
            continue
        feat_name, label_name = _LAYOUT[part][0]
        features, labels = np.asarray(fset.features), np.asarray(fset.labels)
        if features.ndim != 2 or labels.ndim != 1 or len(features) != len(labels):
            raise FeatureFolderError(f"{part}: need features (N, D) and labels (N,), "
                                     f"got {features.shape} and {labels.shape}")
        np.save(folder / feat_name, features.astype(np.float32), allow_pickle=False)
        np.save(folder / label_name, labels.astype(np.int64), allow_pickle=False)
    return folder
