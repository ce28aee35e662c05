"""Does an array look like the layout it was sent as? Anatomy checks and layout hints by shape.

Layouts of one shape cannot be told apart by shape (Human3.6M-17 and COCO-17 both have 17 joints), so the
joint order is checked against anatomy: in an upright person the head is above the shoulders and the
shoulders above the hips. Per person-frame where all of these joints are present, the layout's head, shoulder
and hip joints are compared along its "up" direction (y for NTU axes, -y for image/camera axes). When fewer
than half of those frames have head > shoulders > hips, the order (or the vertical axis) is probably wrong,
and the warning names the layouts of the same shape whose order does fit. Frames where head, shoulders and
hips are at one height (a degenerate input) are not judged; `ntu25` input is not checked.
"""

from __future__ import annotations

import numpy as np

from model.layout_fill import missing_mask
from model.layouts import LAYOUTS, LayoutSpec

MIN_UPRIGHT_SHARE = 0.5
# head joints per layout (shoulders and hips come from the LayoutSpec)
HEAD_JOINTS: dict[str, tuple[int, ...]] = {
    "ntu25": (3,), "coco17": (0, 1, 2, 3, 4), "mediapipe33": tuple(range(11)), "openpose25": (0, 15, 16, 17, 18),
    "openpose18": (0, 14, 15, 16, 17), "h36m17": (9, 10), "halpe26": (0, 1, 2, 3, 4, 17),
    "coco_wholebody133": (0, 1, 2, 3, 4),
}
NTU_SHOULDERS_HIPS = ((4, 8), (12, 16))


def fitting_layouts(joints: int, channels: int) -> list[str]:
    """Layouts whose shape takes V = `joints` and C = `channels`."""
    return [name for name, spec in LAYOUTS.items() if spec.num_joints == joints and channels in spec.channels]


def shape_hint(shape: tuple[int, ...]) -> str:
    """'; (T,17,3) fits layout(s) coco17, coco17-3d, h36m17: pass layout' or '' when no layout fits."""
    if len(shape) not in (3, 4):
        return ""
    names = fitting_layouts(shape[-2], shape[-1])
    if not names:
        return ""
    return f"; an array with {shape[-2]} joints and {shape[-1]} channels fits layout {', '.join(names)}: pass layout"


def upright_share(array: np.ndarray, spec: LayoutSpec, threshold: float) -> float | None:
    """Share of complete person-frames with head above shoulders above hips (None when none is complete)."""
    arr = np.asarray(array, dtype=np.float64)
    arr = arr[None] if arr.ndim == 3 else arr
    coords = arr[..., :spec.dims]
    confidence = arr[..., spec.dims] if arr.shape[-1] > spec.dims else None
    missing = missing_mask(coords, confidence, threshold)
    shoulders, hips = spec.shoulders, spec.hips
    if spec.axes == "ntu":
        shoulders, hips = NTU_SHOULDERS_HIPS
    head = HEAD_JOINTS[spec.name.removesuffix("-3d")]
    needed = [*head, *shoulders, *hips]
    complete = ~missing[..., needed].any(axis=-1)
    if not complete.any():
        return None
    up = coords[..., 1] if spec.axes == "ntu" else -coords[..., 1]
    level = {name: up[..., list(idx)].mean(axis=-1) for name, idx in
             (("head", head), ("shoulders", shoulders), ("hips", hips))}
    upright = (level["head"] > level["shoulders"]) & (level["shoulders"] > level["hips"])
    judged = complete & ~((level["head"] == level["shoulders"]) & (level["shoulders"] == level["hips"]))
    return float(upright[judged].mean()) if judged.any() else None


def order_warning(array: np.ndarray, layout: str, threshold: float) -> str | None:
    """A warning when the joints of `array` do not look like `layout` (see the module docstring; not ntu25,
    the native format, whose synthetic test data need not be upright)."""
    spec = LAYOUTS[layout]
    if spec.axes == "ntu":
        return None
    share = upright_share(array, spec, threshold)
    if share is None or share >= MIN_UPRIGHT_SHARE:
        return None
    arr = np.asarray(array)
    others = [name for name in fitting_layouts(arr.shape[-2], arr.shape[-1]) if name != layout
              and (upright_share(arr, LAYOUTS[name], threshold) or 0.0) >= MIN_UPRIGHT_SHARE]
    guess = f"; its joints fit layout {', '.join(others)}" if others else ""
    return (f"the joints do not look like layout {layout!r}: head above shoulders above hips in only "
            f"{share:.0%} of the frames; check the layout (joint order) or the vertical axis{guess}")
