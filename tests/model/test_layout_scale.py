"""The 2D scale from seen joints: waist-up OpenPose frames, the early median, empty input and refusals."""

from __future__ import annotations

import numpy as np
import pytest

from model.layout_scale import SCALE_FRAMES, SHOULDER_M, TORSO_M, early_median
from model.layouts import LayoutError, scale_2d, to_ntu25
from model.plausibility import bone_medians, plausibility_warning

pytestmark = pytest.mark.unit


def waist_up(frames: int = 20) -> np.ndarray:
    """(T,25,3) OpenPose BODY_25 as a webcam gives it (1280x720): hips at the bottom edge at confidence
    0.17-0.21, legs and feet absent (zeros), the right wrist rising."""
    j = np.zeros((25, 3))
    j[0] = [640, 330, 0.92]
    j[1] = [640, 470, 0.88]  # neck
    j[2], j[3], j[4] = [520, 475, 0.85], [480, 610, 0.80], [500, 700, 0.62]  # right arm
    j[5], j[6], j[7] = [760, 475, 0.86], [800, 610, 0.78], [780, 705, 0.60]  # left arm
    j[8], j[9], j[12] = [640, 712, 0.19], [580, 714, 0.17], [700, 713, 0.21]  # mid hip, hips: faint
    j[15], j[16], j[17], j[18] = [615, 305, 0.90], [665, 305, 0.91], [585, 320, 0.75], [695, 320, 0.77]
    x = np.repeat(j[None], frames, 0)
    x[:, 4, 1] -= 8.0 * np.arange(frames)
    return x


def test_waist_up_frames_scale_from_the_shoulders():
    ntu = to_ntu25(waist_up(), "openpose25")[0]
    width = np.linalg.norm(ntu[:, 4] - ntu[:, 8], axis=-1)
    np.testing.assert_allclose(width, SHOULDER_M, rtol=1e-5)  # 240 px shoulders -> 0.36 m (was 9.5 m)
    # hips placed TORSO_M below the shoulders; SpineShoulder is OpenPose's neck, 5 px above them
    np.testing.assert_allclose(ntu[:, 0, 1], ntu[:, 4, 1] - TORSO_M, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ntu[:, 0] - ntu[:, 20], axis=-1), TORSO_M + 5 * 0.36 / 240, rtol=1e-5)
    assert scale_2d(waist_up(), "openpose25") == pytest.approx(SHOULDER_M / 240.0)
    assert plausibility_warning(ntu) is None
    assert bone_medians(ntu)["upper arm"] == pytest.approx(np.hypot(40, 135) * 0.36 / 240, rel=1e-5)


def test_seen_hips_scale_from_the_torso():
    x = waist_up()
    x[:, [9, 12], 2] = 0.9  # the same frames with confident hips: torso (shoulder centre to hip centre) = 0.5 m
    assert scale_2d(x, "openpose25") == pytest.approx(TORSO_M / 238.5)


def test_early_median_takes_the_first_measured_frames():
    lengths = np.full((2, 100), np.nan)
    lengths[0, 10:] = 100.0
    lengths[1, 10 + SCALE_FRAMES:] = 500.0  # only after the first SCALE_FRAMES measured frames
    assert early_median(lengths) == 100.0
    assert early_median(np.full((1, 5), np.nan)) is None


def test_nobody_is_empty_and_a_head_alone_is_refused():
    assert not to_ntu25(np.zeros((10, 17, 3)), "coco17").any()
    assert scale_2d(np.zeros((10, 17, 3)), "coco17") is None
    head = np.zeros((10, 17, 3))
    head[:, :5] = [300.0, 200.0, 0.9]
    head[:, :5, 0] += np.arange(5) * 10
    with pytest.raises(LayoutError, match=r"left_shoulder \(5\), right_shoulder \(6\), left_hip \(11\)"):
        to_ntu25(head, "coco17")


def test_a_fixed_scale_is_used_as_given():
    x = waist_up()
    ntu = to_ntu25(x, "openpose25", scale=0.02)[0]
    assert np.linalg.norm(ntu[0, 4] - ntu[0, 8]) == pytest.approx(4.8, rel=1e-5)
    assert "shoulder width 4.8 m" in plausibility_warning(ntu)


def test_3d_hips_never_seen_are_placed_a_torso_below_the_shoulders():
    """coco17-3d in centimetres (camera axes, y down), hips under the threshold in every frame: each hip lands
    TORSO_M straight below its shoulder, as in 2D; before, both were filled from the upper body's mean."""
    x = np.zeros((6, 17, 4))
    x[:, 5] = [18.0, -150.0, 300.0, 0.9]  # left shoulder
    x[:, 6] = [-18.0, -150.0, 310.0, 0.9]  # right shoulder
    x[:, 0] = [0.0, -175.0, 295.0, 0.9]  # nose
    x[:, [11, 12], 3] = 0.1  # hips: guessed, not seen
    ntu = to_ntu25(x, "coco17-3d", units="cm")[0]
    # NTU axes (y up): HipLeft (12) = ShoulderLeft (4) - 0.5 m in y, same depth; HipRight (16) likewise
    np.testing.assert_allclose(ntu[:, 12] - ntu[:, 4], np.tile([0.0, -TORSO_M, 0.0], (6, 1)), atol=1e-6)
    np.testing.assert_allclose(ntu[:, 16] - ntu[:, 8], np.tile([0.0, -TORSO_M, 0.0], (6, 1)), atol=1e-6)
    assert plausibility_warning(ntu) is None
    seen = x.copy()
    seen[:, [11, 12]] = [[10.0, -110.0, 300.0, 0.9], [-10.0, -110.0, 310.0, 0.9]]  # hips seen 40 cm lower
    kept = to_ntu25(seen, "coco17-3d", units="cm")[0]
    np.testing.assert_allclose(kept[:, 12, :2], np.tile([-0.1, 1.1], (6, 1)), atol=1e-6)  # as given, (-x, -y)
