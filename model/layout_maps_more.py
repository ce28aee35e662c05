"""Joint-by-joint rules for OpenPose-18 (COCO-18), Human3.6M-17, Halpe-26 and COCO-WholeBody-133 onto NTU-25.

Same contract as model/layout_maps.py (source joints complete, in NTU axes, (M, T, V_src, 3) -> (M, T, 25, 3);
"left" is the subject's left; mid / lerp as there). Rules for the NTU joints a layout lacks:

| NTU joint | OpenPose-18 | Human3.6M-17 | Halpe-26 | COCO-WholeBody-133 |
|---|---|---|---|---|
| 0 SpineBase | mid(hips) | pelvis (0) | Hip (19) | mid(hips) |
| 20 SpineShoulder | Neck (1) | thorax (8) | Neck (18) | mid(shoulders) |
| 1 SpineMid | lerp(SpineBase, SpineShoulder, 1/2) | spine (7) | as OpenPose-18 | as OpenPose-18 |
| 3 Head | mid(ears) | mid(neck/nose 9, head 10) | mid(ears) | mid(ears) |
| 2 Neck | lerp(SpineShoulder, Head, 1/3) | same | same | same |
| 7/11 Hand | wrist + 0.25 (wrist - elbow) | same | same | mid(wrist, middle-finger knuckle) |
| 21/23 HandTip | wrist + 0.6 (wrist - elbow) | same | same | middle-finger tip |
| 22/24 Thumb | wrist + 0.4 (wrist - elbow) | same | same | thumb tip |
| 15/19 Foot | ankle + 0.2 (ankle - knee) | same (3/6 are ankles) | mid(big toe, small toe) | mid(big toe, small toe) |

Shoulders, elbows, wrists, hips, knees and ankles are copied (Human3.6M's "foot" 3/6 is the ankle joint).
COCO-WholeBody hands: a hand whose 21 keypoints were never seen in a sequence is filled onto the wrist
(model/layout_fill.py); in such frames the forearm rule of the other layouts builds Hand, HandTip and Thumb.
"""

from __future__ import annotations

import numpy as np

from model.layout_maps import COCO17_JOINTS, COCO17_PARENTS, _forearm_hands, _limbs, _mid, _trunk

OPENPOSE18_JOINTS = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "RHip", "RKnee", "RAnkle",
    "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar",
)
H36M17_JOINTS = (
    "pelvis", "right_hip", "right_knee", "right_foot", "left_hip", "left_knee", "left_foot", "spine", "thorax",
    "neck_nose", "head", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow",
    "right_wrist",
)
HALPE26_JOINTS = (*COCO17_JOINTS, "head", "neck", "hip", "left_big_toe", "right_big_toe", "left_small_toe",
                  "right_small_toe", "left_heel", "right_heel")
_HAND = ("wrist", *(f"{finger}{k}" for finger in ("thumb", "index", "middle", "ring", "pinky") for k in range(1, 5)))
WHOLEBODY133_JOINTS = (
    *COCO17_JOINTS, "left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe",
    "right_heel", *(f"face_{i}" for i in range(68)), *(f"left_hand_{n}" for n in _HAND),
    *(f"right_hand_{n}" for n in _HAND),
)
COCO_LIMBS = ((5, 7, 9, 11, 13, 15), (6, 8, 10, 12, 14, 16))  # shoulder, elbow, wrist, hip, knee, ankle
LEFT_HAND, RIGHT_HAND = 91, 112  # first keypoint (the hand's own wrist) of each 21-point hand
THUMB_TIP, MIDDLE_KNUCKLE, MIDDLE_TIP = 4, 9, 12  # offsets inside a hand

OPENPOSE18_PARENTS = ((1,), (2, 5), (1,), (2,), (3,), (1,), (5,), (6,), (11,), (8,), (9,), (8,), (11,), (12,),
                      (0,), (0,), (14,), (15,))
H36M17_PARENTS = ((1, 4), (0,), (1,), (2,), (0,), (4,), (5,), (0, 8), (11, 14), (8,), (9,), (8,), (11,), (12,),
                  (8,), (14,), (15,))
