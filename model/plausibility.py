"""Is a mapped skeleton a plausible human? Bone lengths of NTU-25 metres against generous human ranges.

Every skeleton sent to the service ends as NTU-25 metres; a wrong unit, a wrong layout or a 2D scale taken
from the wrong joints shows as bones of impossible length (a 37 m shoulder width). The check takes, per bone,
the median length over the person-frames where both its joints are set, and compares it with a range wide
enough for children, 2D foreshortening and Kinect's inboard shoulders (the five real NTU clips and the PKU-MMD
sample in ../shared/data have medians of 0.19-0.33 m shoulder width, 0.19-0.26 m upper arm, 0.28-0.36 m thigh,
0.43-0.57 m torso; tests/model/test_plausibility.py). The ranges are deliberately wide: the check names input
that is wrong by a unit or a scale, it does not judge body shape. A bone of median length 0 is a joint filled from its
parent (never seen, e.g. hidden legs) and is not judged.
"""

from __future__ import annotations

import numpy as np

# name -> (NTU joint pairs, shortest and longest plausible median length in metres). No adult bone reaches
# 0.6 m; the upper bound of 1.5 m leaves room for noisy estimators and sloppy test data and still catches a
# wrong unit or scale (a factor 4 and more on real skeletons), which is what the check is for.
LONGEST_M = 1.5
BONES: dict[str, tuple[tuple[tuple[int, int], ...], float, float]] = {
    "shoulder width": (((4, 8),), 0.03, LONGEST_M),
    "upper arm": (((4, 5), (8, 9)), 0.05, LONGEST_M),
    "thigh": (((12, 13), (16, 17)), 0.05, LONGEST_M),
    "torso": (((0, 20),), 0.1, LONGEST_M),
}
_FILLED = 1e-6


def bone_medians(ntu: np.ndarray) -> dict[str, float]:
    """Median length in metres of each bone of (M,T,25,3) or (T,25,3) over the frames that set both joints."""
    arr = np.asarray(ntu, dtype=np.float64)
    arr = arr[None] if arr.ndim == 3 else arr
    set_ = np.any(arr != 0, axis=-1)
    out = {}
    for name, (pairs, _, _) in BONES.items():
        lengths = [np.linalg.norm(arr[..., a, :] - arr[..., b, :], axis=-1)[set_[..., a] & set_[..., b]]
                   for a, b in pairs]
        values = np.concatenate(lengths)
        if values.size:
            out[name] = float(np.median(values))
    return out


def implausible_bones(ntu: np.ndarray) -> dict[str, float]:
    """The bones whose median length is outside their human range (filled, zero-length bones excluded)."""
    return {name: length for name, length in bone_medians(ntu).items()
            if length > _FILLED and not BONES[name][1] <= length <= BONES[name][2]}


def plausibility_warning(ntu: np.ndarray) -> str | None:
    """A warning naming the implausible bones of a mapped skeleton, or None when it looks human."""
    bad = implausible_bones(ntu)
    if not bad:
        return None
    parts = ", ".join(f"{name} {length:.3g} m (expected {BONES[name][1]:g}-{BONES[name][2]:g})"
                      for name, length in bad.items())
    return (f"the skeleton does not look human after mapping to metres: median {parts}; check the layout, the "
            "units and the confidence threshold (2D scale: docs/skeletons.md)")
