"""Who is in view: the one definition of a missing joint, an absent person and a frame without anybody.

A joint is *missing* when any of its coordinates is non-finite, when all its coordinates are exactly 0
(OpenPose and many exporters write zeros for undetected joints; NTU arrays write zeros for empty bodies), or
when its confidence is below the threshold. A person is *absent* in a frame when every joint is missing, and
a frame is *empty* when every person is absent. Windows are judged by the fraction of their frames that hold
somebody: under `MIN_PRESENT_FRACTION` (one half) a window is background and is never sent to the encoder,
since a mostly empty window resampled to the encoder's length is scored as an action (an all-zero window
gets the lowest energy of any input).
"""

from __future__ import annotations

import numpy as np

MIN_PRESENT_FRACTION = 0.5


def missing_mask(coords: np.ndarray, confidence: np.ndarray | None, threshold: float) -> np.ndarray:
    """(M,T,V) True where a joint is missing: confidence < threshold, all coordinates 0, or any non-finite."""
    missing = np.all(coords == 0, axis=-1) | ~np.all(np.isfinite(coords), axis=-1)
    if confidence is not None:
        missing |= ~(confidence >= threshold)  # a NaN confidence is missing too
    return missing


def person_presence(missing: np.ndarray) -> np.ndarray:
    """(M,T,V) missing joints -> (M,T) True where the person has at least one joint."""
    return ~np.asarray(missing, dtype=bool).all(axis=-1)


def frame_presence(joints: np.ndarray, confidence: np.ndarray | None = None, threshold: float = 0.0) -> np.ndarray:
    """(M,T,V,C) skeleton (coordinates only) -> (T,) True where at least one person is in view."""
    arr = np.asarray(joints)
    if arr.ndim == 3:
        arr = arr[None]
        confidence = None if confidence is None else np.asarray(confidence)[None]
    return person_presence(missing_mask(arr, confidence, threshold)).any(axis=0)


def has_person(joints: np.ndarray) -> bool:
    """True when somebody is in view in at least one frame of (M,T,V,C) or (T,V,C)."""
    return bool(frame_presence(joints).any())


def present_fraction(present: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """Fraction of frames with somebody in each window [start, min(start + length, T)) of a (T,) mask."""
    present = np.asarray(present, dtype=bool)
    starts = np.asarray(starts, dtype=np.int64)
    csum = np.concatenate([[0], np.cumsum(present, dtype=np.int64)])
    ends = np.minimum(starts + length, len(present))
    return (csum[ends] - csum[starts]) / np.maximum(ends - starts, 1)


def scorable_windows(present: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """(n,) True for windows in which somebody is in view in at least MIN_PRESENT_FRACTION of the frames."""
    return present_fraction(present, starts, length) >= MIN_PRESENT_FRACTION
