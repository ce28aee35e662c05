"""The pose file `scale pose` writes: JSON with the layout and the frames, or a plain .npy array.

JSON (docs/skeletons.md, "Pose files"):
{"format": "scale-pose", "version": 1, "layout": "mediapipe33", "units": "m", "fps": 30.0,
 "estimator": "mediapipe-pose", "source": "clip.avi", "flipped": true, "width": 1920, "height": 1080,
 "skeleton": [[[x, y, z, c], ...33 joints], ...T frames]}
"skeleton" is (T, V, C) of one person in the layout's joint order with the confidence last; a frame where
nobody was found is all zero. `.npy` holds the same numbers as a float32 (1, T, V, C) array and nothing else.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FORMAT, VERSION = "scale-pose", 1


class PoseFileError(ValueError):
    """A pose file that is not what `scale pose` writes."""


@dataclass(frozen=True)
class PoseFile:
    """A pose file in memory: (T, V, C) frames of one layout, plus what is known about the video."""

    skeleton: np.ndarray
    layout: str
    units: str
    fps: float
    meta: dict[str, Any] = field(default_factory=dict)


def write_pose_file(path: Path, pose: PoseFile) -> None:
    """Write `pose` as JSON (.json) or as a bare (1, T, V, C) float32 array (.npy)."""
    if path.suffix == ".npy":
        np.save(path, np.asarray(pose.skeleton, np.float32)[None], allow_pickle=False)
        return
    if path.suffix != ".json":
        raise PoseFileError(f"{path}: a pose file is .json or .npy, got {path.suffix!r}")
    body = {"format": FORMAT, "version": VERSION, "layout": pose.layout, "units": pose.units, "fps": pose.fps,
            **pose.meta, "skeleton": np.round(np.asarray(pose.skeleton, np.float64), 5).tolist()}
    path.write_text(json.dumps(body, separators=(",", ":")) + "\n", encoding="utf-8")


def read_pose_file(path: Path) -> PoseFile:
    """Read a JSON pose file written by `write_pose_file` (PoseFileError when it is not one)."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PoseFileError(f"{path}: not a readable JSON pose file ({exc})") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise PoseFileError(f"{path}: not a {FORMAT!r} file (no \"format\": \"{FORMAT}\")")
    if body.get("version") != VERSION:
        raise PoseFileError(f"{path}: {FORMAT} version {body.get('version')!r} is not supported (expected {VERSION})")
    missing = [key for key in ("layout", "units", "fps", "skeleton") if key not in body]
    if missing:
        raise PoseFileError(f"{path}: missing {', '.join(missing)}")
    try:
        skeleton = np.asarray(body["skeleton"], dtype=np.float32)
    except (TypeError, ValueError):
        raise PoseFileError(f"{path}: \"skeleton\" is not a rectangular array of numbers") from None
    if skeleton.ndim != 3 or not np.isfinite(skeleton).all():
        raise PoseFileError(f"{path}: \"skeleton\" must be finite numbers shaped (T, V, C), got {list(skeleton.shape)}")
    fps = float(body["fps"]) if isinstance(body["fps"], int | float) else math.nan
    meta = {k: v for k, v in body.items() if k not in ("format", "version", "layout", "units", "fps", "skeleton")}
    return PoseFile(skeleton, str(body["layout"]), str(body["units"]), fps, meta)
