"""Sliding windows over a long sequence: where windows start, how to cut them, how to score them in batches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from model.presence import frame_presence, scorable_windows

# Defaults near a PKU-MMD instance (~8 s at 30 fps is ~240 frames) and within the 64-256 frame range where
# Shift-GCN's long temporal receptive field (~150 frames for ST-GCN-like stacks) sees a whole action; the
# stride of 1/4 window keeps every instance covered by several windows (SPEC §7).
DEFAULT_WINDOW = 128
DEFAULT_STRIDE = 32

# (windows list of (M,w,25,3)) -> energies (n, K); the service passes the micro-batcher, tools pass torch/ORT.
ScoreWindows = Callable[[list[np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class WindowSpec:
    """Window length and stride in frames (stride <= length so no frame is skipped)."""

    length: int = DEFAULT_WINDOW
    stride: int = DEFAULT_STRIDE

    def __post_init__(self) -> None:
        if self.length < 1 or self.stride < 1:
            raise ValueError(f"window length and stride must be >= 1, got {self.length}, {self.stride}")
        if self.stride > self.length:
            raise ValueError(f"window stride {self.stride} exceeds its length {self.length}: frames would be "
                             "skipped")


def window_starts(num_frames: int, length: int, stride: int) -> np.ndarray:
    """Start frames of windows of `length` every `stride` frames; a last window ends at the final frame.

    A sequence shorter than one window gives the single start 0 (the window is the whole sequence).
    """
    if num_frames < 1:
        raise ValueError("a sequence needs at least one frame")
    if num_frames <= length:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, num_frames - length + 1, stride, dtype=np.int64)
    tail = num_frames - length
    if starts[-1] != tail:  # the tail would be missed: add a window flush with the end
        starts = np.append(starts, tail)
    return starts


def cut_windows(joints: np.ndarray, starts: np.ndarray, length: int) -> list[np.ndarray]:
    """(M,T,V,C) -> one (M,min(length,T),V,C) view per start."""
    return [joints[:, s:s + length] for s in starts.tolist()]


def score_windows(joints: np.ndarray, spec: WindowSpec, score: ScoreWindows,
                  chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Energies (n_windows, K) of every window of joints (M,T,V,C), scored `chunk` windows per call.

    Windows with somebody in view in under half of their frames (model/presence.py) are never sent to
    `score`: their rows are NaN, which model.segments reads as background.
    """
    starts = window_starts(joints.shape[1], spec.length, spec.stride)
    windows = cut_windows(joints, starts, spec.length)
    keep = np.flatnonzero(scorable_windows(frame_presence(joints), starts, spec.length))
    parts = [np.asarray(score([windows[j] for j in keep[i:i + chunk]]), dtype=np.float64)
             for i in range(0, len(keep), chunk)]
    if not parts:
        return starts, np.full((len(starts), 0), np.nan)
    scored = np.concatenate(parts, axis=0)
    energy = np.full((len(starts), scored.shape[1]), np.nan)
    energy[keep] = scored
    return starts, energy


def window_centres(starts: np.ndarray, length: int, num_frames: int) -> np.ndarray:
    """The centre frame of each window (a window never extends past the last frame)."""
    ends = np.minimum(starts + length, num_frames)
    return (starts + ends - 1) / 2.0
