"""Preprocessing against an independent float64 loop reference, invariants, hand-built cases and errors."""

from __future__ import annotations

import numpy as np
import pytest

from model.config import PreprocessConfig
from model.preprocess import (
    SkeletonShapeError,
    motion_energy,
    pre_normalize,
    preprocess_batch,
    preprocess_sequence,
    rotation_to,
    select_persons,
    to_encoder_input,
)
from model.skeleton_io import read_skeleton

pytestmark = pytest.mark.unit


def align(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation taking direction a to b: I + [k] + [k]^2 / (1 + cos), k = a x b (unit a, b)."""
    if np.abs(a).sum() < 1e-6:
        return np.eye(3)
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    k = np.cross(a, b)
    if np.abs(k).sum() < 1e-6:
        return np.eye(3)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + kx + kx @ kx / (1 + np.dot(a, b))


def reference(sample: np.ndarray, num_frames: int) -> np.ndarray:
    """The 2s-AGCN pre_normalization written as plain loops over one (2, T, 25, 3) sample (T <= num_frames)."""
    s = np.zeros((2, num_frames, 25, 3))
    s[:, : sample.shape[1]] = sample
    for p in range(2):
        person = s[p]
        nonempty = [f for f in range(num_frames) if np.any(person[f] != 0)]
        if not nonempty:
            continue
        if nonempty[0] != 0:
            kept = person[nonempty].copy()
            person[:] = 0
            person[: len(kept)] = kept
        for f in range(num_frames):
            if not np.any(person[f] != 0) and not np.any(person[f:] != 0):
                for g in range(f, num_frames):
                    person[g] = person[g % f]
                break
    center = s[0, :, 1].copy()
    for p in range(2):
        for f in range(num_frames):
            for j in range(25):
                if np.any(s[p, f, j] != 0):
                    s[p, f, j] -= center[f]
                else:
                    s[p, f, j] = 0
    for (lo, hi), target in (((0, 1), [0.0, 0, 1]), ((4, 8), [1.0, 0, 0])):
        rot = align(s[0, 0, hi] - s[0, 0, lo], np.array(target))
        for p in range(2):
            for f in range(num_frames):
                for j in range(25):
                    s[p, f, j] = rot @ s[p, f, j]
    return s


def random_person(rng: np.random.Generator, frames: int) -> np.ndarray:
    base = rng.normal(scale=0.3, size=(25, 3)) + np.array([0.1, 0.2, 3.0])
    drift = np.cumsum(rng.normal(scale=0.02, size=(frames, 1, 3)), axis=0)
    return base[None] + drift + rng.normal(scale=0.01, size=(frames, 25, 3))


@pytest.fixture()
def two_people() -> np.ndarray:
    """Person 0: 10 frames, leading 2 empty, one missing joint; person 1: 6 frames then empty."""
    rng = np.random.default_rng(0)
    s = np.zeros((2, 12, 25, 3))
    s[0, 2:12] = random_person(rng, 10)
    s[0, 5, 17] = 0
    s[1, :6] = random_person(rng, 6)
    return s


def test_matches_reference_synthetic(two_people: np.ndarray) -> None:
    got = pre_normalize(two_people[None].astype(np.float32), num_frames=40)[0]
    np.testing.assert_allclose(got, reference(two_people.astype(np.float32), 40), atol=2e-5)


def test_matches_reference_real_clip(shared_data) -> None:
    seq = read_skeleton(shared_data / "skeletons/ntu60_raw/S001C003P008R002A058.skeleton")
    persons = select_persons(seq.joints)
    got = pre_normalize(persons[None], num_frames=100)[0]
    np.testing.assert_allclose(got, reference(persons, 100), atol=2e-5)


def test_invariants_after_normalization(shared_data) -> None:
    seq = read_skeleton(shared_data / "skeletons/ntu60_raw/S001C001P001R001A011.skeleton")
    raw = seq.joints[0].astype(np.float64)  # 82 frames, one person
    out = preprocess_sequence(seq.joints, PreprocessConfig(num_frames=200)).astype(np.float64)
    shoulder = out[0, 0, 8] - out[0, 0, 4]
    assert shoulder[0] > 0 and np.abs(shoulder[1:]).max() < 1e-5 * np.linalg.norm(shoulder)
    np.testing.assert_array_equal(out[0, :, 1], 0.0)  # centred on SpineMid at every frame
    # a rotation plus a per-frame translation keeps every within-frame distance
    d_in = np.linalg.norm(raw[:, :, None] - raw[:, None], axis=-1)
    d_out = np.linalg.norm(out[0, :82, :, None] - out[0, :82, None], axis=-1)
    np.testing.assert_allclose(d_out, d_in, atol=1e-5)
    # proper rotation, no mirror: the signed volume of three bones keeps its sign and size
    def volume(x: np.ndarray) -> np.ndarray:
        return np.linalg.det(np.stack([x[:, 1] - x[:, 0], x[:, 8] - x[:, 4], x[:, 3] - x[:, 2]], axis=1))
    np.testing.assert_allclose(volume(out[0, :82]), volume(raw), atol=1e-6)
    assert not out[1].any()  # one person in, zero second person out


def test_recovers_a_canonical_pose_rotated_about_a_horizontal_axis() -> None:
    """Tilting about an axis normal to +z is undone exactly by the first rotation; the second is then identity."""
    rng = np.random.default_rng(7)
    pose = rng.normal(scale=0.2, size=(25, 3))
    pose[1] = 0.0
    pose[0] = [0.0, 0.0, -0.3]  # SpineBase below SpineMid: spine along +z
    pose[4], pose[8] = [-0.2, 0.1, 0.25], [0.2, 0.1, 0.25]  # shoulders differ along +x only
    angle, axis = 0.7, np.array([np.cos(1.1), np.sin(1.1), 0.0])
    kx = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    tilt = np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx
    frames = np.stack([pose @ tilt.T + [0.5, -0.2, 3.0 + 0.01 * t] for t in range(4)])
    out = preprocess_sequence(frames.astype(np.float32), PreprocessConfig(num_frames=4))
    np.testing.assert_allclose(out[0], np.broadcast_to(pose, (4, 25, 3)), atol=1e-5)


def test_loop_padding_repeats_the_valid_frames() -> None:
    person = random_person(np.random.default_rng(3), 7)
    out = preprocess_sequence(person.astype(np.float32), PreprocessConfig(num_frames=24))
    for t in range(24):
        np.testing.assert_array_equal(out[0, t], out[0, t % 7])
    assert not out[1].any()


def test_leading_empty_frames_are_dropped() -> None:
    person = random_person(np.random.default_rng(4), 5).astype(np.float32)
    late = np.concatenate([np.zeros((3, 25, 3), np.float32), person])
    cfg = PreprocessConfig(num_frames=12)
    np.testing.assert_array_equal(preprocess_sequence(late, cfg), preprocess_sequence(person, cfg))


def test_zero_joints_stay_zero(two_people: np.ndarray) -> None:
    out = pre_normalize(two_people[None], num_frames=12)[0]
    # person 0's frames moved forward by 2, so its zeroed joint 17 of frame 5 lands on frame 3
    np.testing.assert_array_equal(out[0, 3, 17], 0.0)
    assert np.all(np.any(out[0, 4] != 0, axis=-1)[np.arange(25) != 1])


def test_rotation_to_aligns_vectors() -> None:
    rng = np.random.default_rng(5)
    for _ in range(20):
        v, target = rng.normal(size=3), rng.normal(size=3)
        rot = rotation_to(v, target)
        np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(rot) == pytest.approx(1.0)
        np.testing.assert_allclose(rot @ v, target * np.linalg.norm(v) / np.linalg.norm(target), atol=1e-12)
        np.testing.assert_allclose(rot, align(v, target), atol=1e-9)
    np.testing.assert_array_equal(rotation_to(np.array([0.0, 0, 2]), np.array([0.0, 0, 1])), np.eye(3))
    np.testing.assert_array_equal(rotation_to(np.zeros(3), np.array([0.0, 0, 1])), np.eye(3))


def test_motion_energy_selection_hand_built() -> None:
    """Energies by hand: slot 1 std(x)=1, slot 2 std(x)=2, slot 3 std(y)=3 over its 4 non-empty frames only."""
    s = np.zeros((4, 6, 25, 3))
    s[1, :, :, 0] = np.array([1, 3, 1, 3, 1, 3])[:, None]
    s[2, :, :, 0] = np.array([1, 5, 1, 5, 1, 5])[:, None]
    s[3, :4, :, 1] = np.array([2, 8, 2, 8])[:, None]
    assert [motion_energy(p) for p in s] == pytest.approx([0.0, 1.0, 2.0, 3.0])
    picked = select_persons(s)
    np.testing.assert_array_equal(picked, s[[3, 2]].astype(np.float32))
    one = select_persons(s[1:2])
    np.testing.assert_array_equal(one[0], s[1])
    np.testing.assert_array_equal(one[1], 0.0)


def test_resampling_long_sequences() -> None:
    person = random_person(np.random.default_rng(6), 10).astype(np.float32)
    out = preprocess_sequence(person, PreprocessConfig(num_frames=4))
    # uniform nearest-frame resampling of 10 frames to 4 keeps frames round(0, 3, 6, 9)
    kept = preprocess_sequence(person[[0, 3, 6, 9]], PreprocessConfig(num_frames=4))
    np.testing.assert_array_equal(out, kept)


def test_batch_and_encoder_layout(two_people: np.ndarray) -> None:
    cfg = PreprocessConfig(num_frames=16)
    batch = preprocess_batch([two_people[0], two_people], cfg)
    assert batch.shape == (2, 2, 16, 25, 3) and batch.dtype == np.float32
    np.testing.assert_array_equal(batch[0], preprocess_sequence(two_people[0], cfg))
    enc = to_encoder_input(batch[:, :1])
    assert enc.shape == (2, 3, 16, 25, 2) and enc.dtype == np.float32
    n, c, t, v = 1, 2, 5, 7
    assert enc[n, c, t, v, 0] == batch[n, 0, t, v, c]
    assert not enc[..., 1].any()


@pytest.mark.parametrize(("arr", "words"), [
    (np.zeros((10, 25)), "rank"),
    (np.zeros((10, 24, 3)), "25 joints"),
    (np.zeros((10, 25, 2)), "3 channels"),
    (np.zeros((0, 25, 3)), "T == 0"),
    (np.full((5, 25, 3), np.nan), "NaN or Inf"),
    (np.full((5, 25, 3), np.inf), "NaN or Inf"),
    (np.array([["a"] * 3] * 25, dtype=object)[None], "numeric"),
])
def test_clear_errors(arr: np.ndarray, words: str) -> None:
    with pytest.raises(SkeletonShapeError, match=words):
        preprocess_sequence(arr)


def test_ragged_lists_are_a_shape_error() -> None:
    ragged = [[[0.0, 0.0, 0.0]] * 25, [[0.0, 0.0, 0.0]] * 24]
    with pytest.raises(SkeletonShapeError, match="rectangular"):
        preprocess_sequence(ragged)


def test_batch_errors_name_the_sequence() -> None:
    with pytest.raises(SkeletonShapeError, match="sequence 1: .*25 joints"):
        preprocess_batch([np.ones((4, 25, 3)), np.ones((4, 20, 3))], PreprocessConfig(num_frames=4))
    with pytest.raises(SkeletonShapeError, match="1..2 persons"):
        pre_normalize(np.ones((1, 3, 4, 25, 3)), 8)
    with pytest.raises(SkeletonShapeError, match="1..2 persons"):
        to_encoder_input(np.ones((1, 3, 4, 25, 3)))


@pytest.mark.parametrize("shape", [(1, 25, 3), (1, 1, 25, 3), (2, 3, 25, 3), (2, 301, 25, 3)])
def test_any_length_and_person_count_becomes_encoder_input(shape: tuple[int, ...]) -> None:
    """T >= 1 (even 1 frame, or more than T'), M in {1, 2}: always (N, 3, 300, 25, 2), finite, loop-padded."""
    seq = np.random.default_rng(8).normal(size=shape) + np.array([0.0, 0.0, 3.0])
    enc = to_encoder_input(preprocess_sequence(seq.astype(np.float32))[None])
    assert enc.shape == (1, 3, 300, 25, 2) and enc.dtype == np.float32 and np.isfinite(enc).all()
    if shape[-3] == 1:  # a single frame is repeated over all 300
        np.testing.assert_array_equal(enc[0, :, 299], enc[0, :, 0])
    assert enc[..., 0].any() and (len(shape) == 4 and shape[0] == 2) == bool(enc[..., 1].any())
