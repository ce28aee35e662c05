"""Fuzzing the success path of /streams (not in the OpenAPI document, so schemathesis never reaches it):
valid sequences of any length cut into chunks of any sizes, any window and stride, JSON or .npy messages.
Every stream ends with `end`, one window event per window start of model.windows, finite energies."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.windows import window_starts
from service.inputs.examples import STANDING
from tests.service.svc_support import LABELS, end_stream, register, running_app

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client():
    with running_app() as c:
        register(c, LABELS[:3])
        yield c


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


@st.composite
def streams(draw: st.DrawFn) -> tuple[np.ndarray, list[int], int, int, list[bool]]:
    frames = draw(st.integers(1, 60))
    persons = draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2**32 - 1))
    motion = np.random.default_rng(seed).normal(scale=0.05, size=(persons, frames, 25, 3))
    joints = (np.asarray(STANDING)[None, None] + motion).astype(np.float32)
    cuts = sorted(draw(st.sets(st.integers(1, max(frames - 1, 1)), max_size=5)))
    sizes = [b - a for a, b in zip([0, *cuts], [*cuts, frames], strict=True) if b > a]
    window = draw(st.integers(8, 24))
    stride = draw(st.integers(1, window))
    binary = draw(st.lists(st.booleans(), min_size=len(sizes), max_size=len(sizes)))
    return joints, sizes, window, stride, binary


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(case=streams())
def test_any_valid_stream_ends_with_every_window(client, case) -> None:
    joints, sizes, window, stride, binary = case
    with client.websocket_connect("/streams") as ws:
        ws.send_json({"type": "start", "window": window, "stride": stride, "smooth": 1})
        assert ws.receive_json()["type"] == "ready"
        start = 0
        for size, as_npy in zip(sizes, binary, strict=True):
            chunk = joints[:, start:start + size]
            start += size
            if as_npy:
                ws.send_bytes(_npy(chunk))
            else:
                ws.send_json({"type": "frames", "frames": chunk.tolist()})
        events = end_stream(ws)
    assert events[-1]["type"] == "end", events[-1]
    windows = [e for e in events if e["type"] == "window"]
    assert events[-1]["frames"] == joints.shape[1] and events[-1]["windows"] == len(windows)
    assert sorted(w["start_frame"] for w in windows) == window_starts(joints.shape[1], window, stride).tolist()
    assert all(np.isfinite(w["energy"]) for w in windows)
