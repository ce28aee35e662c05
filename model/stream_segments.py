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

    def push(self, start: int, energy: np.ndarray, num_frames: int) -> tuple[WindowResult, list[Segment]]:
        """Add the window starting at `start` (num_frames = frames seen so far); returns closed segments."""
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
        closed: list[Segment] = []
        if self._run is not None and self._run["key"] != key:
            closed.append(self._close())
        if core_end > self._covered or self._run is None:
            if self._run is None:
                self._run = {"key": key, "start": self._covered, "e": [], "p": []}
            self._covered = max(core_end, self._covered)
            self._run["end"] = self._covered
        self._run["e"].append(result.energy if result.energy is not None else np.nan)
        self._run["p"].append(result.score if result.score is not None else np.nan)
        return result, closed

    def _close(self) -> Segment:
        run, self._run = self._run, None
        e, p = np.asarray(run["e"]), np.asarray(run["p"])
        energy = float(np.nanmean(e)) if np.isfinite(e).any() else float("nan")
        score = float(np.nanmean(p)) if np.isfinite(p).any() else float("nan")
        return Segment(run["start"], max(run["end"], run["start"] + 1) - 1, run["key"], energy, score)

    def finish(self, num_frames: int) -> list[Segment]:
        """Close the open run at the end of the stream (it extends to the last frame)."""
        if self._run is None:
            return []
        self._run["end"] = max(self._run.get("end", 0), num_frames)
        self._covered = num_frames
        return [self._close()]
