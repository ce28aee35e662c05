"""Mirror views (selfie cameras, NTU's RGB videos): left/right joint pairs of every layout and the un-mirroring.

A mirror view shows the subject's left side where a camera would show its right. `unmirror` undoes it in
the layout's own joint order, before the layout is mapped onto NTU-25: x (u for images) is negated and every
left joint swaps its row (confidence included) with its right counterpart. Applying it twice is the identity.
"""

from __future__ import annotations

import numpy as np

_COCO17 = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))
# The 68 face points of the iBUG scheme (COCO-WholeBody 23..90): contour, brows, nostrils, eyes, lips.
_FACE68 = (*((i, 16 - i) for i in range(8)), *((17 + i, 26 - i) for i in range(5)), (31, 35), (32, 34),
           (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46), (48, 54), (49, 53), (50, 52), (55, 59),
           (56, 58), (60, 64), (61, 63), (65, 67))

MIRROR_PAIRS: dict[str, tuple[tuple[int, int], ...]] = {
    "ntu25": ((4, 8), (5, 9), (6, 10), (7, 11), (12, 16), (13, 17), (14, 18), (15, 19), (21, 23), (22, 24)),
    "coco17": _COCO17,
    "mediapipe33": ((1, 4), (2, 5), (3, 6), *((v, v + 1) for v in range(7, 33, 2))),
    "openpose25": ((2, 5), (3, 6), (4, 7), (9, 12), (10, 13), (11, 14), (15, 16), (17, 18), (19, 22), (20, 23),
                   (21, 24)),
    "openpose18": ((2, 5), (3, 6), (4, 7), (8, 11), (9, 12), (10, 13), (14, 15), (16, 17)),
    "h36m17": ((1, 4), (2, 5), (3, 6), (11, 14), (12, 15), (13, 16)),
    "halpe26": (*_COCO17, (20, 21), (22, 23), (24, 25)),
    "coco_wholebody133": (*_COCO17, (17, 20), (18, 21), (19, 22), *((23 + a, 23 + b) for a, b in _FACE68),
                          *((91 + k, 112 + k) for k in range(21))),
}


def pairs_for(layout: str) -> tuple[tuple[int, int], ...]:
    """The (left, right) joint index pairs of a layout (its 2D and 3D variants share them)."""
    return MIRROR_PAIRS[layout.removesuffix("-3d")]


def swap_permutation(layout: str, num_joints: int) -> np.ndarray:
    """Index array that swaps every left joint with its right counterpart (an involution)."""
    perm = np.arange(num_joints)
    for left, right in pairs_for(layout):
        perm[left], perm[right] = right, left
    return perm


def unmirror(array: np.ndarray, layout: str) -> np.ndarray:
    """(..., V, C) of `layout` seen in a mirror -> the camera view: x negated, left/right joints swapped."""
    out = np.array(array, dtype=np.float64)[..., swap_permutation(layout, array.shape[-2]), :]
    out[..., 0] *= -1.0
    return out
