"""MediaPipe-33 landmarks -> the project's other layouts, the way a user would send them (pure NumPy).

COCO-17 takes MediaPipe's joints of the same name. OpenPose BODY_25 also needs joints MediaPipe lacks:
Neck = mid(shoulders), MidHip = mid(hips), BigToe and SmallToe = foot index (MediaPipe has one toe point),
Heel = heel. A built joint's confidence is the lowest of its sources. "image" rows are (u px, v px, c);
"world" rows are (x, y, z m, c); frames where nobody was found are all zero (absent, as NTU arrays say).
MediaPipe's depth moves about twice as much as Kinect's (docs/skeletons.md): the `mediapipe33` layout halves
it itself, so world landmarks written as `coco17-3d` or `openpose25-3d` (generic layouts that keep depth as
given) get their depth about the hip centre halved here, once.

The 3D layouts take x and y from the image landmarks and only z from the world landmarks (`image_plane_xy`):
MediaPipe's image landmarks are what its network localises in the picture, its world landmarks a separate
metric regression, and on the paired NTU take the image-plane x, y bring the 3D layouts closer to Kinect and
to the take's class with every landmark model (docs/skeletons.md, "Image-plane x, y").
"""

from __future__ import annotations

import numpy as np

from model.layouts import MEDIAPIPE_DEPTH_SCALE

HIPS = [23, 24]  # MediaPipe's left and right hip: the world landmarks' origin is their midpoint

# MediaPipe-33 index (or pair whose midpoint is taken) for each joint of the target layout, in its order.
COCO17_FROM_MEDIAPIPE33: tuple[tuple[int, ...], ...] = (
    (0,), (2,), (5,), (7,), (8,), (11,), (12,), (13,), (14,), (15,), (16,), (23,), (24,), (25,), (26,), (27,), (28,))
OPENPOSE25_FROM_MEDIAPIPE33: tuple[tuple[int, ...], ...] = (
    (0,), (11, 12), (12,), (14,), (16,), (11,), (13,), (15,), (23, 24), (24,), (26,), (28,), (23,), (25,), (27,),
    (5,), (2,), (8,), (7,), (31,), (31,), (29,), (32,), (32,), (30,))

# layout -> (which MediaPipe output it is built from, joint rule; None = all 33 as they are)
TARGETS: dict[str, tuple[str, tuple[tuple[int, ...], ...] | None]] = {
    "mediapipe33": ("world", None),
    "coco17-3d": ("world", COCO17_FROM_MEDIAPIPE33),
    "openpose25-3d": ("world", OPENPOSE25_FROM_MEDIAPIPE33),
    "coco17": ("image", COCO17_FROM_MEDIAPIPE33),
    "openpose25": ("image", OPENPOSE25_FROM_MEDIAPIPE33),
}


def select_joints(landmarks: np.ndarray, rule: tuple[tuple[int, ...], ...] | None) -> np.ndarray:
    """(..., 33, C) with confidence last -> (..., V, C): coordinates averaged over each rule's sources."""
    if rule is None:
        return np.array(landmarks, dtype=np.float32)
    out = np.empty((*landmarks.shape[:-2], len(rule), landmarks.shape[-1]), dtype=np.float32)
    for target, sources in enumerate(rule):
        picked = landmarks[..., list(sources), :]
        out[..., target, :-1] = picked[..., :-1].mean(axis=-2)
        out[..., target, -1] = picked[..., -1].min(axis=-1)
    return out


def image_plane_xy(image: np.ndarray, world: np.ndarray) -> np.ndarray:
    """A copy of (T,33,4) world landmarks whose x, y are the (T,33,3) image landmarks about the hip centre, in
    metres by each frame's least-squares scale onto the world x, y (pixels and world axes both point right and
    down); frames without a person, or whose image points all coincide, keep the world landmarks."""
    out = np.array(world, dtype=np.float32)
    pixels = np.asarray(image, dtype=np.float64)[..., :2]
    about_hips = pixels - pixels[..., HIPS, :].mean(axis=-2, keepdims=True)
    metric = out[..., :2].astype(np.float64)
    spread = (about_hips ** 2).sum(axis=(-2, -1))
    usable = (spread > 0) & (np.abs(out[..., :3]).sum(axis=(-2, -1)) > 0)
    scale = np.where(usable, (about_hips * metric).sum(axis=(-2, -1)) / np.where(usable, spread, 1.0), 0.0)
    out[..., :2] = np.where(usable[..., None, None], about_hips * scale[..., None, None], metric)
    return out


def from_mediapipe33(image: np.ndarray, world: np.ndarray, layout: str, xy: str = "image") -> np.ndarray:
    """(T,33,3) image and (T,33,4) world landmarks -> (T, V, C) of `layout`, confidence last.

    `xy` = "image" (the default, `image_plane_xy`) or "world" (MediaPipe's world x, y as given) for 3D layouts.
    """
    if layout not in TARGETS:
        raise ValueError(f"MediaPipe output cannot be written as layout {layout!r}; choose one of "
                         f"{', '.join(TARGETS)}")
    if xy not in ("image", "world"):
        raise ValueError(f"xy must be 'image' or 'world', got {xy!r}")
    source, rule = TARGETS[layout]
    if source == "image":
        return select_joints(image, rule)
    world = image_plane_xy(image, world) if xy == "image" else np.array(world, dtype=np.float32)
    if rule is not None:
        hip_z = world[..., HIPS, 2].mean(axis=-1, keepdims=True)
        world[..., 2] = hip_z + MEDIAPIPE_DEPTH_SCALE * (world[..., 2] - hip_z)
    return select_joints(world, rule)
