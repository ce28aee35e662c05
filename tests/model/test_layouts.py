"""Layout mappings onto NTU-25 against joints computed by hand from the documented rules."""

from __future__ import annotations

import numpy as np
import pytest

from model.layouts import LAYOUTS, LayoutError, check_shape, resolve_units, to_ntu25, units_warning

pytestmark = pytest.mark.unit

# One COCO-17 person in camera axes (x right, y down, z away), metres; the subject faces the camera, so its
# left side is at larger x. Hips at z = 3 m, so the depth shift is 0.
COCO_3D = np.array([
    [0.0, -1.6, 3.0], [0.03, -1.63, 3.0], [-0.03, -1.63, 3.0], [0.08, -1.6, 3.0], [-0.08, -1.6, 3.0],
    [0.2, -1.4, 3.0], [-0.2, -1.4, 3.0], [0.3, -1.1, 3.0], [-0.3, -1.1, 3.0], [0.3, -0.8, 2.8], [-0.3, -0.8, 3.0],
    [0.1, -0.9, 3.0], [-0.1, -0.9, 3.0], [0.1, -0.5, 3.0], [-0.1, -0.5, 3.0], [0.1, -0.1, 3.0], [-0.1, -0.1, 3.1],
])
# Worked by hand: (x, y, z) -> (-x, -y, z); SpineBase = mid hips, SpineShoulder = mid shoulders, SpineMid halfway,
# Head = mid ears, Neck = SS + (Head - SS)/3, Hand/Thumb/HandTip = W + 0.25/0.4/0.6 (W - E), Foot = A + 0.2 (A - K).
COCO_3D_AS_NTU = np.array([
    [0.0, 0.9, 3.0], [0.0, 1.15, 3.0], [0.0, 1.4 + 0.2 / 3, 3.0], [0.0, 1.6, 3.0],  # spine, neck, head
    [-0.2, 1.4, 3.0], [-0.3, 1.1, 3.0], [-0.3, 0.8, 2.8], [-0.3, 0.725, 2.75],  # left arm + hand
    [0.2, 1.4, 3.0], [0.3, 1.1, 3.0], [0.3, 0.8, 3.0], [0.3, 0.725, 3.0],  # right arm + hand
    [-0.1, 0.9, 3.0], [-0.1, 0.5, 3.0], [-0.1, 0.1, 3.0], [-0.1, 0.02, 3.0],  # left leg + foot
    [0.1, 0.9, 3.0], [0.1, 0.5, 3.0], [0.1, 0.1, 3.1], [0.1, 0.02, 3.12],  # right leg + foot
    [0.0, 1.4, 3.0], [-0.3, 0.62, 2.68], [-0.3, 0.68, 2.72], [0.3, 0.62, 3.0], [0.3, 0.68, 3.0],
])


def test_coco17_3d_every_joint_by_hand() -> None:
    got = to_ntu25(COCO_3D[None], "coco17-3d")
    assert got.shape == (1, 1, 25, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got[0, 0], COCO_3D_AS_NTU, atol=1e-6)


def test_coco17_3d_units_confidence_channel_and_depth_shift() -> None:
    shifted = COCO_3D + [0.0, 0.0, 1.5]  # hips at 4.5 m: the shift brings them back to 3 m
    with_conf = np.concatenate([shifted * 1000.0, np.full((17, 1), 0.9)], axis=-1)
    got = to_ntu25(with_conf[None, None], "coco17-3d", units="mm")
    np.testing.assert_allclose(got[0, 0], COCO_3D_AS_NTU, atol=1e-5)


def coco_2d(frames: int = 3) -> np.ndarray:
    """(T,17,3) pixels + confidence: shoulders at v=100, hips at v=300 (torso 200 px); +10 px in u per frame."""
    base = np.array([[200, 60], [210, 50], [190, 50], [220, 55], [180, 55], [240, 100], [160, 100], [260, 180],
                     [140, 180], [270, 250], [130, 250], [225, 300], [175, 300], [225, 400], [175, 400],
                     [225, 500], [175, 500]], dtype=np.float64)
    out = np.zeros((frames, 17, 3))
    for t in range(frames):
        out[t, :, :2] = base + [10.0 * t, 0.0]
    out[..., 2] = 0.9
    return out


