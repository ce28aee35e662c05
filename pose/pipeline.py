"""A video (or camera) -> frames in one of the project's layouts, whole (`estimate`) or as they come (`chunks`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from pose.convert import TARGETS, from_mediapipe33
from pose.posefile import PoseFile
from pose.records import collect
from pose.source import records

DEFAULT_LAYOUT = "mediapipe33"
LAYOUT_UNITS = {"mediapipe33": "m", "coco17-3d": "m", "openpose25-3d": "m", "coco17": "px", "openpose25": "px"}


@dataclass(frozen=True)
class VideoRequest:
    """What to run: the source (path, URL or camera index), the output layout and the estimator's options."""

    source: str
    layout: str = DEFAULT_LAYOUT
    flip: bool = False
    estimator: str = "mediapipe"
    max_frames: int | None = None
    python: str | None = None

    def check(self) -> None:
        """ValueError for a layout the estimator cannot write."""
        if self.layout not in TARGETS:
            raise ValueError(f"--layout must be one of {', '.join(TARGETS)}, got {self.layout!r}")


def open_video(request: VideoRequest, size: int = 8) -> tuple[dict[str, Any], Iterator[np.ndarray]]:
    """Start the estimator: its header {"estimator", "fps", "width", "height", ...} and the (n<=size, V, C)
    frames in the layout as it produces them."""
    request.check()
    stream = records(request.source, request.flip, request.estimator, request.max_frames, request.python)
    header = next(stream, None)
    if header is None or "joints" not in header:
        raise RuntimeError(f"the pose estimator gave no output for {request.source!r}")

    def pieces() -> Iterator[np.ndarray]:
        pending: list[dict[str, Any]] = []
        for record in stream:
            pending.append(record)
            if len(pending) == size:
                yield from_mediapipe33(*collect(pending), request.layout)
                pending = []
        if pending:
            yield from_mediapipe33(*collect(pending), request.layout)

    return header, pieces()


def assemble(header: dict[str, Any], pieces: list[np.ndarray], request: VideoRequest) -> PoseFile:
    """Pieces from `open_video` -> one pose file in `request.layout` (ValueError when there are no frames)."""
    if not pieces:
        raise ValueError(f"{request.source}: no frames")
    meta = {"estimator": header["estimator"], "source": request.source, "flipped": request.flip,
            "width": header["width"], "height": header["height"]}
    return PoseFile(np.concatenate(pieces), request.layout, LAYOUT_UNITS[request.layout], float(header["fps"]), meta)


def estimate(request: VideoRequest) -> PoseFile:
    """Run the estimator over the whole source: a pose file in `request.layout`."""
    header, pieces = open_video(request, size=64)
    return assemble(header, list(pieces), request)
