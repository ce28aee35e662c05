"""Per-frame estimator records (the JSON lines of `pose.run`) -> arrays; frames without a person stay zero."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np


def frame_arrays(record: dict[str, Any], joints: int) -> tuple[np.ndarray, np.ndarray]:
    """One record -> (V, 3) image and (V, 4) world rows, zeros where the estimator found nobody."""
    image = np.zeros((joints, 3), np.float32)
    world = np.zeros((joints, 4), np.float32)
    if record.get("image") is not None:
        image[:] = np.asarray(record["image"], np.float32)
    if record.get("world") is not None:
        world[:] = np.asarray(record["world"], np.float32)
    return image, world


def collect(records: Iterable[dict[str, Any]], joints: int = 33) -> tuple[np.ndarray, np.ndarray]:
    """Frame records -> (T, V, 3) image and (T, V, 4) world arrays."""
    pairs = [frame_arrays(record, joints) for record in records]
    if not pairs:
        return np.zeros((0, joints, 3), np.float32), np.zeros((0, joints, 4), np.float32)
    images, worlds = zip(*pairs, strict=True)
    return np.stack(images), np.stack(worlds)