def test_coco17_2d_depth_rule_interpolation_and_never_seen_joints() -> None:
    x = coco_2d()
    x[1, 9] = [999.0, 999.0, 0.1]  # left wrist below the threshold in frame 1: interpolated from frames 0 and 2
    x[:, 3, 2] = 0.0  # left ear never seen: copied from its parent, the left eye
    got = to_ntu25(x, "coco17")[0]
    s = 0.5 / 200.0  # TORSO_M / median torso in px
    np.testing.assert_allclose(got[..., 2], 3.0)  # constant depth
    np.testing.assert_allclose(got[1, 6], [-280 * s, -250 * s, 3.0], atol=1e-6)  # WristLeft (interpolated)
    np.testing.assert_allclose(got[1, 3], [-205 * s, -52.5 * s, 3.0], atol=1e-6)  # Head = mid(left eye, right ear)
    np.testing.assert_allclose(got[0, 0], [-200 * s, -300 * s, 3.0], atol=1e-6)  # SpineBase
    np.testing.assert_allclose(got[2, 4], [-260 * s, -100 * s, 3.0], atol=1e-6)  # ShoulderLeft
    np.testing.assert_allclose(got[2, 8], [-180 * s, -100 * s, 3.0], atol=1e-6)  # ShoulderRight
    assert got[2, 8, 0] > got[2, 4, 0]  # subject's right at larger x, as in NTU (a rotation, not a mirror)


def test_coco17_2d_interpolation_holds_edges_and_absent_frames_are_empty() -> None:
    x = coco_2d(4)
    x[0, 9, 2] = 0.0  # first frame: held at the first seen position (frame 1)
    x[2] = 0.0  # person absent in frame 2 (zero coordinates and confidence)
    got = to_ntu25(x, "coco17")[0]
    s = 0.5 / 200.0
    np.testing.assert_allclose(got[0, 6], [-280 * s, -250 * s, 3.0], atol=1e-6)
    assert np.all(got[2] == 0)
    assert np.all(np.any(got[[0, 1, 3]] != 0, axis=-1))


def test_zero_coordinates_mean_missing_without_a_confidence_channel() -> None:
    x = coco_2d()[..., :2]
    x[1, 10] = 0.0  # right wrist (0, 0) in frame 1 = missing: interpolated between frames 0 and 2
    got = to_ntu25(x, "coco17")[0]
    s = 0.5 / 200.0
    np.testing.assert_allclose(got[1, 10], [-140 * s, -250 * s, 3.0], atol=1e-6)


def mediapipe_pose() -> np.ndarray:
    """(33,3) world landmarks (hip-centred, y down); unused points sit at the nose."""
    x = np.tile([0.0, -0.65, -0.05], (33, 1))
    x[7], x[8] = [0.07, -0.6, 0.0], [-0.07, -0.6, 0.0]  # ears
    x[11], x[12] = [0.18, -0.5, 0.0], [-0.18, -0.5, 0.0]  # shoulders
    x[13], x[14] = [0.25, -0.25, 0.0], [-0.25, -0.25, 0.0]  # elbows
    x[15], x[17], x[19], x[21] = [0.3, 0.1, -0.1], [0.32, 0.2, -0.1], [0.28, 0.2, -0.1], [0.25, 0.15, -0.12]
    x[16], x[18], x[20], x[22] = [-0.3, 0.0, 0.0], [-0.3, 0.1, 0.0], [-0.3, 0.1, 0.0], [-0.26, 0.05, 0.0]
    x[23], x[24] = [0.1, 0.0, 0.0], [-0.1, 0.0, 0.0]  # hips (origin = their centre)
    x[25], x[26], x[27], x[28] = [0.1, 0.4, 0.0], [-0.1, 0.4, 0.0], [0.1, 0.8, 0.0], [-0.1, 0.8, 0.0]
    x[29], x[30], x[31], x[32] = [0.1, 0.85, 0.05], [-0.1, 0.85, 0.05], [0.1, 0.9, -0.1], [-0.1, 0.9, -0.12]
    return x


