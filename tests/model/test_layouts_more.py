"""OpenPose-18, Human3.6M-17, Halpe-26 and COCO-WholeBody-133 against joints computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from model.layouts import LAYOUTS, to_ntu25

pytestmark = pytest.mark.unit

S = 0.5 / 200.0  # every 2D pose below has a 200 px torso: TORSO_M / 200


def px(u: float, v: float) -> list[float]:
    """Image pixels -> NTU metres under the 2D rule: (-u s, -v s, 3)."""
    return [-u * S, -v * S, 3.0]


COCO_BODY = np.array([[200, 60], [210, 50], [190, 50], [220, 55], [180, 55], [240, 100], [160, 100], [260, 180],
                      [140, 180], [270, 250], [130, 250], [225, 300], [175, 300], [225, 400], [175, 400],
                      [225, 500], [175, 500]], dtype=np.float64)


def with_confidence(points: np.ndarray, confidence: float = 0.9) -> np.ndarray:
    return np.concatenate([points, np.full((len(points), 1), confidence)], axis=-1)


def openpose18_pose() -> np.ndarray:
    """(18,3) pixels + confidence in OpenPose COCO-18 order (nose, neck, right arm, left arm, right leg, ...)."""
    x = np.array([[200, 60], [200, 100], [160, 100], [140, 180], [130, 250], [240, 100], [260, 180], [270, 250],
                  [180, 300], [175, 400], [175, 500], [220, 300], [225, 400], [225, 500], [190, 50], [210, 50],
                  [190, 50], [210, 50]], dtype=np.float64)
    return with_confidence(x)


def test_openpose18_by_hand() -> None:
    got = to_ntu25(openpose18_pose()[None], "openpose18")[0, 0]
    expected = {
        20: px(200, 100),  # SpineShoulder = Neck
        0: px(200, 300),  # SpineBase = mid(RHip, LHip)
        3: px(200, 50),  # Head = mid(ears)
        4: px(240, 100), 8: px(160, 100),  # shoulders: the subject's left is LShoulder (5)
        7: px(272.5, 267.5),  # HandLeft = LWrist + 0.25 (LWrist - LElbow)
        15: px(225, 520),  # FootLeft = LAnkle + 0.2 (LAnkle - LKnee)
        16: px(180, 300), 18: px(175, 500),  # HipRight, AnkleRight
    }
    for joint, want in expected.items():
        np.testing.assert_allclose(got[joint], want, atol=1e-6, err_msg=f"NTU joint {joint}")


def h36m_pose() -> np.ndarray:
    """(17,3) Human3.6M-17 in camera axes (y down), metres; the hips at z = 3 m, so no depth shift."""
    return np.array([
        [0.0, -0.9, 3.0], [-0.1, -0.9, 3.0], [-0.1, -0.5, 3.0], [-0.1, -0.1, 3.1],  # pelvis, right leg
        [0.1, -0.9, 3.0], [0.1, -0.5, 3.0], [0.1, -0.1, 3.0],  # left leg
        [0.0, -1.2, 3.0], [0.0, -1.4, 3.0], [0.0, -1.55, 2.9], [0.0, -1.75, 3.0],  # spine, thorax, nose, head
        [0.2, -1.4, 3.0], [0.3, -1.1, 3.0], [0.3, -0.8, 2.8],  # left arm
        [-0.2, -1.4, 3.0], [-0.3, -1.1, 3.0], [-0.3, -0.8, 3.0],  # right arm
    ])


def test_h36m17_by_hand() -> None:
    got = to_ntu25(h36m_pose()[None], "h36m17")[0, 0]
    expected = {  # (x, y, z) -> (-x, -y, z)
        0: [0, 0.9, 3], 1: [0, 1.2, 3], 20: [0, 1.4, 3],  # pelvis, spine, thorax
        3: [0, 1.65, 2.95],  # Head = mid(neck/nose, head)
        2: [0, 1.4 + 0.25 / 3, 3 - 0.05 / 3],  # Neck = SS + (Head - SS) / 3
        4: [-0.2, 1.4, 3], 6: [-0.3, 0.8, 2.8], 7: [-0.3, 0.725, 2.75],  # left arm, Hand = W + 0.25 (W - E)
        13: [-0.1, 0.5, 3], 16: [0.1, 0.9, 3],  # KneeLeft, HipRight
        18: [0.1, 0.1, 3.1], 19: [0.1, 0.02, 3.12],  # AnkleRight = right foot, Foot = A + 0.2 (A - K)
    }
    for joint, want in expected.items():
        np.testing.assert_allclose(got[joint], want, atol=1e-6, err_msg=f"NTU joint {joint}")


def halpe26_pose() -> np.ndarray:
    extra = np.array([[200, 30], [200, 100], [200, 300], [230, 520], [170, 520], [240, 515], [160, 515],
                      [225, 510], [175, 510]], dtype=np.float64)
    return with_confidence(np.concatenate([COCO_BODY, extra]))


def test_halpe26_by_hand() -> None:
    got = to_ntu25(halpe26_pose()[None], "halpe26")[0, 0]
    expected = {
        0: px(200, 300), 20: px(200, 100),  # SpineBase = Hip (19), SpineShoulder = Neck (18)
        3: px(200, 55),  # Head = mid(ears), not the head top (17)
        15: px(235, 517.5), 19: px(165, 517.5),  # Foot = mid(big toe, small toe)
        9: px(140, 180),  # ElbowRight
    }
    for joint, want in expected.items():
        np.testing.assert_allclose(got[joint], want, atol=1e-6, err_msg=f"NTU joint {joint}")


def wholebody_pose() -> np.ndarray:
    """(133,3): COCO body, feet, face at the nose, a seen left hand and a never-seen right hand."""
    x = np.zeros((133, 3))
    x[:17] = with_confidence(COCO_BODY)
    x[17:23] = with_confidence(np.array([[230, 520], [240, 515], [225, 510], [170, 520], [160, 515], [175, 510]]))
    x[23:91] = [200, 60, 0.9]
    x[91:112] = [272, 275, 0.9]  # left hand points not named below
    x[91] = [270, 250, 0.9]  # the hand's own wrist
    x[95] = [262, 290, 0.9]  # thumb tip
    x[100] = [275, 280, 0.9]  # middle-finger knuckle
    x[103] = [278, 310, 0.9]  # middle-finger tip
    x[112:133] = [999, 999, 0.1]  # right hand under the threshold in every frame
    return x


def test_coco_wholebody133_by_hand() -> None:
    got = to_ntu25(wholebody_pose()[None], "coco_wholebody133")[0, 0]
    expected = {
        7: px(272.5, 265),  # HandLeft = mid(wrist, middle knuckle)
        21: px(278, 310), 22: px(262, 290),  # HandTipLeft = middle tip, ThumbLeft = thumb tip
        11: px(127.5, 267.5),  # never-seen right hand: HandRight = W + 0.25 (W - E)
        23: px(130 + 0.6 * -10, 250 + 0.6 * 70), 24: px(130 + 0.4 * -10, 250 + 0.4 * 70),
        15: px(235, 517.5), 19: px(165, 517.5),  # Foot = mid(big toe, small toe)
        0: px(200, 300), 20: px(200, 100), 3: px(200, 55),
    }
    for joint, want in expected.items():
        np.testing.assert_allclose(got[joint], want, atol=1e-6, err_msg=f"NTU joint {joint}")


@pytest.mark.parametrize(("name", "joints", "channels"), [
    ("openpose18", 18, (2, 3)), ("h36m17", 17, (3, 4)), ("halpe26", 26, (2, 3)), ("coco_wholebody133", 133, (2, 3)),
])
def test_new_layouts_are_registered_with_their_shapes(name: str, joints: int, channels: tuple[int, int]) -> None:
    assert LAYOUTS[name].num_joints == joints
    assert LAYOUTS[name].channels == channels
