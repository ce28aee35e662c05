"""Feature-folder reader/writer: round trip, the SMIE alias, and a clear refusal of each bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.readers import FeatureFolderError, FeatureSet, read_feature_folder, write_feature_folder
from training.readers.common import filter_classes, relabel
from training.splits import get_split

pytestmark = pytest.mark.unit
SPLIT = get_split("ntu60_55_5")  # unseen = 10, 11, 19, 26, 56


def _fset(rng: np.random.Generator, classes: tuple[int, ...], n: int, dim: int = 256) -> FeatureSet:
    labels = np.asarray(classes, dtype=np.int64)[rng.integers(0, len(classes), n)]
    return FeatureSet(rng.standard_normal((n, dim)).astype(np.float32), labels)


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    write_feature_folder(tmp_path / "f", train=_fset(rng, SPLIT.seen, 12), ztest=_fset(rng, SPLIT.unseen, 7),
                         gtest=_fset(rng, SPLIT.seen + SPLIT.unseen, 9))
    return tmp_path / "f"


def test_round_trip_preserves_arrays(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    train, ztest = _fset(rng, SPLIT.seen, 10), _fset(rng, SPLIT.unseen, 6)
    gtest, val = _fset(rng, SPLIT.seen + SPLIT.unseen, 8), _fset(rng, SPLIT.seen, 4)
    write_feature_folder(tmp_path, train=train, ztest=ztest, gtest=gtest, val=val)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["train.npy", "train_label.npy", "ztest.npy", "z_label.npy", "gtest.npy", "g_label.npy",
         "val.npy", "val_label.npy"])
    got = read_feature_folder(tmp_path, SPLIT)
    for want, have in ((train, got.train), (ztest, got.ztest), (gtest, got.gtest), (val, got.val)):
        np.testing.assert_array_equal(have.features, want.features)
        np.testing.assert_array_equal(have.labels, want.labels)
        assert have.features.dtype == np.float32 and have.labels.dtype == np.int64
    assert got.gtest_out is None


def test_optional_parts_are_none_when_absent(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    write_feature_folder(tmp_path, train=_fset(rng, SPLIT.seen, 5), ztest=_fset(rng, SPLIT.unseen, 3))
    got = read_feature_folder(tmp_path, "ntu60_55_5")
    assert got.gtest is None and got.val is None and len(got.train) == 5 and len(got.ztest) == 3


def test_smie_test_npy_accepted_for_ztest(folder: Path) -> None:
    want = np.load(folder / "ztest.npy")
    (folder / "ztest.npy").rename(folder / "test.npy")
    (folder / "z_label.npy").rename(folder / "test_label.npy")
    got = read_feature_folder(folder, SPLIT)
    np.testing.assert_array_equal(got.ztest.features, want)


def test_float64_features_are_cast_and_gtest_out_read(folder: Path) -> None:
    feats = np.load(folder / "train.npy").astype(np.float64)
    np.save(folder / "train.npy", feats)
    np.save(folder / "gtest_out.npy", np.zeros((9, 60), dtype=np.float32))
    got = read_feature_folder(folder, SPLIT)
    assert got.train.features.dtype == np.float32
    np.testing.assert_allclose(got.train.features, feats, rtol=1e-7)
    assert got.gtest_out.shape == (9, 60)


def _expect(folder: Path, match: str) -> None:
    with pytest.raises(FeatureFolderError, match=match):
        read_feature_folder(folder, SPLIT)


def test_missing_file_is_named(folder: Path) -> None:
    (folder / "z_label.npy").unlink()
    _expect(folder, r"z_label\.npy: file not found")
    (folder / "ztest.npy").unlink()
    _expect(folder, r"missing ztest files \(expected ztest\.npy \+ z_label\.npy or test\.npy")


def test_missing_folder(tmp_path: Path) -> None:
    _expect(tmp_path / "nope", "feature folder not found")


def test_wrong_feature_shape(folder: Path) -> None:
    np.save(folder / "train.npy", np.zeros((12, 128), dtype=np.float32))
    _expect(folder, r"train\.npy: features must have shape \(N, 256\), got \(12, 128\)")
    np.save(folder / "train.npy", np.zeros((12, 256, 1), dtype=np.float32))
    _expect(folder, r"train\.npy: features must have shape")


def test_feature_dim_is_configurable(folder: Path) -> None:
    with pytest.raises(FeatureFolderError, match=r"shape \(N, 512\)"):
        read_feature_folder(folder, SPLIT, feature_dim=512)


def test_wrong_dtypes(folder: Path) -> None:
    np.save(folder / "ztest.npy", np.zeros((7, 256), dtype=np.int32))
    _expect(folder, r"ztest\.npy: features must be a float array, got dtype int32")


def test_float_labels_refused(folder: Path) -> None:
    np.save(folder / "train_label.npy", np.load(folder / "train_label.npy").astype(np.float32))
    _expect(folder, r"train_label\.npy: labels must be an integer array, got dtype float32")


def test_one_hot_labels_refused(folder: Path) -> None:
    np.save(folder / "train_label.npy", np.eye(60, dtype=np.int64)[np.load(folder / "train_label.npy")])
    _expect(folder, r"train_label\.npy: labels must be 1-D class ids")


def test_pickled_object_array_refused(folder: Path) -> None:
    np.save(folder / "g_label.npy", np.array([1, "x", None], dtype=object), allow_pickle=True)
    _expect(folder, r"g_label\.npy: holds a pickled/object array")


def test_n_mismatch(folder: Path) -> None:
    np.save(folder / "train_label.npy", np.load(folder / "train_label.npy")[:-2])
    _expect(folder, r"train_label\.npy: 10 labels but the features file has N=12 rows")


def test_non_finite_features(folder: Path) -> None:
    feats = np.load(folder / "train.npy")
    feats[3, 4] = np.nan
    np.save(folder / "train.npy", feats)
    _expect(folder, r"train\.npy: features contain NaN or Inf")


def test_train_label_unseen_is_named(folder: Path) -> None:
    labels = np.load(folder / "train_label.npy")
    labels[[2, 5, 6]] = [56, 10, 56]
    np.save(folder / "train_label.npy", labels)
    _expect(folder, r"train_label\.npy: labels \[56, 10\] are not seen classes of ntu60_55_5")


def test_ztest_label_seen_is_named(folder: Path) -> None:
    labels = np.load(folder / "z_label.npy")
    labels[4] = 0
    np.save(folder / "z_label.npy", labels)
    _expect(folder, r"z_label\.npy: labels \[0\] are not unseen classes of ntu60_55_5")


def test_out_of_range_label(folder: Path) -> None:
    labels = np.load(folder / "g_label.npy")
    labels[0] = 60
    np.save(folder / "g_label.npy", labels)
    _expect(folder, r"g_label\.npy: labels must be in \[0, 60\)")


def test_filter_classes_and_relabel() -> None:
    data = np.arange(12, dtype=np.float32).reshape(6, 2)
    labels = np.array([3, 7, 3, 9, 7, 1])
    kept, kept_labels = filter_classes(data, labels, (7, 3))
    np.testing.assert_array_equal(kept, data[[0, 1, 2, 4]])
    np.testing.assert_array_equal(kept_labels, [3, 7, 3, 7])
    _, local = filter_classes(data, labels, (7, 3), relabel_to_local=True)
    np.testing.assert_array_equal(local, [1, 0, 1, 0])
    with pytest.raises(ValueError, match="label 9 is not one of the classes"):
        relabel(labels, (1, 3, 7))
    fset = FeatureSet(data, labels).subset([9, 1])
    np.testing.assert_array_equal(fset.labels, [9, 1])