def test_mediapipe33_by_hand() -> None:
    pose = np.concatenate([mediapipe_pose(), np.full((33, 1), 0.95)], axis=-1)
    got = to_ntu25(pose[None], "mediapipe33")[0, 0]
    # (x, y, z) -> (-x, -y, 0.5 z + 3): depth about the hip centre halved (MEDIAPIPE_DEPTH_SCALE), hips to 3 m
    expected = {
        0: [0, 0, 3], 20: [0, 0.5, 3], 1: [0, 0.25, 3], 3: [0, 0.6, 3], 2: [0, 0.5 + 0.1 / 3, 3],
        4: [-0.18, 0.5, 3], 6: [-0.3, -0.1, 2.95], 12: [-0.1, 0, 3], 14: [-0.1, -0.8, 3],
        7: [-0.3, -0.15, 2.95],  # Hand = mid(wrist, K), K = mid(index, pinky) = (0.30, 0.2, -0.1)
        21: [-0.3, -0.3, 2.95],  # HandTip = 2K - wrist
        22: [-0.25, -0.15, 2.94],  # Thumb = thumb
        11: [0.3, -0.05, 3], 23: [0.3, -0.2, 3], 24: [0.26, -0.05, 3],  # right hand
        15: [-0.1, -0.9, 2.95], 19: [0.1, -0.9, 2.94],  # Foot = foot index
    }
    for joint, want in expected.items():
        np.testing.assert_allclose(got[joint], want, atol=1e-6, err_msg=f"NTU joint {joint}")


def test_mediapipe33_low_visibility_hand_points_use_their_parent() -> None:
    pose = np.concatenate([mediapipe_pose(), np.full((33, 1), 0.95)], axis=-1)
    pose[[17, 19, 21], 3] = 0.2  # left pinky, index, thumb never visible: all take the left wrist
    got = to_ntu25(pose[None, None], "mediapipe33", confidence_threshold=0.5)[0, 0]
    for joint in (7, 21, 22):  # Hand, HandTip, Thumb collapse onto the wrist (-0.3, -0.1, 2.95)
        np.testing.assert_allclose(got[joint], [-0.3, -0.1, 2.95], atol=1e-6)


def test_openpose25_3d_by_hand() -> None:
    x = np.zeros((25, 3))
    x[:, 2] = 2.0
    x[1] = [0.0, -1.45, 2.0]  # Neck -> SpineShoulder
    x[8] = [0.0, -0.95, 2.0]  # MidHip -> SpineBase (not the mean of the hips below)
    x[12], x[9] = [0.12, -0.9, 2.0], [-0.12, -0.9, 2.0]  # LHip, RHip: hip centre z = 2 -> shift +1
    x[17], x[18] = [-0.08, -1.7, 2.0], [0.08, -1.7, 2.1]  # REar, LEar
    x[5], x[6], x[7] = [0.2, -1.4, 2.0], [0.3, -1.1, 2.0], [0.3, -0.8, 2.0]  # left arm
    x[2], x[3], x[4] = [-0.2, -1.4, 2.0], [-0.3, -1.1, 2.0], [-0.4, -0.8, 2.0]  # right arm
    x[14], x[19], x[20] = [0.1, -0.1, 2.0], [0.12, 0.0, 1.8], [0.16, 0.0, 1.9]  # LAnkle, LBigToe, LSmallToe
    x[0] = [0.0, -1.6, 1.9]
    got = to_ntu25(x[None], "openpose25-3d")[0, 0]
    np.testing.assert_allclose(got[20], [0, 1.45, 3], atol=1e-6)
    np.testing.assert_allclose(got[0], [0, 0.95, 3], atol=1e-6)
    np.testing.assert_allclose(got[1], [0, 1.2, 3], atol=1e-6)
    np.testing.assert_allclose(got[3], [0, 1.7, 3.05], atol=1e-6)
    np.testing.assert_allclose(got[2], [0, 1.45 + 0.25 / 3, 3 + 0.05 / 3], atol=1e-6)
    np.testing.assert_allclose(got[15], [-0.14, 0.0, 2.85], atol=1e-6)  # FootLeft = mid(big toe, small toe)
    np.testing.assert_allclose(got[11], [0.425, 0.725, 3], atol=1e-6)  # HandRight = W + 0.25 (W - E)
    np.testing.assert_allclose(got[23], [0.46, 0.62, 3], atol=1e-6)  # HandTipRight = W + 0.6 (W - E)


