"""The 2D depth rule: image coordinates become metres through body lengths that were actually seen.

A 2D pose carries no scale, so one is taken from the body, measured only on joints the estimator saw (never
on filled ones, which is how a waist-up frame once became a person with a 37 m shoulder width):

1. the torso, shoulder centre to hip centre, in the person-frames where both shoulders and both hips are
   seen, is `TORSO_M` (0.5 m, an adult torso);
2. else (hips or lower body never seen) the shoulder width, in the person-frames where both shoulders are
   seen, is `SHOULDER_M` (0.36 m, an adult's biacromial breadth facing the camera);
3. else the sequence is refused with the joints that are missing (a sequence without anybody in it needs
   no scale: it stays empty).

The median is taken over the first `SCALE_FRAMES` frames in which the length can be measured, so the scale is
fixed early and `/streams` can fix the same scale once per connection, without the rest of the sequence.
A person whose hips are never seen gets hips `TORSO_M` straight below the shoulders (standing, hips hidden
by the frame edge or a table), in 2D and in 3D layouts alike (`place_hidden_hips`); the legs then follow the
parent rule of model/layout_fill.py.
"""

from __future__ import annotations

import numpy as np

TORSO_M = 0.5
SHOULDER_M = 0.36
SCALE_FRAMES = 32


class ScaleError(ValueError):
    """No frame shows the joints the 2D scale is measured on."""


def reference_lengths(coords: np.ndarray, missing: np.ndarray, hips: tuple[int, int],
                      shoulders: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(M,T) torso lengths and (M,T) shoulder widths of (M,T,V,2) coords; NaN where the joints are not seen."""
    (lh, rh), (ls, rs) = hips, shoulders
    both_shoulders = ~missing[..., ls] & ~missing[..., rs]
    torso_seen = both_shoulders & ~missing[..., lh] & ~missing[..., rh]
    with np.errstate(invalid="ignore"):
        torso = np.linalg.norm((coords[..., ls, :] + coords[..., rs, :] - coords[..., lh, :] - coords[..., rh, :])
                               / 2.0, axis=-1)
        width = np.linalg.norm(coords[..., ls, :] - coords[..., rs, :], axis=-1)
    return np.where(torso_seen & (torso > 0), torso, np.nan), np.where(both_shoulders & (width > 0), width, np.nan)


def early_median(lengths: np.ndarray, frames: int = SCALE_FRAMES) -> float | None:
    """Median of the finite (M,T) lengths over the first `frames` frames that have one; None when none do."""
    measured = np.flatnonzero(np.isfinite(lengths).any(axis=0))[:frames]
    if measured.size == 0:
        return None
    values = lengths[:, measured]
    return float(np.median(values[np.isfinite(values)]))


def metres_per_unit(coords: np.ndarray, missing: np.ndarray, hips: tuple[int, int],
                    shoulders: tuple[int, int], names: tuple[str, ...]) -> float | None:
    """The scale of the rules above for (M,T,V,2) coords; None when nobody is in view; ScaleError otherwise."""
    torso, width = reference_lengths(coords, missing, hips, shoulders)
    median = early_median(torso)
    if median is not None:
        return TORSO_M / median
    median = early_median(width)
    if median is not None:
        return SHOULDER_M / median
    if missing.all():
        return None
    wanted = ", ".join(f"{names[i]} ({i})" for i in (*shoulders, *hips))
    raise ScaleError(f"cannot scale 2D input to metres: no frame shows both shoulders apart (and the torso needs "
                     f"the hips too) above the confidence threshold; the scale is measured on {wanted}")


def place_hidden_hips(coords: np.ndarray, missing: np.ndarray, hips: tuple[int, int], shoulders: tuple[int, int],
                      scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Copies of (M,T,V,2 or 3) (coords, missing) where persons whose hips are never seen get them TORSO_M below
    the shoulders; `scale` is metres per coordinate unit, and y (image v, camera y) points down."""
    coords, missing = coords.copy(), missing.copy()
    drop = np.zeros(coords.shape[-1])
    drop[1] = TORSO_M / scale  # in the input's units
    for m in range(coords.shape[0]):
        if not (missing[m, :, hips[0]].all() and missing[m, :, hips[1]].all()):
            continue
        seen = ~missing[m, :, shoulders[0]] & ~missing[m, :, shoulders[1]]
        for hip, shoulder in zip(hips, shoulders, strict=True):
            coords[m, seen, hip] = coords[m, seen, shoulder] + drop
            missing[m, seen, hip] = False
    return coords, missing
