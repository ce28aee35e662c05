"""Window energies -> smoothed frame intervals -> per-class segments (temporal NMS) and background stretches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Segment:
    """Frames [start, end] inclusive; class_index None marks background (no class confident)."""

    start: int
    end: int
    class_index: int | None
    energy: float
    score: float


@dataclass(frozen=True)
class DetectOptions:
    """Post-processing knobs: smoothing width (windows), acceptance gates, NMS IoU, shortest segment."""

    smooth: int = 3
    threshold: float | None = None  # best energy above it = background (the open-set threshold)
    min_score: float = 0.0  # best softmax score below it = background
    # class-score levels at which runs become proposals; with the one level 0 the segments and the background
    # tile the frames (what /detect answers); more levels add nested proposals, for mAP tools only
    levels: tuple[float, ...] = (0.0,)
    nms_iou: float = 0.5
    min_frames: int = 1


def smooth_windows(energy: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average over consecutive windows (axis 0), edges repeated; width 1 = unchanged."""
    if width <= 1 or len(energy) == 1:
        return energy.astype(np.float64)
    half = width // 2
    padded = np.concatenate([np.repeat(energy[:1], half, 0), energy, np.repeat(energy[-1:], width - 1 - half, 0)])
    csum = np.cumsum(np.concatenate([np.zeros((1, energy.shape[1])), padded]), axis=0)
    return (csum[width:] - csum[:-width]) / width


def softmax_scores(energy: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(-energy / temperature) over the last axis (the service's normalised score)."""
    logits = -np.asarray(energy, np.float64) / temperature
    p = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return p / p.sum(axis=-1, keepdims=True)


def frame_intervals(starts: np.ndarray, length: int, num_frames: int, energy: np.ndarray,
                    cuts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Split [0, T) at window edges (and at `cuts`); each piece gets the mean energy of the windows covering it.

    Returns (bounds (P+1,), energy (P, K)): piece i is frames [bounds[i], bounds[i+1]).
    """
    ends = np.minimum(starts + length, num_frames)
    extra = np.asarray([] if cuts is None else cuts, dtype=np.int64)
    bounds = np.unique(np.concatenate([starts, ends, [0, num_frames], extra]))
    si, ei = np.searchsorted(bounds, starts), np.searchsorted(bounds, ends)
    diff = np.zeros((len(bounds), energy.shape[1]))
    count = np.zeros(len(bounds))
    np.add.at(diff, si, energy)
    np.add.at(diff, ei, -energy)
    np.add.at(count, si, 1)
    np.add.at(count, ei, -1)
    total, covered = np.cumsum(diff, 0)[:-1], np.cumsum(count)[:-1]
    if (covered <= 0).any():
        raise ValueError("the windows leave frames uncovered")
    return bounds, total / covered[:, None]


def temporal_iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Overlap / union of [start, end] intervals (continuous, as in the PKU-MMD evaluator)."""
    inter = min(a[1], b[1]) - max(a[0], b[0])
    union = max(a[1], b[1]) - min(a[0], b[0])
    return max(inter, 0.0) / union if union > 0 else float(a == b)


def nms(segments: Sequence[Segment], iou: float) -> list[Segment]:
    """Per-class temporal NMS: keep the best-scoring segment, drop others of its class overlapping > iou."""
    kept: list[Segment] = []
    for seg in sorted(segments, key=lambda s: -s.score):
        if all(k.class_index != seg.class_index or temporal_iou((k.start, k.end), (seg.start, seg.end)) <= iou
               for k in kept):
            kept.append(seg)
    return sorted(kept, key=lambda s: (s.start, s.end))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[first, last] piece indices of each run of True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), (np.flatnonzero(edges == -1) - 1).tolist(), strict=True))


def presence_cuts(present: np.ndarray | None) -> np.ndarray | None:
    """Frames where a (T,) presence mask changes: piece boundaries, so a piece is all present or all absent."""
    if present is None:
        return None
    return np.flatnonzero(np.diff(np.asarray(present, dtype=np.int8))) + 1


def build_segments(starts: np.ndarray, energy: np.ndarray, length: int, num_frames: int, temperature: float,
                   opts: DetectOptions, present: np.ndarray | None = None) -> tuple[list[Segment], list[Segment]]:
    """Window energies (n, K) -> (class segments after per-class NMS, background stretches).

    Windows with non-finite energies (nobody to score) count as background wherever they dominate a piece;
    frames where `present` (T,) is False (nobody in view, model/presence.py) are background. The background is
    every frame no segment holds, so with the default single level segments and background tile [0, T).
    Background energies and scores are NaN over stretches that no window could score.
    """
    if energy.ndim != 2 or energy.shape[1] == 0 or not np.isfinite(energy).any():
        return [], [Segment(0, num_frames - 1, None, float("nan"), float("nan"))]
    bad = ~np.isfinite(energy).all(axis=1)
    if bad.any():
        energy = np.where(bad[:, None], energy[~bad].max(axis=0)[None], energy)
    cuts = presence_cuts(present)
    bounds, piece_e = frame_intervals(starts, length, num_frames, smooth_windows(energy, opts.smooth), cuts)
    p = softmax_scores(piece_e, temperature)
    best = piece_e.argmin(1)
    best_e, best_p = piece_e.min(1), p.max(1)
    unscored = frame_intervals(starts, length, num_frames, bad[:, None].astype(np.float64), cuts)[1][:, 0]
    if present is not None:
        unscored = np.where(np.asarray(present, dtype=bool)[bounds[:-1]], unscored, 1.0)
    accepted = (best_p >= opts.min_score) & (unscored < 0.5)
    if opts.threshold is not None:
        accepted &= best_e <= opts.threshold
    size = np.diff(bounds).astype(np.float64)
    proposals = []
    for k in np.unique(best[accepted]).tolist():
        for level in opts.levels:
            for a, b in _runs(accepted & (best == k) & (p[:, k] >= level)):
                w = size[a:b + 1]
                seg = Segment(int(bounds[a]), int(bounds[b + 1]) - 1, int(k),
                              float(np.average(piece_e[a:b + 1, k], weights=w)),
                              float(np.average(p[a:b + 1, k], weights=w)))
                if seg.end - seg.start + 1 >= opts.min_frames:
                    proposals.append(seg)
    kept = nms(proposals, opts.nms_iou)
    held = np.zeros(len(size), dtype=bool)
    for seg in kept:
        held[np.searchsorted(bounds, seg.start):np.searchsorted(bounds, seg.end + 1)] = True
    return kept, [_background(bounds, a, b, best_e, best_p, size * (unscored < 1.0)) for a, b in _runs(~held)]


def _background(bounds: np.ndarray, a: int, b: int, best_e: np.ndarray, best_p: np.ndarray,
                weight: np.ndarray) -> Segment:
    """Pieces a..b as one background stretch, energy and score averaged over the pieces that were scored."""
    w = weight[a:b + 1]
    if not w.sum() > 0:
        return Segment(int(bounds[a]), int(bounds[b + 1]) - 1, None, float("nan"), float("nan"))
    return Segment(int(bounds[a]), int(bounds[b + 1]) - 1, None, float(np.average(best_e[a:b + 1], weights=w)),
                   float(np.average(best_p[a:b + 1], weights=w)))
