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


def consistent_image(world: np.ndarray) -> np.ndarray:
    """Image rows that are the world x, y at 250 px per metre about the pixel (960, 540), confidence 0.9."""
    image = np.full((*world.shape[:-1], 3), 0.9, np.float32)
    image[..., :2] = world[..., :2] * 250.0 + np.array([960.0, 540.0], np.float32)
    return image


def test_world_depth_is_halved_once_on_every_3d_route() -> None:
    _, world = landmarks()
    image = consistent_image(world)  # image and world agree: the image-plane x, y are the world's
    coco3d = from_mediapipe33(image, world, "coco17-3d")[0]
    np.testing.assert_allclose(coco3d[9, 2], -0.15)  # left wrist: hips at z = 0, -0.3 -> -0.15
    np.testing.assert_allclose(coco3d[5, :3], [0.18, -0.5, 0.05], atol=1e-6)
    np.testing.assert_allclose(from_mediapipe33(image, world, "mediapipe33"), world, atol=1e-6)  # layout halves
    shared = [4, 5, 6, 8, 9, 10, 12, 16]  # shoulders, elbows, wrists, hips
    via_mediapipe = to_ntu25(world, "mediapipe33")[..., shared, :]
    for layout in ("coco17-3d", "openpose25-3d"):
        np.testing.assert_allclose(to_ntu25(from_mediapipe33(image, world, layout), layout)[..., shared, :],
                                   via_mediapipe, atol=1e-6)


def test_3d_layouts_take_x_and_y_from_the_image_and_z_from_the_world() -> None:
    _, world = landmarks()
    image = consistent_image(world)
    image[0, 15, 0] += 50.0  # the picture puts the left wrist 50 px (0.2 m at 250 px/m) further right
    # by hand: the hip centre stays at (960, 540); the least-squares scale of pixels about it onto the world
    # x, y is sum(p.w) / sum(p.p) with p = 250 w except the wrist's x, 250 * 0.3 + 50 = 125 px
    ww = float((world[0, :, :2] ** 2).sum())  # 1.7446 m^2
    scale = (250.0 * ww + 50.0 * 0.3) / (250.0 ** 2 * ww + 125.0 ** 2 - 75.0 ** 2)
    out = from_mediapipe33(image, world, "mediapipe33")[0]
    np.testing.assert_allclose(out[15, :2], [125.0 * scale, 0.0], atol=1e-6)
    np.testing.assert_allclose(out[11, :2], [0.18 * 250.0 * scale, -0.5 * 250.0 * scale], atol=1e-6)
    np.testing.assert_array_equal(out[:, 2:], world[0, :, 2:])  # depth and visibility are the world's
    assert 1 / 250.0 > scale > 0.9 / 250.0
    as_given = from_mediapipe33(image, world, "mediapipe33", xy="world")
    np.testing.assert_array_equal(as_given, world)


def test_frames_without_a_person_stay_empty_and_a_point_image_keeps_the_world() -> None:
    _, world = landmarks()
    worlds = np.concatenate([world, np.zeros_like(world), world])
    images = np.concatenate([consistent_image(world), np.zeros((1, 33, 3), np.float32),
                             np.full((1, 33, 3), 7.0, np.float32)])  # frame 2: every image point at (7, 7)
    out = from_mediapipe33(images, worlds, "mediapipe33")
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[1], 0.0)
    np.testing.assert_array_equal(out[2], world[0])
    with pytest.raises(ValueError, match="xy must be 'image' or 'world'"):
        from_mediapipe33(images, worlds, "mediapipe33", xy="pixels")


def test_unknown_target_is_refused() -> None:
    image, world = landmarks()
    with pytest.raises(ValueError, match="cannot be written as layout 'ntu25'"):
        from_mediapipe33(image, world, "ntu25")
