"""Missing-joint filling for pose-estimator skeletons, before they are mapped onto NTU-25.

Missing joints and absent persons are defined once, in model/presence.py (confidence below the threshold,
all coordinates exactly 0, or non-finite); absent frames become all-zero NTU frames (the NTU convention for
"no body"). Missing joints of a present person-frame are filled per person:

1. over time: linear interpolation between the nearest frames where that joint was seen, holding the first /
   last seen position before / after them (`numpy.interp`);
2. joints never seen in the whole sequence: the mean of their parent joints (layout_maps.*_PARENTS) at the same
   frame, repeated until nothing changes; anything still unset (a chain that is never seen) takes the mean of
   the person's known joints in that frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from model.presence import missing_mask, person_presence

__all__ = ["fill_missing", "missing_mask"]


def _interpolate_over_time(track: np.ndarray, seen: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Fill (T,D) `track` at `frames` from the rows where `seen` is True (linear, edges held)."""
    t_seen = np.flatnonzero(seen)
    out = track.copy()
    for d in range(track.shape[1]):
        out[frames, d] = np.interp(frames, t_seen, track[t_seen, d])
    return out


def fill_missing(coords: np.ndarray, missing: np.ndarray,
                 parents: Sequence[tuple[int, ...]]) -> tuple[np.ndarray, np.ndarray]:
    """Fill missing joints of (M,T,V,D) by the rules above; returns (filled float64, present (M,T) bool)."""
    out = np.array(coords, dtype=np.float64)
    present = person_presence(missing)
    persons, _, joints, _ = out.shape
    for m in range(persons):
        frames = np.flatnonzero(present[m])
        if frames.size == 0:
            continue
        seen = ~missing[m]
        known = np.zeros(joints, dtype=bool)
        for v in range(joints):
            if seen[:, v].any():
                known[v] = True
                holes = frames[~seen[frames, v]]
                if holes.size:
                    out[m, :, v] = _interpolate_over_time(out[m, :, v], seen[:, v], holes)
        _fill_from_parents(out[m], known, parents)
    out[~present] = 0.0
    return out, present


def _fill_from_parents(person: np.ndarray, known: np.ndarray, parents: Sequence[tuple[int, ...]]) -> None:
    """Set never-seen joints of one person (T,V,D) in place from their parents, else the known-joint mean."""
    changed = True
    while changed and not known.all():
        changed = False
        for v in np.flatnonzero(~known):
            if all(known[p] for p in parents[v]):
                person[:, v] = person[:, list(parents[v])].mean(axis=1)
                known[v] = changed = True
    if not known.all():
        person[:, ~known] = person[:, known].mean(axis=1, keepdims=True)
