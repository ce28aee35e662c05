"""Shift-GCN / 2s-AGCN preprocessing: motion-energy person selection, padding, centring, two rotations.

Arrays are (M, T, V, C) per sequence and (N, M, T, V, C) per batch; the encoder wants (N, C, T, V, M).
Computation is float64 NumPy, results float32. A joint or frame is "empty" when all its coordinates are 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from model.config import NUM_CHANNELS, NUM_JOINTS, NUM_PERSONS, PreprocessConfig

SPINE_BASE, SPINE_MID, SHOULDER_LEFT, SHOULDER_RIGHT = 0, 1, 4, 8
_EPS = 1e-6  # the original's thresholds for "no rotation needed"


class SkeletonShapeError(ValueError):
    """A skeleton array has the wrong rank, joint or channel count, no frames, or non-finite values."""


def _as_array(data: object, name: str) -> np.ndarray:
    try:
        return np.asarray(data)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise SkeletonShapeError(f"{name}: not a rectangular numeric array ({exc})") from None


def _check_array(arr: np.ndarray, rank: int, name: str, max_persons: int | None = None) -> np.ndarray:
    arr = _as_array(arr, name)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise SkeletonShapeError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    if arr.ndim != rank:
        raise SkeletonShapeError(f"{name}: expected rank {rank}, got shape {arr.shape}")
    if arr.shape[-1] != NUM_CHANNELS:
        raise SkeletonShapeError(f"{name}: expected {NUM_CHANNELS} channels (x, y, z), got {arr.shape[-1]}")
    if arr.shape[-2] != NUM_JOINTS:
        raise SkeletonShapeError(f"{name}: expected {NUM_JOINTS} joints (NTU layout), got {arr.shape[-2]}")
    if arr.shape[-3] == 0:
        raise SkeletonShapeError(f"{name}: the sequence has no frames (T == 0)")
    if arr.shape[-4] == 0 or (max_persons is not None and arr.shape[-4] > max_persons):
        limit = f"1..{max_persons}" if max_persons is not None else ">= 1"
        raise SkeletonShapeError(f"{name}: expected {limit} persons, got {arr.shape[-4]}")
    if not np.isfinite(arr).all():
        raise SkeletonShapeError(f"{name}: contains NaN or Inf")
    return arr.astype(np.float64)


def motion_energy(person: np.ndarray) -> float:
    """Sum over x, y, z of the std of that coordinate over the non-empty frames of (T, V, C); 0 if none."""
    valid = person[np.any(person != 0, axis=(1, 2))]
    if len(valid) == 0:
        return 0.0
    return float(valid.reshape(-1, person.shape[-1]).std(axis=0).sum())


def select_persons(joints: np.ndarray, max_persons: int = NUM_PERSONS) -> np.ndarray:
    """Keep the `max_persons` body slots of (M, T, V, C) with the highest motion energy, zero-filling."""
    arr = _check_array(joints, 4, "joints")
    energy = np.array([motion_energy(p) for p in arr])
    order = np.argsort(-energy, kind="stable")[:max_persons]  # ties keep order of appearance
    out = np.zeros((max_persons,) + arr.shape[1:], dtype=np.float32)
    out[: len(order)] = arr[order]
    return out


def _fit_frames(seq: np.ndarray, num_frames: int) -> np.ndarray:
    """(M, T, V, C) -> (M, num_frames, V, C): zero-pad at the end, or uniform nearest-frame resampling."""
    m, t = seq.shape[:2]
    if t > num_frames:
        return seq[:, np.round(np.linspace(0, t - 1, num_frames)).astype(np.int64)]
    out = np.zeros((m, num_frames) + seq.shape[2:], dtype=seq.dtype)
    out[:, :t] = seq
    return out


def _loop_pad(person: np.ndarray) -> np.ndarray:
    """Move valid frames to the front if frame 0 is empty, then repeat frames [0:i_f] over the empty tail."""
    valid = np.any(person != 0, axis=(1, 2))
    if not valid.any():
        return person
    if not valid[0]:
        person = np.concatenate([person[valid], np.zeros_like(person[~valid])])
        valid = np.any(person != 0, axis=(1, 2))
    # the first empty frame with nothing valid after it: the frame after the last valid one
    i_f = int(np.flatnonzero(valid)[-1]) + 1
    if i_f < len(person):
        person = person.copy()
        person[i_f:] = person[np.arange(len(person) - i_f) % i_f]  # frames [0:i_f] repeated over the tail
    return person


def rotation_to(vector: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Rodrigues rotation about vector x target by their angle (identity when either is ~0), as 3x3."""
    if np.abs(vector).sum() < _EPS or np.abs(target).sum() < _EPS:
        return np.eye(3)
    axis = np.cross(vector, target)
    cos = np.clip(np.dot(vector, target) / (np.linalg.norm(vector) * np.linalg.norm(target)), -1.0, 1.0)
    angle = np.arccos(cos)
    if np.abs(axis).sum() < _EPS or abs(angle) < _EPS:
        return np.eye(3)
    k = axis / np.linalg.norm(axis)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * (kx @ kx)


