"""The estimator interface: one RGB frame in, the joints of one person (image and, when known, world) out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class FramePose:
    """One person in one frame, in the estimator's own joint order (`PoseEstimator.joints`).

    image: (V, 3) u, v in pixels of the frame as given (u right, v down) and a confidence in [0, 1].
    world: (V, 4) x, y, z in metres (camera axes: x right, y down, z away from the camera) and a confidence,
    or None when the estimator gives no 3D. Both are None when nobody was found.
    """

    image: np.ndarray | None
    world: np.ndarray | None


class PoseEstimator(Protocol):
    """What `scale pose` needs from an estimator; see docs/skeletons.md for adding one."""

    name: str
    joints: str  # the joint set of its output, a layout name of model/layouts.py (e.g. "mediapipe33")

    def estimate(self, rgb: np.ndarray) -> FramePose:
        """The most prominent person of one (H, W, 3) uint8 RGB frame (frames arrive in video order)."""
        ...

    def close(self) -> None:
        """Free the estimator's resources."""
        ...


NOBODY = FramePose(image=None, world=None)