def test_ntu25_is_identity_with_units_and_keeps_empty_joints() -> None:
    x = np.arange(2 * 3 * 25 * 3, dtype=np.float64).reshape(2, 3, 25, 3) + 1.0
    x[1, 2] = 0.0
    np.testing.assert_array_equal(to_ntu25(x, "ntu25"), x.astype(np.float32))
    np.testing.assert_allclose(to_ntu25(x, "ntu25", units="cm"), x / 100.0, rtol=1e-6)
    assert np.all(to_ntu25(x, "ntu25", units="mm")[1, 2] == 0)


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_wrong_joint_counts_and_channels_are_refused_naming_the_shape(name: str) -> None:
    spec = LAYOUTS[name]
    channels = "|".join(str(c) for c in spec.channels)
    shape = f"(T,{spec.num_joints},{channels}) or (M,T,{spec.num_joints},{channels})"
    for bad in [(4, spec.num_joints + 1, spec.dims), (1, 4, spec.num_joints - 1, spec.dims),
                (4, spec.num_joints, spec.dims + 2), (spec.num_joints, spec.dims)]:
        with pytest.raises(LayoutError) as err:
            to_ntu25(np.ones(bad), name)
        assert f"layout '{name}' expects {shape}" in str(err.value)
    assert check_shape(np.ones((4, spec.num_joints, spec.dims)), name).shape == (1, 4, spec.num_joints, spec.dims)


def test_expected_shapes_are_the_documented_ones() -> None:
    assert LAYOUTS["coco17"].shape_text() == "(T,17,2|3) or (M,T,17,2|3)"
    assert LAYOUTS["coco17-3d"].shape_text() == "(T,17,3|4) or (M,T,17,3|4)"
    assert LAYOUTS["mediapipe33"].shape_text() == "(T,33,3|4) or (M,T,33,3|4)"
    assert LAYOUTS["openpose25"].shape_text() == "(T,25,2|3) or (M,T,25,2|3)"
    assert LAYOUTS["ntu25"].shape_text() == "(T,25,3) or (M,T,25,3)"


def test_units_and_layout_names_are_checked() -> None:
    with pytest.raises(LayoutError, match="unknown layout 'coco18'"):
        to_ntu25(np.ones((2, 18, 2)), "coco18")
    with pytest.raises(LayoutError, match="2D: units must be 'px'"):
        resolve_units(LAYOUTS["coco17"], "m")
    with pytest.raises(LayoutError, match="must be one of m, cm, mm"):
        resolve_units(LAYOUTS["mediapipe33"], "px")
    assert resolve_units(LAYOUTS["openpose25"], None) == "px"
    assert resolve_units(LAYOUTS["openpose25-3d"], None) == "m"


def test_2d_without_a_torso_is_refused() -> None:
    x = np.ones((3, 17, 2))  # every joint at one point: torso length 0
    with pytest.raises(LayoutError, match="cannot scale 2D input"):
        to_ntu25(x, "coco17")


def test_units_warning_spots_millimetres_and_centimetres() -> None:
    ntu = np.zeros((1, 2, 25, 3))
    ntu[..., 0, :] = [0.0, 0.9, 3.0]
    ntu[..., 20, :] = [0.0, 1.4, 3.0]  # torso 0.5 m
    assert units_warning(ntu) is None
    assert "millimetres" in units_warning(ntu * 1000.0) and "units='mm'" in units_warning(ntu * 1000.0)
    assert "centimetres" in units_warning(ntu * 100.0) and "units='cm'" in units_warning(ntu * 100.0)
    assert units_warning(np.zeros((1, 2, 25, 3))) is None


def test_mediapipe33_depth_is_halved_about_the_hip_centre_and_other_3d_layouts_keep_theirs() -> None:
    pose = np.concatenate([mediapipe_pose(), np.full((33, 1), 0.95)], axis=-1)
    pose[..., 2] += 0.4  # hips at z = 0.4: the halving is about the hip centre, not about z = 0
    pose[15, 2] = 0.4 - 0.3  # left wrist 0.3 m in front of the hips -> 0.15 m in front after halving
    got = to_ntu25(pose[None], "mediapipe33")[0, 0]
    np.testing.assert_allclose(got[6, 2] - got[0, 2], -0.15, atol=1e-6)
    coco = np.zeros((17, 3))
    coco[[5, 6, 11, 12, 9]] = [[0.2, -0.5, 2.0], [-0.2, -0.5, 2.0], [0.1, 0, 2.0], [-0.1, 0, 2.0], [0.3, 0, 1.7]]
    got = to_ntu25(coco[None], "coco17-3d")[0, 0]
    np.testing.assert_allclose(got[6, 2] - got[0, 2], -0.3, atol=1e-6)  # coco17-3d depth as given
