"""Joint-by-joint rules that build the 25 NTU joints from COCO-17, MediaPipe-33 and OpenPose BODY_25.

Every builder takes complete source joints already in NTU axes (metres, y up; see model/layouts.py for the axis
and depth rules and model/layout_fill.py for missing joints) as (M, T, V_src, 3) and returns (M, T, 25, 3).
"Left" is the subject's left everywhere. Notation: mid(a, b) = (a + b) / 2, lerp(a, b, t) = a + t (b - a).

Rules for joints a layout lacks (constants are anatomical assumptions, stated once here, never fitted):

| NTU joint | COCO-17 | MediaPipe-33 | OpenPose-25 |
|---|---|---|---|
| 0 SpineBase | mid(hips) | mid(hips) | MidHip (8) |
| 20 SpineShoulder | mid(shoulders) | mid(shoulders) | Neck (1) |
| 1 SpineMid | lerp(SpineBase, SpineShoulder, 1/2) | same | same |
| 3 Head | mid(ears) | mid(ears) | mid(ears) |
| 2 Neck | lerp(SpineShoulder, Head, 1/3) | same | same |
| 7/11 Hand | wrist + 0.25 (wrist - elbow) | mid(wrist, K), K = mid(index, pinky) | as COCO |
| 21/23 HandTip | wrist + 0.6 (wrist - elbow) | K + (K - wrist) | as COCO |
| 22/24 Thumb | wrist + 0.4 (wrist - elbow) | thumb (21/22) | as COCO |
| 15/19 Foot | ankle + 0.2 (ankle - knee) | foot index (31/32) | mid(big toe, small toe) |

Shoulders, elbows, wrists, hips, knees and ankles are copied from the layout's joints of the same name.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

NTU25_JOINTS = (
    "SpineBase", "SpineMid", "Neck", "Head", "ShoulderLeft", "ElbowLeft", "WristLeft", "HandLeft",
    "ShoulderRight", "ElbowRight", "WristRight", "HandRight", "HipLeft", "KneeLeft", "AnkleLeft", "FootLeft",
    "HipRight", "KneeRight", "AnkleRight", "FootRight", "SpineShoulder", "HandTipLeft", "ThumbLeft",
    "HandTipRight", "ThumbRight",
)
COCO17_JOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee",
    "left_ankle", "right_ankle",
)
MEDIAPIPE33_JOINTS = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
OPENPOSE25_JOINTS = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip", "RHip", "RKnee",
    "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar", "LBigToe", "LSmallToe", "LHeel",
    "RBigToe", "RSmallToe", "RHeel",
)

# Parent joints used when a joint is never seen in a whole sequence (model/layout_fill.py): the mean of the
# listed joints, frame by frame (limbs copy the next joint towards the torso, a shoulder/hip the other one).
COCO17_PARENTS = ((5, 6), (0,), (0,), (1,), (2,), (6,), (5,), (5,), (6,), (7,), (8,), (12,), (11,), (11,), (12,),
                  (13,), (14,))
MEDIAPIPE33_PARENTS = ((11, 12), (0,), (0,), (0,), (0,), (0,), (0,), (2,), (5,), (0,), (0,), (12,), (11,), (11,),
                       (12,), (13,), (14,), (15,), (16,), (15,), (16,), (15,), (16,), (24,), (23,), (23,), (24,),
                       (25,), (26,), (27,), (28,), (27,), (28,))
OPENPOSE25_PARENTS = ((1,), (2, 5), (1,), (2,), (3,), (1,), (5,), (6,), (9, 12), (8,), (9,), (10,), (8,), (12,),
                      (13,), (0,), (0,), (15,), (16,), (14,), (14,), (14,), (11,), (11,), (11,))

SPINE_MID_T = 0.5  # SpineMid halfway up the torso
NECK_T = 1.0 / 3.0  # Neck a third of the way from SpineShoulder to the head centre
HAND_T, THUMB_T, HANDTIP_T = 0.25, 0.4, 0.6  # beyond the wrist, in forearm lengths (palm, thumb, finger tips)
FOOT_T = 0.2  # beyond the ankle, in shin lengths (COCO has no foot joint)


def _mid(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a + b) / 2.0


def _lerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return a + t * (b - a)


def _limbs(out: np.ndarray, j: np.ndarray, left: tuple[int, ...], right: tuple[int, ...]) -> None:
    """Copy shoulder, elbow, wrist, hip, knee, ankle (source indices in that order) for each side."""
    for side, ntu in ((left, (4, 5, 6, 12, 13, 14)), (right, (8, 9, 10, 16, 17, 18))):
        for src, dst in zip(side, ntu, strict=True):
            out[..., dst, :] = j[..., src, :]


def _trunk(out: np.ndarray, spine_base: np.ndarray, spine_shoulder: np.ndarray, head: np.ndarray) -> None:
    out[..., 0, :] = spine_base
    out[..., 20, :] = spine_shoulder
    out[..., 1, :] = _lerp(spine_base, spine_shoulder, SPINE_MID_T)
    out[..., 3, :] = head
    out[..., 2, :] = _lerp(spine_shoulder, head, NECK_T)


def _forearm_hands(out: np.ndarray) -> None:
    """Hand, HandTip and Thumb on the elbow->wrist line beyond the wrist (COCO, OpenPose)."""
    for elbow, wrist, hand, tip, thumb in ((5, 6, 7, 21, 22), (9, 10, 11, 23, 24)):
        forearm = out[..., wrist, :] - out[..., elbow, :]
        out[..., hand, :] = out[..., wrist, :] + HAND_T * forearm
        out[..., tip, :] = out[..., wrist, :] + HANDTIP_T * forearm
        out[..., thumb, :] = out[..., wrist, :] + THUMB_T * forearm


def ntu25_from_coco17(j: np.ndarray) -> np.ndarray:
    """(M,T,17,3) COCO-17 in NTU axes -> (M,T,25,3) by the table in the module docstring."""
    out = np.zeros((*j.shape[:-2], 25, 3), dtype=np.float64)
    _limbs(out, j, (5, 7, 9, 11, 13, 15), (6, 8, 10, 12, 14, 16))
    _trunk(out, _mid(j[..., 11, :], j[..., 12, :]), _mid(j[..., 5, :], j[..., 6, :]),
           _mid(j[..., 3, :], j[..., 4, :]))
    _forearm_hands(out)
    for knee, ankle, foot in ((13, 14, 15), (17, 18, 19)):
        out[..., foot, :] = out[..., ankle, :] + FOOT_T * (out[..., ankle, :] - out[..., knee, :])
    return out


def ntu25_from_mediapipe33(j: np.ndarray) -> np.ndarray:
    """(M,T,33,3) MediaPipe world landmarks in NTU axes -> (M,T,25,3) by the table in the module docstring."""
    out = np.zeros((*j.shape[:-2], 25, 3), dtype=np.float64)
    _limbs(out, j, (11, 13, 15, 23, 25, 27), (12, 14, 16, 24, 26, 28))
    _trunk(out, _mid(j[..., 23, :], j[..., 24, :]), _mid(j[..., 11, :], j[..., 12, :]),
           _mid(j[..., 7, :], j[..., 8, :]))
    for wrist, pinky, index, thumb, ntu in ((15, 17, 19, 21, (7, 21, 22)), (16, 18, 20, 22, (11, 23, 24))):
        knuckles = _mid(j[..., index, :], j[..., pinky, :])
        out[..., ntu[0], :] = _mid(j[..., wrist, :], knuckles)
        out[..., ntu[1], :] = 2.0 * knuckles - j[..., wrist, :]
        out[..., ntu[2], :] = j[..., thumb, :]
    out[..., 15, :] = j[..., 31, :]
    out[..., 19, :] = j[..., 32, :]
    return out


def ntu25_from_openpose25(j: np.ndarray) -> np.ndarray:
    """(M,T,25,3) OpenPose BODY_25 in NTU axes -> (M,T,25,3) NTU by the table in the module docstring."""
    out = np.zeros((*j.shape[:-2], 25, 3), dtype=np.float64)
    _limbs(out, j, (5, 6, 7, 12, 13, 14), (2, 3, 4, 9, 10, 11))
    _trunk(out, j[..., 8, :], j[..., 1, :], _mid(j[..., 17, :], j[..., 18, :]))
    _forearm_hands(out)
    out[..., 15, :] = _mid(j[..., 19, :], j[..., 20, :])
    out[..., 19, :] = _mid(j[..., 22, :], j[..., 23, :])
    return out


def ntu25_identity(j: np.ndarray) -> np.ndarray:
    """NTU-25 stays as it is."""
    return np.asarray(j, dtype=np.float64).copy()


Builder = Callable[[np.ndarray], np.ndarray]
