"""Skeleton layouts the service accepts and their conversion onto NTU-25 (Kinect camera space, metres, y up).

Arrays keep the (M, T, V, C) convention with V of the layout; (T, V, C) means M = 1. Channels:

| layout | V | C | channels | axes of the input |
|---|---|---|---|---|
| `ntu25` | 25 | 3 | x, y, z | NTU / Kinect camera space: y up, z away from the sensor |
| `coco17` | 17 | 2 or 3 | u, v [, confidence] | image: u right, v down (pixels or normalised) |
| `coco17-3d` | 17 | 3 or 4 | x, y, z [, confidence] | camera (OpenCV): x right, y down, z away from the camera |
| `mediapipe33` | 33 | 3 or 4 | x, y, z [, visibility] | MediaPipe world landmarks: metres, origin hip centre, y down |
| `openpose25` | 25 | 2 or 3 | u, v [, confidence] | image, like `coco17` |
| `openpose25-3d` | 25 | 3 or 4 | x, y, z [, confidence] | camera, like `coco17-3d` |
| `openpose18` | 18 | 2 or 3 | u, v [, confidence] | image, like `coco17` (OpenPose COCO-18, st-gcn Kinetics) |
| `h36m17` | 17 | 3 or 4 | x, y, z [, confidence] | camera, like `coco17-3d` (Human3.6M-17 from 3D lifters) |
| `halpe26` | 26 | 2 or 3 | u, v [, confidence] | image, like `coco17` |
| `coco_wholebody133` | 133 | 2 or 3 | u, v [, confidence] | image, like `coco17` |

The optional last channel (C = spatial dims + 1) is the per-joint confidence/visibility in [0, 1].

Conversion rules (`to_ntu25`):
- missing joints (confidence < `confidence_threshold`, or all coordinates exactly 0) are filled as in
  model/layout_fill.py; the 25 NTU joints are then built by the rules in model/layout_maps.py;
- axes: image / OpenCV / MediaPipe axes are turned by 180 degrees about the viewing axis, (x, y, z) ->
  (-x, -y, z), which makes y point up and puts the subject's right shoulder at larger x, as in NTU (whose x
  points to the sensor's left). It is a rotation, not a mirror, so handedness is kept;
- MediaPipe depth: `mediapipe33`'s depth relative to the hip centre is multiplied by
  `MEDIAPIPE_DEPTH_SCALE` (0.5), the measured ratio of Kinect's depth motion to MediaPipe's;
- 3D units: `units` "m" (default), "cm" or "mm" scale to metres; the depth is then shifted so that the median
  hip-centre depth is `DEPTH_M` (3 m, a usual Kinect distance; MediaPipe's origin is the hip centre). A
  constant shift changes nothing after preprocessing, which centres every frame on SpineMid, but keeps
  joints away from (0, 0, 0), which means "empty" in NTU arrays;
- 2D depth rule: the image scale is unknown, so coordinates are scaled by body lengths that were seen
  (model/layout_scale.py: the torso is `TORSO_M`, 0.5 m, or without hips the shoulder width is 0.36 m), and
  every joint gets z = `DEPTH_M` (a flat skeleton facing the sensor). `units` must be "px" (the default for
  2D; normalised image coordinates work too). A sequence with nobody in it maps to all-zero frames;
- `ntu25` is returned as given (only scaled by `units`), empty joints included;
- `mirror=True` (selfie cameras, NTU's RGB videos) first negates x and swaps left/right joints in the layout's
  own order (model/layout_mirror.py). More layouts: model/layout_maps_more.py (openpose18, h36m17, halpe26,
  coco_wholebody133).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.layout_fill import fill_missing, missing_mask
from model.layout_maps import (
    COCO17_JOINTS,
    COCO17_PARENTS,
    MEDIAPIPE33_JOINTS,
    MEDIAPIPE33_PARENTS,
    NTU25_JOINTS,
    OPENPOSE25_JOINTS,
    OPENPOSE25_PARENTS,
    Builder,
    ntu25_from_coco17,
    ntu25_from_mediapipe33,
    ntu25_from_openpose25,
    ntu25_identity,
)
from model.layout_maps_more import (
    H36M17_JOINTS,
    H36M17_PARENTS,
    HALPE26_JOINTS,
    HALPE26_PARENTS,
    OPENPOSE18_JOINTS,
    OPENPOSE18_PARENTS,
    WHOLEBODY133_JOINTS,
    WHOLEBODY133_PARENTS,
    ntu25_from_h36m17,
    ntu25_from_halpe26,
    ntu25_from_openpose18,
    ntu25_from_wholebody133,
)
from model.layout_mirror import unmirror
from model.layout_scale import ScaleError, metres_per_unit, place_hidden_hips

DEFAULT_LAYOUT = "ntu25"
DEFAULT_CONFIDENCE_THRESHOLD = 0.3
DEPTH_M = 3.0
UNIT_SCALE = {"m": 1.0, "cm": 0.01, "mm": 0.001}
# MediaPipe's monocular depth moves about twice as much as Kinect's: on the paired NTU take the slope of its
# relative depth against Kinect's is ~2 (benchmarks/paired_video.py), and with it an arm raised to the mouth
# reads as "taking a selfie". Its relative depth is halved; other 3D layouts keep theirs (docs/skeletons.md).
MEDIAPIPE_DEPTH_SCALE = 0.5
SPINE_BASE, SPINE_SHOULDER = 0, 20


class LayoutError(ValueError):
    """An unknown layout or units, or an array whose shape does not fit its layout."""


@dataclass(frozen=True)
class LayoutSpec:
    """One accepted layout: joint count, spatial dims, axes and the rules that map it onto NTU-25."""

    name: str
    joints: tuple[str, ...]
    dims: int  # spatial channels: 2 (image) or 3
    axes: str  # "ntu" or "opencv" (x right, y down, z away from the camera; images: u right, v down)
    builder: Builder
    parents: tuple[tuple[int, ...], ...] | None
    hips: tuple[int, int] | None  # (left, right) source indices, for the depth shift and the 2D scale
    shoulders: tuple[int, int] | None
    description: str
    depth_scale: float = 1.0  # relative depth about the hip centre is multiplied by this (MEDIAPIPE_DEPTH_SCALE)

    @property
    def num_joints(self) -> int:
        """V of the layout."""
        return len(self.joints)

    @property
    def channels(self) -> tuple[int, ...]:
        """Accepted C: the spatial dims, plus dims + 1 (confidence last) for non-NTU layouts."""
        return (self.dims,) if self.axes == "ntu" else (self.dims, self.dims + 1)

    def shape_text(self) -> str:
        """Accepted shapes, e.g. "(T,17,2|3) or (M,T,17,2|3)"."""
        c = "|".join(str(c) for c in self.channels)
        return f"(T,{self.num_joints},{c}) or (M,T,{self.num_joints},{c})"

    def info(self) -> dict[str, object]:
        """JSON-friendly description for /info."""
        return {"joints": self.num_joints, "channels": list(self.channels), "dims": self.dims,
                "confidence_channel": None if self.axes == "ntu" else self.dims,
                "shape": self.shape_text(), "description": self.description}


LAYOUTS: dict[str, LayoutSpec] = {spec.name: spec for spec in (
    LayoutSpec("ntu25", NTU25_JOINTS, 3, "ntu", ntu25_identity, None, None, None,
               "NTU RGB+D / Kinect v2, metres, y up (native)"),
    LayoutSpec("coco17", COCO17_JOINTS, 2, "opencv", ntu25_from_coco17, COCO17_PARENTS, (11, 12), (5, 6),
               "COCO-17 keypoints in image coordinates (u, v[, confidence])"),
    LayoutSpec("coco17-3d", COCO17_JOINTS, 3, "opencv", ntu25_from_coco17, COCO17_PARENTS, (11, 12), (5, 6),
               "COCO-17 lifted to 3D, camera axes x right y down (x, y, z[, confidence])"),
    LayoutSpec("mediapipe33", MEDIAPIPE33_JOINTS, 3, "opencv", ntu25_from_mediapipe33, MEDIAPIPE33_PARENTS,
               (23, 24), (11, 12), "MediaPipe Pose world landmarks, metres, y down (x, y, z[, visibility])",
               MEDIAPIPE_DEPTH_SCALE),
    LayoutSpec("openpose25", OPENPOSE25_JOINTS, 2, "opencv", ntu25_from_openpose25, OPENPOSE25_PARENTS,
               (12, 9), (5, 2), "OpenPose BODY_25 in image coordinates (u, v[, confidence])"),
    LayoutSpec("openpose25-3d", OPENPOSE25_JOINTS, 3, "opencv", ntu25_from_openpose25, OPENPOSE25_PARENTS,
               (12, 9), (5, 2), "OpenPose BODY_25 in 3D, camera axes x right y down (x, y, z[, confidence])"),
    # more formats (model/layout_maps_more.py)
    LayoutSpec("openpose18", OPENPOSE18_JOINTS, 2, "opencv", ntu25_from_openpose18, OPENPOSE18_PARENTS, (11, 8),
               (5, 2), "OpenPose COCO-18 / st-gcn Kinetics-skeleton in image coordinates (u, v[, confidence])"),
    LayoutSpec("h36m17", H36M17_JOINTS, 3, "opencv", ntu25_from_h36m17, H36M17_PARENTS, (4, 1), (11, 14),
               "Human3.6M-17 from 3D lifters, camera axes x right y down (x, y, z[, confidence])"),
    LayoutSpec("halpe26", HALPE26_JOINTS, 2, "opencv", ntu25_from_halpe26, HALPE26_PARENTS, (11, 12), (5, 6),
               "Halpe-26 (AlphaPose, RTMPose) in image coordinates (u, v[, confidence])"),
    LayoutSpec("coco_wholebody133", WHOLEBODY133_JOINTS, 2, "opencv", ntu25_from_wholebody133,
               WHOLEBODY133_PARENTS, (11, 12), (5, 6),
               "COCO-WholeBody-133 (RTMPose, RTMW) in image coordinates (u, v[, confidence])"),
)}


def get_layout(name: str) -> LayoutSpec:
    """The spec of a layout name; LayoutError naming the known ones otherwise."""
    try:
        return LAYOUTS[name]
    except (KeyError, TypeError):
        raise LayoutError(f"unknown layout {name!r}; known layouts: {', '.join(LAYOUTS)}") from None


def resolve_units(spec: LayoutSpec, units: str | None) -> str:
    """Default units ("m" for 3D, "px" for 2D) or a LayoutError when they do not apply to the layout."""
    if units is None:
        return "px" if spec.dims == 2 else "m"
    if spec.dims == 2 and units != "px":
        raise LayoutError(f"layout {spec.name!r} is 2D: units must be 'px' (the scale comes from the body-size "
                          f"rule), got {units!r}")
    if spec.dims == 3 and units not in UNIT_SCALE:
        raise LayoutError(f"units for layout {spec.name!r} must be one of {', '.join(UNIT_SCALE)}, got {units!r}")
    return units


def check_shape(array: np.ndarray, layout: str) -> np.ndarray:
    """Return (M,T,V,C) for a (T,V,C) or (M,T,V,C) array that fits the layout; LayoutError otherwise."""
    spec = get_layout(layout)
    arr = np.asarray(array)
    if arr.ndim not in (3, 4) or arr.shape[-2] != spec.num_joints or arr.shape[-1] not in spec.channels:
        raise LayoutError(f"layout {spec.name!r} expects {spec.shape_text()}, got shape {list(arr.shape)}")
    return arr if arr.ndim == 4 else arr[None]


def to_ntu25(array: np.ndarray, layout: str = DEFAULT_LAYOUT,
             confidence_threshold: float = DEFAULT_CONFIDENCE_THRESHOLD, units: str | None = None,
             mirror: bool = False, scale: float | None = None) -> np.ndarray:
    """Convert a (T,V,C) or (M,T,V,C) skeleton of `layout` to float32 (M,T,25,3) NTU-25 (rules above).

    `scale` (2D only): metres per image unit fixed by the caller (a stream fixes it once per connection);
    None measures it on this array (`scale_2d`).
    """
    spec = get_layout(layout)
    units = resolve_units(spec, units)
    arr = check_shape(array, layout).astype(np.float64)
    if mirror:  # a mirror view: back to the camera's view in the layout's own order (model/layout_mirror.py)
        arr = unmirror(arr, spec.name)
    if spec.axes == "ntu":
        out = arr * UNIT_SCALE[units]
        out[~np.isfinite(out).all(axis=-1)] = 0.0  # a non-finite joint is missing: NTU writes it as 0
        return out.astype(np.float32)
    coords = arr[..., :spec.dims]
    confidence = arr[..., spec.dims] if arr.shape[-1] > spec.dims else None
    missing = missing_mask(coords, confidence, confidence_threshold)
    if spec.dims == 2:
        scale = _scale(coords, missing, spec) if scale is None else scale
        if scale is None:  # nobody in view: nothing to scale, every frame is empty
            return np.zeros(arr.shape[:2] + (len(NTU25_JOINTS), 3), np.float32)
        coords, missing = place_hidden_hips(coords, missing, spec.hips, spec.shoulders, scale)
    else:
        coords, missing = place_hidden_hips(coords, missing, spec.hips, spec.shoulders, UNIT_SCALE[units])
    filled, present = fill_missing(coords, missing, spec.parents)
    if spec.dims == 2:
        xyz = np.concatenate([filled * scale, np.zeros_like(filled[..., :1])], axis=-1)
    else:
        xyz = filled * UNIT_SCALE[units]
        if spec.depth_scale != 1.0:
            hip_z = (xyz[..., spec.hips[0], None, 2:] + xyz[..., spec.hips[1], None, 2:]) / 2.0
            xyz[..., 2:] = hip_z + spec.depth_scale * (xyz[..., 2:] - hip_z)
    xyz[..., :2] *= -1.0  # 180 degrees about the viewing axis: y up, subject's right at larger x
    if spec.dims == 2:
        xyz[..., 2] = DEPTH_M
    else:
        hip_z = (xyz[..., spec.hips[0], 2] + xyz[..., spec.hips[1], 2]) / 2.0
        xyz[..., 2] += DEPTH_M - float(np.median(hip_z[present])) if present.any() else 0.0
    out = spec.builder(xyz)
    out[~present] = 0.0
    return out.astype(np.float32)


def scale_2d(array: np.ndarray, layout: str,
             confidence_threshold: float = DEFAULT_CONFIDENCE_THRESHOLD) -> float | None:
    """Metres per image unit of a 2D skeleton by the rules of model/layout_scale.py; None when nobody is in it."""
    spec = get_layout(layout)
    if spec.dims != 2:
        raise LayoutError(f"layout {spec.name!r} is 3D: it has no 2D scale")
    arr = check_shape(array, layout).astype(np.float64)
    coords = arr[..., :2]
    confidence = arr[..., 2] if arr.shape[-1] > 2 else None
    return _scale(coords, missing_mask(coords, confidence, confidence_threshold), spec)


def _scale(coords: np.ndarray, missing: np.ndarray, spec: LayoutSpec) -> float | None:
    try:
        return metres_per_unit(coords, missing, spec.hips, spec.shoulders, spec.joints)
    except ScaleError as exc:
        raise LayoutError(f"layout {spec.name!r}: {exc}") from None


def units_warning(ntu: np.ndarray) -> str | None:
    """A warning when NTU metres look like centimetres or millimetres (median torso length of present frames)."""
    torso = np.linalg.norm(ntu[..., SPINE_SHOULDER, :] - ntu[..., SPINE_BASE, :], axis=-1)
    both = np.any(ntu[..., SPINE_SHOULDER, :] != 0, axis=-1) & np.any(ntu[..., SPINE_BASE, :] != 0, axis=-1)
    if not both.any():
        return None
    median = float(np.median(torso[both]))
    if median < 5.0:  # an adult torso is ~0.5 m; 5 m is impossible
        return None
    guess = "millimetres" if median >= 150.0 else "centimetres"
    return (f"coordinates look like {guess}: the median torso length is {median:.4g} in the given units, about "
            f"0.5 is expected in metres; pass units='{'mm' if guess == 'millimetres' else 'cm'}'")
