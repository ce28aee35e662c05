"""Mapping of /streams chunks onto NTU-25 with the rules of the connection, fixed once, not per chunk.

Layout, units and confidence threshold come from the start message. A 2D layout also needs a scale
(model/layout_scale.py), which `/detect` measures on the first `SCALE_FRAMES` frames that show a torso. A
stream holds its raw frames until it has that many (or until a window is due, or the stream ends), measures
the scale exactly as `/detect` would, and keeps it for the rest of the connection; a chunk without anybody
in it is mapped to empty frames (background) and never refused. 3D layouts need no scale and are mapped as
they arrive.
"""

from __future__ import annotations

import numpy as np

from model.layout_scale import SCALE_FRAMES, reference_lengths
from model.layouts import LayoutError, get_layout, scale_2d, to_ntu25
from model.presence import missing_mask
from service.inputs.layout_input import LayoutOptions
from service.problems import invalid


class StreamConverter:
    """Raw (M,n,V,C) chunks of one layout in, float32 (M,k,25,3) NTU-25 frames out, in order."""

    def __init__(self, opts: LayoutOptions) -> None:
        self.opts, self.spec = opts, get_layout(opts.layout)
        self.scale: float | None = None
        self._pending: np.ndarray | None = None  # raw frames held until the 2D scale is fixed

    @property
    def waiting(self) -> int:
        """Raw frames held back (2D, scale not fixed yet)."""
        return 0 if self._pending is None else int(self._pending.shape[1])

    def push(self, raw: np.ndarray, due: bool) -> np.ndarray:
        """Map a chunk; 2D chunks wait for the scale unless `due` (a window needs them now)."""
        if self.spec.dims != 2:
            return self._map(raw, None)
        held = raw if self._pending is None else _join(self._pending, raw)
        if self.scale is None:
            if not due and self._torso_frames(held) < SCALE_FRAMES:
                self._pending = held
                return np.zeros((held.shape[0], 0, 25, 3), np.float32)
            self.scale = self._measure(held)  # None while nobody has been in view: those frames map to empty
        self._pending = None
        return self._map(held, self.scale)

    def flush(self) -> np.ndarray | None:
        """Everything still held, mapped (the stream ends); None when nothing is held."""
        if self._pending is None:
            return None
        return self.push(np.zeros(self._pending.shape[:1] + (0,) + self._pending.shape[2:]), due=True)

    def _torso_frames(self, raw: np.ndarray) -> int:
        coords = raw[..., :2]
        confidence = raw[..., 2] if raw.shape[-1] > 2 else None
        missing = missing_mask(coords, confidence, self.opts.confidence_threshold)
        torso, _ = reference_lengths(coords, missing, self.spec.hips, self.spec.shoulders)
        return int(np.isfinite(torso).any(axis=0).sum())

    def _measure(self, raw: np.ndarray) -> float | None:
        try:
            return scale_2d(raw, self.spec.name, self.opts.confidence_threshold)
        except LayoutError as exc:
            raise invalid(f"frames: {exc}", loc=["frames"], kind="bad-skeleton") from exc

    def _map(self, raw: np.ndarray, scale: float | None) -> np.ndarray:
        try:
            return to_ntu25(raw, self.spec.name, self.opts.confidence_threshold, self.opts.units, scale=scale)
        except LayoutError as exc:
            raise invalid(f"frames: {exc}", loc=["frames"], kind="bad-skeleton") from exc


def _join(held: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """Frames of two chunks in order, persons padded with absent (zero) bodies; 422 when channels differ."""
    if held.shape[-1] != raw.shape[-1]:
        raise invalid(f"frames: this chunk has {raw.shape[-1]} channels, earlier ones {held.shape[-1]}",
                      loc=["frames"], kind="bad-shape")
    persons = max(held.shape[0], raw.shape[0])
    pad = [(0, 0)] * 3
    return np.concatenate([np.pad(held, [(0, persons - held.shape[0]), *pad]),
                           np.pad(raw, [(0, persons - raw.shape[0]), *pad])], axis=1)