def _normalize_one(s: np.ndarray) -> np.ndarray:
    """pre_normalization on one (2, T, V, C) float64 sample, already at its final length."""
    if not s.any():
        return s
    s = np.stack([_loop_pad(p) for p in s])
    center = s[0, :, SPINE_MID : SPINE_MID + 1, :].copy()  # (T, 1, C)
    mask = np.any(s != 0, axis=-1, keepdims=True)
    s = (s - center) * mask
    rot = rotation_to(s[0, 0, SPINE_MID] - s[0, 0, SPINE_BASE], np.array([0.0, 0.0, 1.0]))
    s = s @ rot.T  # zero joints stay zero under a rotation
    rot = rotation_to(s[0, 0, SHOULDER_RIGHT] - s[0, 0, SHOULDER_LEFT], np.array([1.0, 0.0, 0.0]))
    return s @ rot.T


def pre_normalize(batch: np.ndarray, num_frames: int = 300) -> np.ndarray:
    """(N, M<=2, T, V, C) -> (N, 2, num_frames, V, C) float32: pad/resample, loop-pad, centre, rotate."""
    arr = _check_array(batch, 5, "batch", max_persons=NUM_PERSONS)
    if num_frames < 1:
        raise SkeletonShapeError(f"num_frames must be >= 1, got {num_frames}")
    out = np.zeros((arr.shape[0], NUM_PERSONS, num_frames, NUM_JOINTS, NUM_CHANNELS), dtype=np.float32)
    for i, sample in enumerate(arr):
        full = np.zeros((NUM_PERSONS,) + sample.shape[1:])
        full[: sample.shape[0]] = sample
        out[i] = _normalize_one(_fit_frames(full, num_frames))
    return out


def preprocess_sequence(seq: np.ndarray, cfg: PreprocessConfig | None = None) -> np.ndarray:
    """One sequence (T, V, C) or (M, T, V, C) -> (2, T', V, C) float32, as the official weights expect."""
    cfg = cfg or PreprocessConfig()
    arr = _as_array(seq, "sequence")
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4:
        raise SkeletonShapeError(f"sequence: expected rank 3 (T, V, C) or rank 4 (M, T, V, C), got shape {arr.shape}")
    persons = select_persons(arr, cfg.max_persons)
    return pre_normalize(persons[None], cfg.num_frames)[0]


def preprocess_batch(seqs: Sequence[np.ndarray] | np.ndarray, cfg: PreprocessConfig | None = None) -> np.ndarray:
    """Several sequences (each (T, V, C) or (M, T, V, C), any T) -> (N, 2, T', V, C) float32."""
    cfg = cfg or PreprocessConfig()
    if len(seqs) == 0:
        raise SkeletonShapeError("batch: no sequences given")
    out = np.empty((len(seqs), NUM_PERSONS, cfg.num_frames, NUM_JOINTS, NUM_CHANNELS), dtype=np.float32)
    for i, seq in enumerate(seqs):
        try:
            out[i] = preprocess_sequence(seq, cfg)
        except SkeletonShapeError as exc:
            raise SkeletonShapeError(f"sequence {i}: {exc}") from None
    return out


def to_encoder_input(batch: np.ndarray) -> np.ndarray:
    """(N, M<=2, T, V, C) -> Shift-GCN input (N, C, T, V, 2) float32, zero-filling an absent person."""
    arr = _check_array(batch, 5, "batch", max_persons=NUM_PERSONS)
    full = np.zeros((arr.shape[0], NUM_PERSONS) + arr.shape[2:], dtype=np.float32)
    full[:, : arr.shape[1]] = arr
    return np.ascontiguousarray(full.transpose(0, 4, 2, 3, 1))
