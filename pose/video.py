"""Frames from a video file or a camera (OpenCV), optionally flipped left-right (mirror views)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class VideoInfo:
    """What the source says about itself (fps is 0 when a camera does not tell)."""

    fps: float
    width: int
    height: int


def camera_index(source: str) -> int | None:
    """A camera index ("0", "1", ...) or None for a file path or URL."""
    return int(source) if source.isdigit() else None


class VideoFrames:
    """Iterate (H, W, 3) uint8 RGB frames of `source` (a path, an RTSP/HTTP URL or a camera index)."""

    def __init__(self, source: str, flip: bool = False, max_frames: int | None = None) -> None:
        import cv2

        self._cv2 = cv2
        index = camera_index(source)
        self._capture = cv2.VideoCapture(index if index is not None else source)
        if not self._capture.isOpened():
            raise FileNotFoundError(f"cannot open video source {source!r}")
        self.flip = flip
        self.max_frames = max_frames
        self.info = VideoInfo(fps=float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0),
                              width=int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                              height=int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))

    def __iter__(self) -> Iterator[np.ndarray]:
        count = 0
        try:
            while self.max_frames is None or count < self.max_frames:
                ok, bgr = self._capture.read()
                if not ok:
                    return
                if self.flip:
                    bgr = bgr[:, ::-1]
                count += 1
                yield self._cv2.cvtColor(np.ascontiguousarray(bgr), self._cv2.COLOR_BGR2RGB)
        finally:
            self._capture.release()
