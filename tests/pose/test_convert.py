"""MediaPipe-33 written as the other layouts (pose/convert.py), checked joint by joint against hand values."""

from __future__ import annotations

import numpy as np
import pytest

from model.layouts import to_ntu25
from pose.convert import from_mediapipe33

pytestmark = pytest.mark.unit


def landmarks() -> tuple[np.ndarray, np.ndarray]:
    """(1,33,3) image rows u = 10 i, v = 100 + i, c = 0.9 (0.5 at the left hip) and a plausible (1,33,4) world."""
    idx = np.arange(33, dtype=np.float32)
    image = np.stack([10 * idx, 100 + idx, np.full(33, 0.9, np.float32)], axis=-1)[None]
    image[0, 23, 2] = 0.5
    world = np.zeros((1, 33, 4), np.float32)
    world[..., 3] = 0.95
    world[0, [11, 12, 23, 24], :3] = [[0.18, -0.5, 0.1], [-0.18, -0.5, -0.1], [0.1, 0, 0.04], [-0.1, 0, -0.04]]
    world[0, [13, 14], :3] = [[0.25, -0.25, 0.0], [-0.25, -0.25, -0.2]]
    world[0, [15, 16], :3] = [[0.3, 0.0, -0.3], [-0.3, 0.0, -0.4]]
    world[0, [7, 8], :3] = [[0.07, -0.6, 0.0], [-0.07, -0.6, 0.0]]
    return image, world


def test_coco17_takes_mediapipe_joints_of_the_same_name() -> None:
    image, world = landmarks()
    coco = from_mediapipe33(image, world, "coco17")[0]
    picked = [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]
    np.testing.assert_array_equal(coco[:, 0], [10 * i for i in picked])
    np.testing.assert_array_equal(coco[:, 1], [100 + i for i in picked])
    assert coco[11, 2] == pytest.approx(0.5) and coco[12, 2] == pytest.approx(0.9)  # left hip keeps its own


def test_openpose25_builds_neck_midhip_and_toes() -> None:
    image, world = landmarks()
    body = from_mediapipe33(image, world, "openpose25")[0]
    np.testing.assert_allclose(body[1], [115, 111.5, 0.9])  # Neck = mid(shoulders 11, 12)
    np.testing.assert_allclose(body[8], [235, 123.5, 0.5])  # MidHip = mid(hips 23, 24), lowest confidence
    np.testing.assert_allclose(body[2], [120, 112, 0.9])  # RShoulder = right_shoulder (12)
    np.testing.assert_allclose(body[19], [310, 131, 0.9])  # LBigToe = left_foot_index (31)
    np.testing.assert_allclose(body[20], body[19])  # LSmallToe: MediaPipe has one toe point
    np.testing.assert_allclose(body[24], [300, 130, 0.9])  # RHeel = right_heel (30)


def test_world_depth_is_halved_once_on_every_3d_route() -> None:
    image, world = landmarks()
    coco3d = from_mediapipe33(image, world, "coco17-3d")[0]
    np.testing.assert_allclose(coco3d[9, 2], -0.15)  # left wrist: hips at z = 0, -0.3 -> -0.15
    np.testing.assert_allclose(coco3d[5, :3], [0.18, -0.5, 0.05])
    np.testing.assert_array_equal(from_mediapipe33(image, world, "mediapipe33"), world)  # the layout halves it
    shared = [4, 5, 6, 8, 9, 10, 12, 16]  # shoulders, elbows, wrists, hips
    via_mediapipe = to_ntu25(world, "mediapipe33")[..., shared, :]
    for layout in ("coco17-3d", "openpose25-3d"):
        np.testing.assert_allclose(to_ntu25(from_mediapipe33(image, world, layout), layout)[..., shared, :],
                                   via_mediapipe, atol=1e-6)


def test_unknown_target_is_refused() -> None:
    image, world = landmarks()
    with pytest.raises(ValueError, match="cannot be written as layout 'ntu25'"):
        from_mediapipe33(image, world, "ntu25")
