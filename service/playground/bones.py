"""Bones the playground draws for every accepted layout: pairs of joint indices (display only).

These are the usual skeleton graphs of each format (the Kinect v2 body tree for NTU-25, the COCO keypoint
skeleton, MediaPipe Pose's connections, OpenPose BODY_25's pairs), written out here by joint name so that
a wrong index is caught by the name lookup.
"""

from __future__ import annotations

from model.layout_maps import COCO17_JOINTS, MEDIAPIPE33_JOINTS, NTU25_JOINTS, OPENPOSE25_JOINTS
from model.layouts import LAYOUTS

_NTU25 = (
    ("SpineBase", "SpineMid"), ("SpineMid", "SpineShoulder"), ("SpineShoulder", "Neck"), ("Neck", "Head"),
    ("SpineShoulder", "ShoulderLeft"), ("ShoulderLeft", "ElbowLeft"), ("ElbowLeft", "WristLeft"),
    ("WristLeft", "HandLeft"), ("HandLeft", "HandTipLeft"), ("WristLeft", "ThumbLeft"),
    ("SpineShoulder", "ShoulderRight"), ("ShoulderRight", "ElbowRight"), ("ElbowRight", "WristRight"),
    ("WristRight", "HandRight"), ("HandRight", "HandTipRight"), ("WristRight", "ThumbRight"),
    ("SpineBase", "HipLeft"), ("HipLeft", "KneeLeft"), ("KneeLeft", "AnkleLeft"), ("AnkleLeft", "FootLeft"),
    ("SpineBase", "HipRight"), ("HipRight", "KneeRight"), ("KneeRight", "AnkleRight"), ("AnkleRight", "FootRight"),
)
_COCO17 = (
    ("nose", "left_eye"), ("nose", "right_eye"), ("left_eye", "right_eye"), ("left_eye", "left_ear"),
    ("right_eye", "right_ear"), ("left_ear", "left_shoulder"), ("right_ear", "right_shoulder"),
    ("left_shoulder", "right_shoulder"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"), ("left_shoulder", "left_hip"),
    ("right_shoulder", "right_hip"), ("left_hip", "right_hip"), ("left_hip", "left_knee"),
    ("left_knee", "left_ankle"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
)
_MEDIAPIPE33 = (
    ("nose", "left_eye_inner"), ("left_eye_inner", "left_eye"), ("left_eye", "left_eye_outer"),
    ("left_eye_outer", "left_ear"), ("nose", "right_eye_inner"), ("right_eye_inner", "right_eye"),
    ("right_eye", "right_eye_outer"), ("right_eye_outer", "right_ear"), ("mouth_left", "mouth_right"),
    ("left_shoulder", "right_shoulder"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("left_wrist", "left_pinky"), ("left_wrist", "left_index"), ("left_pinky", "left_index"),
    ("left_wrist", "left_thumb"), ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("right_wrist", "right_pinky"), ("right_wrist", "right_index"), ("right_pinky", "right_index"),
    ("right_wrist", "right_thumb"), ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
    ("left_hip", "right_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
    ("left_ankle", "left_heel"), ("left_heel", "left_foot_index"), ("left_ankle", "left_foot_index"),
    ("right_hip", "right_knee"), ("right_knee", "right_ankle"), ("right_ankle", "right_heel"),
    ("right_heel", "right_foot_index"), ("right_ankle", "right_foot_index"),
)
_OPENPOSE25 = (
    ("Nose", "Neck"), ("Neck", "RShoulder"), ("RShoulder", "RElbow"), ("RElbow", "RWrist"),
    ("Neck", "LShoulder"), ("LShoulder", "LElbow"), ("LElbow", "LWrist"), ("Neck", "MidHip"),
    ("MidHip", "RHip"), ("RHip", "RKnee"), ("RKnee", "RAnkle"), ("MidHip", "LHip"), ("LHip", "LKnee"),
    ("LKnee", "LAnkle"), ("Nose", "REye"), ("REye", "REar"), ("Nose", "LEye"), ("LEye", "LEar"),
    ("LAnkle", "LBigToe"), ("LBigToe", "LSmallToe"), ("LAnkle", "LHeel"), ("RAnkle", "RBigToe"),
    ("RBigToe", "RSmallToe"), ("RAnkle", "RHeel"),
)
_BY_JOINTS = {NTU25_JOINTS: _NTU25, COCO17_JOINTS: _COCO17, MEDIAPIPE33_JOINTS: _MEDIAPIPE33,
              OPENPOSE25_JOINTS: _OPENPOSE25}


def bones(layout: str) -> list[tuple[int, int]]:
    """(parent, child) joint index pairs of a layout name (KeyError for an unknown one)."""
    joints = LAYOUTS[layout].joints
    index = {name: i for i, name in enumerate(joints)}
    return [(index[a], index[b]) for a, b in _BY_JOINTS[joints]]


def layout_drawing(layout: str) -> dict[str, object]:
    """What the page needs to draw a layout: joint names, bones, spatial dims and axes (ntu or opencv)."""
    spec = LAYOUTS[layout]
    return {"joints": list(spec.joints), "bones": [list(pair) for pair in bones(layout)], "dims": spec.dims,
            "axes": spec.axes}
