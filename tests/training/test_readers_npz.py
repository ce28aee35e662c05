"""CTR-GCN npz reader: layout conversion checked element by element, and clear refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.readers import NpzFormatError, read_ctrgcn_npz

pytestmark = pytest.mark.unit


def _flatten_by_hand(data: np.ndarray) -> np.ndarray:
    """(N, 3, T, 25, 2) -> (N, T, 150) with index m*75 + v*3 + c, written with explicit loops."""
    n, c_dim, t_dim, v_dim, m_dim = data.shape
    flat = np.zeros((n, t_dim, 150), dtype=np.float32)
    for i in range(n):
        for t in range(t_dim):
            for m in range(m_dim):
                for v in range(v_dim):
                    for c in range(c_dim):
                        flat[i, t, m * 75 + v * 3 + c] = data[i, c, t, v, m]
    return flat


@pytest.fixture()
def sample(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    train, test = (rng.standard_normal((n, 3, 4, 25, 2)).astype(np.float32) for n in (3, 2))
    y_train, y_test = np.array([0, 59, 7]), np.array([12, 3])
    path = tmp_path / "NTU60_CS.npz"
    np.savez(path, x_train=_flatten_by_hand(train), y_train=np.eye(60)[y_train],
             x_test=_flatten_by_hand(test), y_test=np.eye(60)[y_test])
    return path, train, y_train, test, y_test


def test_round_trip_both_parts(sample) -> None:
    path, train, y_train, test, y_test = sample
    for part, data, labels in (("train", train, y_train), ("test", test, y_test)):
        got, got_labels = read_ctrgcn_npz(path, part)
        assert got.shape == data.shape and got.dtype == np.float32
        np.testing.assert_array_equal(got, data)
        np.testing.assert_array_equal(got_labels, labels)
        assert got_labels.dtype == np.int64


def test_integer_labels_accepted(tmp_path: Path) -> None:
    data = np.ones((2, 4, 25, 2), dtype=np.float32)[:, None].repeat(3, axis=1)
    np.savez(tmp_path / "a.npz", x_train=_flatten_by_hand(data), y_train=np.array([4, 5]))
    _, labels = read_ctrgcn_npz(tmp_path / "a.npz", "train")
    np.testing.assert_array_equal(labels, [4, 5])


def test_pickled_object_array_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "p.npz", x_train=np.array([{"a": 1}, None], dtype=object), y_train=np.eye(2))
    with pytest.raises(NpzFormatError, match="'x_train' is a pickled/object array"):
        read_ctrgcn_npz(tmp_path / "p.npz", "train")


def test_wrong_shapes_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "s.npz", x_train=np.zeros((2, 4, 75), dtype=np.float32), y_train=np.eye(2))
    with pytest.raises(NpzFormatError, match=r"x_train must have shape \(N, T, 150\).*got \(2, 4, 75\)"):
        read_ctrgcn_npz(tmp_path / "s.npz", "train")
    np.savez(tmp_path / "n.npz", x_train=np.zeros((2, 4, 150), dtype=np.float32), y_train=np.eye(3))
    with pytest.raises(NpzFormatError, match="y_train has 3 rows but x has N=2"):
        read_ctrgcn_npz(tmp_path / "n.npz", "train")
    np.savez(tmp_path / "h.npz", x_train=np.zeros((2, 4, 150), dtype=np.float32),
             y_train=np.full((2, 3), 0.5))
    with pytest.raises(NpzFormatError, match="not one-hot"):
        read_ctrgcn_npz(tmp_path / "h.npz", "train")


def test_missing_key_file_and_part(tmp_path: Path, sample) -> None:
    np.savez(tmp_path / "k.npz", x_train=np.zeros((1, 4, 150), dtype=np.float32))
    with pytest.raises(NpzFormatError, match=r"missing array 'y_train' \(has \['x_train'\]\)"):
        read_ctrgcn_npz(tmp_path / "k.npz", "train")
    with pytest.raises(NpzFormatError, match="file not found"):
        read_ctrgcn_npz(tmp_path / "none.npz", "train")
    with pytest.raises(ValueError, match="part must be 'train' or 'test'"):
        read_ctrgcn_npz(sample[0], "val")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(NpzFormatError, match="not a readable .npz archive"):
        read_ctrgcn_npz(tmp_path / "bad.npz", "train")
