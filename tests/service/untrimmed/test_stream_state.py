"""/streams keeps its rules per connection: smooth=1 reproduces /detect for 2D, 3D and ntu25; empty chunks."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.layout_cost import from_ntu

pytestmark = pytest.mark.integration
OPTIONS = {"window": 64, "stride": 16, "smooth": 1}
CHUNKS = (8, 16, 12, 8, 40)  # uneven chunk sizes, repeated


@pytest.fixture(scope="module")
def sample(pkummd_sample):
    """The real PKU-MMD sample's first 360 frames with nobody in view in frames 200-247 (a chunk of zeros)."""
    joints = pkummd_sample[1][:, :360].copy()
    joints[:, 200:248] = 0.0
    return joints


def stream(client, arr: np.ndarray, layout: str) -> list[dict]:
    events = []
    with client.websocket_connect("/streams") as ws:
        ws.send_json({"type": "start", "layout": layout, **OPTIONS})
        assert ws.receive_json()["type"] == "ready"
        start, i = 0, 0
        while start < arr.shape[1]:
            n = CHUNKS[i % len(CHUNKS)]
            ws.send_json({"type": "frames", "frames": arr[:, start:start + n].tolist()})
            start, i = start + n, i + 1
        ws.send_json({"type": "end"})
        while True:
            event = ws.receive_json()
            events.append(event)
            if event["type"] in ("end", "error"):
                return events


@pytest.mark.parametrize("layout", ["coco17", "mediapipe33", "ntu25"])
def test_smooth_1_reproduces_detect(client, sample, layout):
    arr = from_ntu(sample, layout)
    offline = client.post("/detect", json={"skeleton": arr.tolist(), "layout": layout, "include_windows": True,
                                           **OPTIONS})
    assert offline.status_code == 200, offline.text
    want = offline.json()["windows"]
    events = stream(client, arr, layout)
    assert events[-1]["type"] == "end", events[-1]  # the empty chunks are no error (before: 422, close 1008)
    windows = [e for e in events if e["type"] == "window"]
    assert [(w["start_frame"], w["end_frame"]) for w in windows] == [(w["start_frame"], w["end_frame"]) for w in want]
    for got, ref in zip(windows, want, strict=True):
        assert got["class_id"] == ref.get("class_id"), (got, ref)
        if "energy" in ref:  # stated tolerance: relative 1e-4 (2D: one scale per connection, as /detect's)
            assert got["energy"] == pytest.approx(ref["energy"], rel=1e-4)
        else:  # a window mostly without anybody: background, never scored
            assert got["energy"] is None and got["open_set"]["accepted"] is False
    assert sum(w["energy"] is None for w in windows) >= 1
    segments = [e for e in events if e["type"] == "segment"]
    assert segments[0]["start_frame"] == 0 and segments[-1]["end_frame"] == 359
    for a, b in zip(segments, segments[1:], strict=False):
        assert b["start_frame"] == a["end_frame"] + 1
    for seg in segments:  # frames without anybody are background in the stream too
        assert seg["background"] or seg["end_frame"] < 200 or seg["start_frame"] >= 248, seg


def test_a_2d_stream_of_nobody_is_background(client):
    events = stream(client, np.zeros((1, 80, 17, 3)), "coco17")
    assert events[-1] == {"type": "end", "frames": 80, "windows": 2}
    assert all(e["class_id"] is None for e in events if e["type"] == "window")
    assert [(s["start_frame"], s["end_frame"], s["background"]) for s in events if s["type"] == "segment"] == \
        [(0, 79, True)]
