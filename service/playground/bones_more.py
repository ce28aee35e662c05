"""Bones the playground draws for OpenPose-18, Human3.6M-17, Halpe-26 and COCO-WholeBody-133 (display only).

Written by joint name like service/playground/bones.py. COCO-WholeBody's face follows the iBUG 68-point
drawing (contour, brows, nose, closed eye and lip loops), joined to the body through the nose tip so the
whole figure is one piece; each hand is its wrist point with five four-point finger chains.
"""

from __future__ import annotations

from model.layout_maps_more import H36M17_JOINTS, HALPE26_JOINTS, OPENPOSE18_JOINTS, WHOLEBODY133_JOINTS

_OPENPOSE18 = (
    ("Nose", "Neck"), ("Neck", "RShoulder"), ("RShoulder", "RElbow"), ("RElbow", "RWrist"), ("Neck", "LShoulder"),
    ("LShoulder", "LElbow"), ("LElbow", "LWrist"), ("Neck", "RHip"), ("RHip", "RKnee"), ("RKnee", "RAnkle"),
    ("Neck", "LHip"), ("LHip", "LKnee"), ("LKnee", "LAnkle"), ("Nose", "REye"), ("REye", "REar"), ("Nose", "LEye"),
    ("LEye", "LEar"),
)
_H36M17 = (
    ("pelvis", "right_hip"), ("right_hip", "right_knee"), ("right_knee", "right_foot"), ("pelvis", "left_hip"),
    ("left_hip", "left_knee"), ("left_knee", "left_foot"), ("pelvis", "spine"), ("spine", "thorax"),
    ("thorax", "neck_nose"), ("neck_nose", "head"), ("thorax", "left_shoulder"), ("left_shoulder", "left_elbow"),
    ("left_elbow", "left_wrist"), ("thorax", "right_shoulder"), ("right_shoulder", "right_elbow"),
    ("right_elbow", "right_wrist"),
)
_COCO_BODY = (
    ("nose", "left_eye"), ("nose", "right_eye"), ("left_eye", "left_ear"), ("right_eye", "right_ear"),
    ("left_shoulder", "right_shoulder"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"), ("left_shoulder", "left_hip"),
    ("right_shoulder", "right_hip"), ("left_hip", "right_hip"), ("left_hip", "left_knee"),
    ("left_knee", "left_ankle"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
)
_FEET = tuple((f"{side}_{a}", f"{side}_{b}") for side in ("left", "right")
              for a, b in (("ankle", "big_toe"), ("big_toe", "small_toe"), ("ankle", "heel")))
_HALPE26 = (*_COCO_BODY, ("head", "nose"), ("neck", "nose"), ("neck", "left_shoulder"), ("neck", "right_shoulder"),
            ("hip", "left_hip"), ("hip", "right_hip"), *_FEET)


def _chain(points: list[int], closed: bool = False) -> list[tuple[int, int]]:
    ends = points + points[:1] if closed else points
    return list(zip(ends, ends[1:], strict=False))


def _face() -> list[tuple[str, str]]:
    groups = [(list(range(0, 17)), False), (list(range(17, 22)), False), (list(range(22, 27)), False),
              (list(range(27, 31)), False), (list(range(31, 36)), False), (list(range(36, 42)), True),
              (list(range(42, 48)), True), (list(range(48, 60)), True), (list(range(60, 68)), True)]
    links = [(30, 33), (27, 21), (27, 22), (27, 39), (27, 42), (33, 51), (48, 60), (8, 57)]  # groups joined
    pairs = [p for points, closed in groups for p in _chain(points, closed)] + links
    return [("nose", "face_30"), *((f"face_{a}", f"face_{b}") for a, b in pairs)]


def _hands() -> list[tuple[str, str]]:
    out = []
    for side in ("left", "right"):
        out.append((f"{side}_wrist", f"{side}_hand_wrist"))
        for finger in ("thumb", "index", "middle", "ring", "pinky"):
            names = [f"{side}_hand_wrist", *(f"{side}_hand_{finger}{k}" for k in range(1, 5))]
            out += list(zip(names, names[1:], strict=False))
    return out


BONES_MORE = {OPENPOSE18_JOINTS: _OPENPOSE18, H36M17_JOINTS: _H36M17, HALPE26_JOINTS: _HALPE26,
              WHOLEBODY133_JOINTS: (*_COCO_BODY, ("left_ear", "left_shoulder"), ("right_ear", "right_shoulder"),
                                    *_FEET, *_face(), *_hands())}
