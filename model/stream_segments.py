"""Online segmentation of a stream of window energies: window results now, segments when a run closes."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from model.segments import Segment, softmax_scores


@dataclass(frozen=True)
class WindowResult:
    """One window's best class (None when nobody could be scored) and whether it passes the open-set gate."""

    start: int
    end: int  # inclusive
    class_index: int | None
    energy: float | None
    score: float | None
    accepted: bool


class StreamSegmenter:
    """Causal counterpart of model.segments.build_segments for windows that arrive one by one.

    Each window owns its core, the `stride` frames around its centre (the first window from frame 0), so
    consecutive cores tile the stream; a run of windows with the same accepted class (or of rejected
    windows: background) becomes one segment when a different one arrives or the stream ends. Smoothing is
    the mean energy of the last `smooth` windows (causal, so results are not delayed).
    """

    def __init__(self, length: int, stride: int, temperature: float, threshold: float | None = None,
                 smooth: int = 1, min_score: float = 0.0) -> None:
        self.length, self.stride, self.temperature = length, stride, temperature
        self.threshold, self.min_score = threshold, min_score
        self._recent: deque[np.ndarray] = deque(maxlen=max(1, smooth))
        self._run: dict | None = None
        self._covered = 0  # frames [0, covered) belong to closed or open runs

    @property
    def covered(self) -> int:
        """Frames [0, covered) belong to closed or open runs."""
        return self._covered

    def push(self, start: int, energy: np.ndarray, num_frames: int,
             present: np.ndarray | None = None) -> tuple[WindowResult, list[Segment]]:
        """Add the window starting at `start` (num_frames = frames seen so far); returns closed segments.

        `present` (one flag per frame of the window, model/presence.py): core frames without anybody in view
        go to background whatever the window's class.
        """
        end = min(start + self.length, num_frames)
        row = np.asarray(energy, np.float64)
        if np.isfinite(row).all():
            self._recent.append(row)
            smoothed = np.mean(self._recent, axis=0)
            k = int(np.argmin(smoothed))
            e, p = float(smoothed[k]), float(softmax_scores(smoothed, self.temperature)[k])
            ok = p >= self.min_score and (self.threshold is None or e <= self.threshold)
            result = WindowResult(start, end - 1, k, e, p, ok)
        else:
            result = WindowResult(start, end - 1, None, None, None, False)
        key = result.class_index if result.accepted else None
        core_end = min(max((start + end + self.stride) // 2, self._covered), end)
        flags = None if present is None else np.asarray(present, dtype=bool)[self._covered - start:core_end - start]
        closed = self._extend(core_end, key, flags)
        if self._run is not None and self._run["key"] == key:
            self._run["e"].append(result.energy if result.energy is not None else np.nan)
            self._run["p"].append(result.score if result.score is not None else np.nan)
        return result, closed

    def _extend(self, until: int, key: int | None, present: np.ndarray | None) -> list[Segment]:
        """Give frames [covered, until) to `key`, or to background where `present` is False; closed runs."""
        closed: list[Segment] = []
        if until <= self._covered:
            return closed
        flags = np.ones(until - self._covered, dtype=bool) if present is None else present
        edges = np.flatnonzero(np.diff(flags.astype(np.int8))) + 1
        for a, b in zip(np.concatenate([[0], edges]).tolist(), np.concatenate([edges, [len(flags)]]).tolist(),
                        strict=True):
            piece_key = key if flags[a] else None
            if self._run is not None and self._run["key"] != piece_key:
                closed.append(self._close())
            if self._run is None:
                self._run = {"key": piece_key, "start": self._covered + a, "e": [], "p": []}
            self._run["end"] = self._covered + b
        self._covered = until
        return closed

    def _close(self) -> Segment:
        run, self._run = self._run, None
        e, p = np.asarray(run["e"], np.float64), np.asarray(run["p"], np.float64)
        energy = float(np.nanmean(e)) if np.isfinite(e).any() else float("nan")
        score = float(np.nanmean(p)) if np.isfinite(p).any() else float("nan")
        return Segment(run["start"], run["end"] - 1, run["key"], energy, score)

    def finish(self, num_frames: int, present: np.ndarray | None = None) -> list[Segment]:
        """Close the open run at the end of the stream; `present` flags frames [covered, num_frames)."""
        key = self._run["key"] if self._run is not None else None
        closed = self._extend(num_frames, key, present)
        if self._run is not None:
            closed.append(self._close())
        return closed