HALPE26_PARENTS = (*COCO17_PARENTS, (0,), (5, 6), (11, 12), (15,), (16,), (15,), (16,), (15,), (16,))
WHOLEBODY133_PARENTS = (
    *COCO17_PARENTS, (15,), (15,), (15,), (16,), (16,), (16,), *((0,),) * 68,
    (9,), *((LEFT_HAND,),) * 20, (10,), *((RIGHT_HAND,),) * 20,
)


def _feet_from_toes(out: np.ndarray, j: np.ndarray, left: tuple[int, int], right: tuple[int, int]) -> None:
    out[..., 15, :] = _mid(j[..., left[0], :], j[..., left[1], :])
    out[..., 19, :] = _mid(j[..., right[0], :], j[..., right[1], :])


def _feet_from_shins(out: np.ndarray) -> None:
    for knee, ankle, foot in ((13, 14, 15), (17, 18, 19)):
        out[..., foot, :] = out[..., ankle, :] + 0.2 * (out[..., ankle, :] - out[..., knee, :])


def _body(j: np.ndarray, limbs: tuple[tuple[int, ...], tuple[int, ...]], spine_base: np.ndarray,
          spine_shoulder: np.ndarray, head: np.ndarray) -> np.ndarray:
    """Limbs copied, trunk and head placed, hands by the forearm rule: what every layout here shares."""
    out = np.zeros((*j.shape[:-2], 25, 3), dtype=np.float64)
    _limbs(out, j, *limbs)
    _trunk(out, spine_base, spine_shoulder, head)
    _forearm_hands(out)
    return out


def ntu25_from_openpose18(j: np.ndarray) -> np.ndarray:
    """(M,T,18,3) OpenPose COCO-18 in NTU axes -> (M,T,25,3) by the table in the module docstring."""
    out = _body(j, ((5, 6, 7, 11, 12, 13), (2, 3, 4, 8, 9, 10)), _mid(j[..., 8, :], j[..., 11, :]), j[..., 1, :],
                _mid(j[..., 16, :], j[..., 17, :]))
    _feet_from_shins(out)
    return out


def ntu25_from_h36m17(j: np.ndarray) -> np.ndarray:
    """(M,T,17,3) Human3.6M-17 in NTU axes -> (M,T,25,3) by the table in the module docstring."""
    out = _body(j, ((11, 12, 13, 4, 5, 6), (14, 15, 16, 1, 2, 3)), j[..., 0, :], j[..., 8, :],
                _mid(j[..., 9, :], j[..., 10, :]))
    out[..., 1, :] = j[..., 7, :]
    _feet_from_shins(out)
    return out


def ntu25_from_halpe26(j: np.ndarray) -> np.ndarray:
    """(M,T,26,3) Halpe-26 in NTU axes -> (M,T,25,3) by the table in the module docstring."""
    out = _body(j, COCO_LIMBS, j[..., 19, :], j[..., 18, :], _mid(j[..., 3, :], j[..., 4, :]))
    _feet_from_toes(out, j, (20, 22), (21, 23))
    return out


def ntu25_from_wholebody133(j: np.ndarray) -> np.ndarray:
    """(M,T,133,3) COCO-WholeBody in NTU axes -> (M,T,25,3) by the table in the module docstring."""
    out = _body(j, COCO_LIMBS, _mid(j[..., 11, :], j[..., 12, :]), _mid(j[..., 5, :], j[..., 6, :]),
                _mid(j[..., 3, :], j[..., 4, :]))  # forearm hands kept where a hand was never seen
    for wrist, hand, ntu in ((9, LEFT_HAND, (7, 21, 22)), (10, RIGHT_HAND, (11, 23, 24))):
        points = j[..., hand:hand + 21, :]
        seen = np.any(points != j[..., wrist:wrist + 1, :], axis=(-1, -2))
        knuckle = points[..., MIDDLE_KNUCKLE, :]
        for dst, value in zip(ntu, (_mid(j[..., wrist, :], knuckle), points[..., MIDDLE_TIP, :],
                                    points[..., THUMB_TIP, :]), strict=True):
            out[..., dst, :] = np.where(seen[..., None], value, out[..., dst, :])
    _feet_from_toes(out, j, (17, 18), (20, 21))
    return out
