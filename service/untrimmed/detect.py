"""Untrimmed detection in the service: windows scored through the micro-batcher, then model.segments."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from model.presence import frame_presence
from model.segments import Segment, build_segments, softmax_scores
from model.windows import score_windows
from service.deps import ServiceState
from service.engine.open_set import bundle_threshold
from service.engine.scoring import window_scorer
from service.inputs.detect_payloads import DetectRequest
from service.registry import ClassRecord


class SegmentOut(BaseModel):
    """One detected action: frames [start_frame, end_frame] inclusive."""

    start_frame: int
    end_frame: int
    class_id: str
    label: str
    energy: float = Field(description="mean energy of the class over the segment (lower = better)")
    score: float = Field(description="mean softmax score of the class over the segment")


class BackgroundOut(BaseModel):
    """A stretch where no registered class is confident ("none of the registered classes") or nobody is seen."""

    start_frame: int
    end_frame: int
    energy: float | None = Field(None, description="mean best-class energy over the scored part of the stretch; "
                                             "left out when nobody was in view to score")
    score: float | None = None


class WindowOut(BaseModel):
    """One window's best class (only with include_windows)."""

    start_frame: int
    end_frame: int
    class_id: str | None = None  # these four are left out for a window nobody was in view to score
    label: str | None = None
    energy: float | None = None
    score: float | None = None
    accepted: bool


class DetectOut(BaseModel):
    """Answer of POST /detect."""

    frames: int
    window: dict[str, int]
    segments: list[SegmentOut]
    background: list[BackgroundOut]
    open_set: dict[str, Any] = Field(description="{accepted: any segment found, threshold, source}")
    windows: list[WindowOut] | None = None
    seconds: float = Field(description="time spent scoring and segmenting")
    bundle_version: str
    registry_version: int
    demo: bool | None = None
    warning: str | None = None
    warnings: list[str] | None = Field(None, description="each warning on its own (the demo bundle's)")


def window_rows(starts: np.ndarray, energy: np.ndarray, length: int, frames: int, records: list[ClassRecord],
                temperature: float, threshold: float | None) -> list[WindowOut]:
    """Per-window best class and open-set decision (unscorable windows have no class)."""
    out = []
    for s, row in zip(starts.tolist(), energy, strict=True):
        end = min(s + length, frames) - 1
        if not np.isfinite(row).all():
            out.append(WindowOut(start_frame=s, end_frame=end, class_id=None, label=None, energy=None,
                                 score=None, accepted=False))
            continue
        k = int(np.argmin(row))
        accepted = threshold is None or bool(row[k] <= threshold)
        out.append(WindowOut(start_frame=s, end_frame=end, class_id=records[k].id, label=records[k].label,
                             energy=float(row[k]), score=float(softmax_scores(row, temperature)[k]),
                             accepted=accepted))
    return out


def _segment(seg: Segment, records: list[ClassRecord]) -> SegmentOut:
    record = records[seg.class_index]
    return SegmentOut(start_frame=seg.start, end_frame=seg.end, class_id=record.id, label=record.label,
                      energy=seg.energy, score=seg.score)


async def run_detection(state: ServiceState, req: DetectRequest, records: list[ClassRecord],
                        rows: dict) -> dict[str, Any]:
    """Score every window in batched runs, smooth, segment; the DetectOut fields except the versions."""
    started = time.perf_counter()
    loop = asyncio.get_running_loop()
    score = window_scorer(state, records, rows, loop)
    chunk = max(1, state.settings.max_batch_size)
    starts, energy = await run_in_threadpool(score_windows, req.joints, req.spec, score, chunk)
    if energy.shape[1] != len(records):  # no window had anybody in view: nothing was scored
        energy = np.full((len(starts), len(records)), np.nan)
    override = req.options.threshold
    threshold = override if override is not None else bundle_threshold(state)
    source = "request" if override is not None else ("bundle" if threshold is not None else "none")
    frames, temperature = int(req.joints.shape[1]), state.bundle.manifest.score_temperature
    segments, background = build_segments(starts, energy, req.spec.length, frames, temperature,
                                          req.detect_options(threshold), frame_presence(req.joints))
    windows = (window_rows(starts, energy, req.spec.length, frames, records, temperature, threshold)
               if req.options.include_windows else None)
    return {"frames": frames, "window": {"length": req.spec.length, "stride": req.spec.stride, "count": len(starts)},
            "segments": [_segment(s, records) for s in segments],
            "background": [BackgroundOut(start_frame=b.start, end_frame=b.end, energy=_finite(b.energy),
                                         score=_finite(b.score)) for b in background],
            "open_set": {"accepted": bool(segments), "threshold": threshold, "source": source},
            "windows": windows, "seconds": time.perf_counter() - started}


def _finite(value: float) -> float | None:
    """JSON has no NaN: an unscored stretch reports null."""
    return value if np.isfinite(value) else None
