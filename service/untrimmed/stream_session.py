"""One /streams connection: buffered frames, windows scored as soon as they are complete, segment events."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool

from model.presence import frame_presence, scorable_windows
from model.segments import Segment
from model.stream_segments import StreamSegmenter, WindowResult
from model.windows import WindowSpec
from service.deps import ServiceState
from service.engine.scoring import encoder_input, submit
from service.inputs.layout_input import NTU25, LayoutOptions
from service.inputs.payloads import MAX_PERSONS_IN
from service.problems import invalid
from service.registry import ClassRecord
from service.untrimmed.stream_convert import StreamConverter


class StreamSession:
    """Frames in, events out; memory holds at most one window plus one stride plus the last chunk.

    Raw chunks of the connection's layout are mapped by one StreamConverter (rules fixed per connection);
    windows with somebody in view in under half of their frames are background and are not scored.
    """

    def __init__(self, state: ServiceState, spec: WindowSpec, records: list[ClassRecord], rows: dict,
                 threshold: float | None, source: str, smooth: int = 1, min_score: float = 0.0,
                 layout: LayoutOptions = NTU25) -> None:
        self.state, self.spec, self.records, self.rows = state, spec, records, rows
        self.converter = StreamConverter(layout)
        self.threshold, self.source = threshold, source
        self.segmenter = StreamSegmenter(spec.length, spec.stride, state.bundle.manifest.score_temperature,
                                         threshold, smooth, min_score)
        self.buffer = np.zeros((1, 0, 25, 3), np.float32)
        self.offset = 0  # stream frame index of buffer[:, 0]
        self.total = 0
        self.next_start = 0
        self.windows = 0

    @property
    def buffered(self) -> int:
        """Frames held in memory (mapped, and raw ones waiting for the connection's 2D scale)."""
        return int(self.buffer.shape[1]) + self.converter.waiting

    def _append(self, frames: np.ndarray) -> None:
        persons = max(self.buffer.shape[0], frames.shape[0])
        if persons > MAX_PERSONS_IN:
            raise invalid(f"frames must have 1..{MAX_PERSONS_IN} persons", loc=["frames"], kind="bad-shape")
        pad = [(0, persons - self.buffer.shape[0]), (0, 0), (0, 0), (0, 0)]
        self.buffer = np.concatenate([np.pad(self.buffer, pad),
                                      np.pad(frames, [(0, persons - frames.shape[0]), *pad[1:]])], axis=1)
        self.total += frames.shape[1]

    async def add(self, raw: np.ndarray) -> list[dict[str, Any]]:
        """Append a raw (M,n,V,C) chunk of the layout; score every window the mapped frames complete."""
        arrived = time.perf_counter()
        due = self.total + self.converter.waiting + raw.shape[1] >= self.next_start + self.spec.length
        return await self._add_mapped(self.converter.push(raw, due), arrived)

    async def _add_mapped(self, frames: np.ndarray, arrived: float) -> list[dict[str, Any]]:
        self._append(frames)
        starts = []
        while self.next_start + self.spec.length <= self.total:
            starts.append(self.next_start)
            self.next_start += self.spec.stride
        events = await self._score(starts, arrived)
        keep_from = max(self.next_start - self.spec.stride, 0)  # the tail window may reach back this far
        self.buffer = self.buffer[:, keep_from - self.offset:]
        self.offset = keep_from
        return events

    async def end(self) -> list[dict[str, Any]]:
        """Map what is held, score the tail window (flush with the last frame), close the open segment."""
        held = self.converter.flush()
        events = [] if held is None else await self._add_mapped(held, time.perf_counter())
        if self.total == 0:
            return events
        last_end = self.next_start - self.spec.stride + self.spec.length if self.windows else 0
        if last_end < self.total:
            events += await self._score([max(self.total - self.spec.length, 0)], time.perf_counter())
        covered = self.segmenter.covered
        tail = frame_presence(self.buffer[:, covered - self.offset:]) if covered >= self.offset else None
        events += [self._segment_event(s) for s in self.segmenter.finish(self.total, tail)]
        return events

    async def _score(self, starts: list[int], arrived: float) -> list[dict[str, Any]]:
        if not starts:
            return []
        windows = [self.buffer[:, s - self.offset:s - self.offset + self.spec.length] for s in starts]
        present = [frame_presence(w) for w in windows]
        seen = np.array([scorable_windows(p, np.zeros(1, np.int64), len(p))[0] for p in present])
        energy = np.full((len(starts), len(self.records)), np.nan)
        if seen.any():
            x, ok = await run_in_threadpool(encoder_input, [w for w, s in zip(windows, seen, strict=True) if s],
                                            self.state)
            rows = np.flatnonzero(seen)[ok]
            if rows.size:
                energy[rows] = (await submit(self.state, x[ok], self.records, self.rows))[0]
        latency = time.perf_counter() - arrived
        events = []
        for s, row, flags in zip(starts, energy, present, strict=True):
            result, closed = self.segmenter.push(s, row, self.total, flags)
            events.append(self._window_event(result, latency))
            events += [self._segment_event(c) for c in closed]
            self.state.metrics.stream_window_latency.observe(latency)
        self.windows += len(starts)
        return events

    def _window_event(self, r: WindowResult, latency: float) -> dict[str, Any]:
        record = self.records[r.class_index] if r.class_index is not None else None
        return {"type": "window", "start_frame": r.start, "end_frame": r.end,
                "class_id": record.id if record else None, "label": record.label if record else None,
                "energy": r.energy, "score": r.score,
                "open_set": {"accepted": r.accepted, "threshold": self.threshold, "source": self.source},
                "latency_ms": round(latency * 1000.0, 3)}

    def _segment_event(self, seg: Segment) -> dict[str, Any]:
        record = self.records[seg.class_index] if seg.class_index is not None else None
        finite = np.isfinite(seg.energy)
        return {"type": "segment", "background": record is None, "start_frame": seg.start, "end_frame": seg.end,
                "class_id": record.id if record else None, "label": record.label if record else None,
                "energy": seg.energy if finite else None, "score": seg.score if finite else None}
