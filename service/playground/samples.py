"""Licence-free sample motions for the playground: a deterministic generator of NTU-25 skeletons.

Nothing here comes from a data set: a standing body is posed by hand (metres, Kinect camera axes: y up, z away
from the sensor, the subject faces the sensor so its right side is at +x, as in NTU), and the right arm is
moved by forward kinematics, so every bone keeps its length in every frame.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

FPS = 30
DECIMALS = 4  # 0.1 mm: keeps the served JSON short; the rounded array is what every route sees
UP, DOWN = np.array([0.0, 1.0, 0.0]), np.array([0.0, -1.0, 0.0])
RIGHT, FORWARD = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, -1.0])  # the subject's right, towards the sensor
UPPER_ARM, FOREARM, PALM, FINGERS, THUMB = 0.24, 0.22, 0.08, 0.07, 0.05  # metres, near NTU adults'

# the rest pose: joint -> (x, y, z); the arms hang down (rebuilt by _arm for the moving right arm)
REST = np.array([
    (0.0, -0.05, 3.0), (0.0, 0.25, 3.02), (0.0, 0.55, 3.03), (0.0, 0.68, 3.0),  # spine base/mid, neck, head
    (-0.15, 0.45, 3.03), (-0.16, 0.21, 3.03), (-0.16, -0.01, 3.01), (-0.16, -0.09, 3.01),  # left arm
    (0.15, 0.45, 3.03), (0.16, 0.21, 3.03), (0.16, -0.01, 3.01), (0.16, -0.09, 3.01),  # right arm
    (-0.09, -0.07, 3.0), (-0.10, -0.40, 3.0), (-0.10, -0.75, 3.05), (-0.10, -0.80, 2.93),  # left leg
    (0.09, -0.07, 3.0), (0.10, -0.40, 3.0), (0.10, -0.75, 3.05), (0.10, -0.80, 2.93),  # right leg
    (0.0, 0.47, 3.03), (-0.16, -0.16, 3.01), (-0.13, -0.05, 2.99), (0.16, -0.16, 3.01), (0.13, -0.05, 2.99),
])
SHOULDER_R, ELBOW_R, WRIST_R, HAND_R, TIP_R, THUMB_R = 8, 9, 10, 11, 23, 24
UPPER_BODY = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 20, 21, 22, 23, 24]  # moves with breathing
MOUTH_BELOW_HEAD = np.array([0.0, -0.10, -0.09])


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _blend(a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    """Direction between unit vectors a (w=0) and b (w=1)."""
    return _unit((1.0 - w) * a + w * b)


def _arm(pose: np.ndarray, upper: np.ndarray, fore: np.ndarray) -> None:
    """Place the right elbow, wrist, hand, finger tip and thumb along unit directions (in place)."""
    elbow = pose[SHOULDER_R] + UPPER_ARM * upper
    wrist = elbow + FOREARM * fore
    pose[ELBOW_R], pose[WRIST_R] = elbow, wrist
    pose[HAND_R] = wrist + PALM * fore
    pose[TIP_R] = pose[HAND_R] + FINGERS * fore
    pose[THUMB_R] = wrist + THUMB * _unit(fore - RIGHT)


def _ease(x: float) -> float:
    """Smooth 0 -> 1 over x in [0, 1] (cosine ramp)."""
    return 0.5 - 0.5 * np.cos(np.pi * min(max(x, 0.0), 1.0))


def _wave(pose: np.ndarray, t: float, length: float) -> None:
    """Raise the right arm to the side, forearm up, and swing it from side to side at 1.5 Hz."""
    lift = min(_ease(t / 0.6), _ease((length - t) / 0.6))
    swing = np.deg2rad(28.0) * np.sin(2 * np.pi * 1.5 * t) * lift
    upper = _blend(DOWN, _unit(RIGHT + 0.35 * UP), lift)
    fore = _blend(DOWN, _unit(np.cos(swing) * UP + np.sin(swing) * RIGHT), lift)
    _arm(pose, upper, fore)


def _drink(pose: np.ndarray, t: float, length: float) -> None:
    """Bring the right hand to the mouth, hold it there (sipping), lower it again."""
    lift = min(_ease(t / 1.0), _ease((length - t) / 1.0))
    sip = 0.04 * np.sin(2 * np.pi * 0.8 * t) * lift
    upper = _blend(DOWN, _unit(DOWN + 0.9 * FORWARD + 0.15 * RIGHT), lift)
    elbow = pose[SHOULDER_R] + UPPER_ARM * upper
    mouth = pose[3] + MOUTH_BELOW_HEAD + np.array([0.0, sip, 0.0])
    fore = _blend(DOWN, _unit(mouth - elbow), lift)
    _arm(pose, upper, fore)


def _idle(pose: np.ndarray, t: float, length: float) -> None:
    """Arms hanging (the rest pose)."""
    _arm(pose, DOWN, DOWN)


ACTIONS = {"idle": _idle, "wave": _wave, "drink": _drink}


@dataclass(frozen=True)
class Sample:
    """One shipped motion: a name, what it shows, and (action, seconds) parts played one after the other."""

    name: str
    description: str
    parts: tuple[tuple[str, float], ...]


SAMPLES = {s.name: s for s in (
    Sample("waving", "one person waves the right hand above the shoulder (4 s, generated)",
           (("idle", 0.5), ("wave", 3.0), ("idle", 0.5))),
    Sample("drinking", "one person brings the right hand to the mouth and back (4 s, generated)",
           (("idle", 0.5), ("drink", 3.0), ("idle", 0.5))),
    Sample("wave-then-drink", "a long sequence: stand, wave, stand, drink, stand (20 s, generated; for /detect)",
           (("idle", 3.0), ("wave", 4.0), ("idle", 4.0), ("drink", 5.0), ("idle", 4.0))),
)}


def part_frames(sample: Sample) -> list[tuple[str, int, int]]:
    """(action, first frame, last frame) of every part, inclusive, at FPS."""
    out, start = [], 0
    for action, seconds in sample.parts:
        count = round(seconds * FPS)
        out.append((action, start, start + count - 1))
        start += count
    return out


@functools.cache
def generate(name: str) -> np.ndarray:
    """The sample's skeleton (1, T, 25, 3) float32 in metres; the same array on every call and machine."""
    sample = SAMPLES[name]
    frames = []
    for action, first, last in part_frames(sample):
        length = (last - first + 1) / FPS
        for i in range(last - first + 1):
            t = i / FPS
            clock = (first + i) / FPS
            pose = REST.copy()
            # breathing and a slow sway of the whole body, so idle stretches are not frozen
            pose[:, 0] += 0.01 * np.sin(2 * np.pi * 0.2 * clock)
            pose[UPPER_BODY] += np.array([0.0, 0.004, 0.0]) * np.sin(2 * np.pi * 0.25 * clock)
            ACTIONS[action](pose, t, length)
            frames.append(pose)
    joints = np.round(np.asarray(frames, dtype=np.float64), DECIMALS)
    return joints[None].astype(np.float32)
