"""The layout-cost benchmark's NTU -> layout conversion: joints copied, axes turned, depth dropped by projection."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.layout_cost import from_ntu
from model.layouts import to_ntu25

pytestmark = pytest.mark.unit
SHARED = (4, 5, 6, 8, 9, 10, 12, 13, 14, 16, 17, 18)  # NTU joints every layout has (arms and legs)


def ntu_clip() -> np.ndarray:
    rng = np.random.default_rng(0)
    clip = rng.normal(scale=0.3, size=(2, 6, 25, 3)) + [0.0, 0.0, 3.4]
    clip[1, 4] = 0.0  # second body absent in frame 4
    return clip


def test_coco17_3d_copies_joints_in_camera_axes() -> None:
    clip = ntu_clip()
    coco = from_ntu(clip, "coco17-3d")
    np.testing.assert_array_equal(coco[0, 0, 5], clip[0, 0, 4] * [-1, -1, 1])  # left shoulder <- ShoulderLeft
    np.testing.assert_array_equal(coco[0, 0, 16], clip[0, 0, 18] * [-1, -1, 1])  # right ankle <- AnkleRight
    np.testing.assert_array_equal(coco[0, 0, 3], clip[0, 0, 3] * [-1, -1, 1])  # left ear <- Head
    assert np.all(coco[1, 4] == 0)


@pytest.mark.parametrize("layout", ["coco17-3d", "mediapipe33", "openpose25-3d"])
def test_round_trip_keeps_the_shared_joints_up_to_a_depth_shift(layout: str) -> None:
    clip = ntu_clip()
    back = to_ntu25(from_ntu(clip, layout), layout).astype(np.float64)
    present = np.any(clip != 0, axis=(-1, -2))
    if layout == "mediapipe33":  # world landmarks are hip-centred in every frame: the hip centre is lost
        clip = clip.copy()
        clip -= (clip[..., 12:13, :] + clip[..., 16:17, :]) / 2.0
    diff = back[..., SHARED, :][present] - clip[..., SHARED, :][present]
    np.testing.assert_allclose(diff[..., :2], 0.0, atol=1e-5)
    np.testing.assert_allclose(diff[..., 2], diff[0, 0, 2], atol=1e-5)  # one constant depth shift
    assert np.all(back[1, 4] == 0)


def test_2d_projection_matches_kinect_depth_pixels() -> None:
    clip = np.zeros((1, 1, 25, 3))
    clip[0, 0, :] = [0.5, 0.25, 2.0]
    uv = from_ntu(clip, "coco17")
    # non-mirrored image: u = 256 - 365 x / z, v = 212 - 365 y / z
    np.testing.assert_allclose(uv[0, 0, 5], [256 - 365 * 0.25, 212 - 365 * 0.125])
