"""Valid request bodies for the OpenAPI document: /docs' "Try it out" starts from them, and a schema fuzzer
(schemathesis' examples phase) sends them, so the success paths of /recognize and /detect are exercised too."""

from __future__ import annotations

import math
from typing import Any

# A standing person in NTU-25 joint order (metres, Kinect camera space: x right, y up, z away): spine base,
# spine mid, neck, head, left arm (shoulder, elbow, wrist, hand), right arm, left leg (hip, knee, ankle,
# foot), right leg, spine shoulder, left hand tip, left thumb, right hand tip, right thumb.
STANDING = (
    (0.0, 0.0, 3.0), (0.0, 0.3, 3.0), (0.0, 0.6, 3.0), (0.0, 0.75, 3.0),
    (-0.18, 0.52, 3.0), (-0.22, 0.25, 3.0), (-0.24, 0.02, 3.0), (-0.24, -0.05, 3.0),
    (0.18, 0.52, 3.0), (0.22, 0.25, 3.0), (0.24, 0.02, 3.0), (0.24, -0.05, 3.0),
    (-0.1, -0.02, 3.0), (-0.11, -0.45, 3.0), (-0.12, -0.85, 3.0), (-0.12, -0.9, 2.92),
    (0.1, -0.02, 3.0), (0.11, -0.45, 3.0), (0.12, -0.85, 3.0), (0.12, -0.9, 2.92),
    (0.0, 0.52, 3.0), (-0.24, -0.1, 3.0), (-0.21, -0.03, 2.97), (0.24, -0.1, 3.0), (0.21, -0.03, 2.97),
)
RIGHT_ARM = (9, 10, 11, 23, 24)  # joints that wave


def waving(frames: int) -> list[list[list[float]]]:
    """(T,25,3): the standing pose raising and lowering its right forearm (rounded to millimetres)."""
    out = []
    for t in range(frames):
        lift = 0.25 * (1 - math.cos(2 * math.pi * t / max(frames, 2)))
        out.append([[round(x, 3), round(y + (lift if j in RIGHT_ARM else 0.0), 3), round(z, 3)]
                    for j, (x, y, z) in enumerate(STANDING)])
    return out


def recognize_examples(max_frames: int) -> dict[str, Any]:
    """OpenAPI `examples` of POST /recognize's JSON body."""
    frames = min(max_frames, 16)
    return {
        "one-sequence": {"summary": "one sequence (T,25,3), the 3 best classes",
                         "value": {"skeleton": waving(frames), "top_k": 3}},
        "two-persons": {"summary": "one sequence of two persons (M,T,25,3)",
                        "value": {"skeleton": [waving(frames), waving(frames)[::-1]]}},
    }


def detect_examples(max_frames: int) -> dict[str, Any]:
    """OpenAPI `examples` of POST /detect's JSON body."""
    frames = min(max_frames, 32)
    return {
        "short-sequence": {"summary": "a short sequence, windows of 16 frames every 8, every window returned",
                           "value": {"skeleton": waving(frames), "window": 16, "stride": 8,
                                     "include_windows": True, "smooth": 1}},
    }
