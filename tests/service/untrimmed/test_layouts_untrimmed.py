"""/detect and /streams with every pose layout score what an independent path scores: the real PKU-MMD sample
converted into each layout (benchmarks.layout_cost.from_ntu), mapped back with model.layouts.to_ntu25,
preprocessed and scored by the PyTorch models the bundle was exported from (svc_support.reference)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.layout_cost import FROM_NTU, from_ntu
from model.layouts import LAYOUTS, to_ntu25
from model.pkummd import read_pkummd_skeleton
from tests.service.svc_support import (
    LABELS,
    end_stream,
    prompt_of,
    reference,
    register,
    running_app,
    within_tolerance,
)

pytestmark = pytest.mark.integration
FRAMES, WINDOW = 256, 64  # four windows, stride = window (a stream chunk is one window)
CANDIDATES = list(LABELS[:4])


@pytest.fixture(scope="module")
def joints(shared_data) -> np.ndarray:
    return read_pkummd_skeleton(shared_data / "skeletons" / "pkummd_raw" / "A10N08-L.txt")[:, 300:300 + FRAMES]


@pytest.fixture(scope="module")
def client():
    with running_app() as c:
        register(c, CANDIDATES)
        yield c


def _reference_windows(ntu: np.ndarray) -> tuple[list[str], np.ndarray]:
    """(label, energy) of each window by the PyTorch models."""
    energy, _ = reference([ntu[:, s:s + WINDOW] for s in range(0, FRAMES, WINDOW)],
                          [prompt_of(label) for label in CANDIDATES])
    return [CANDIDATES[int(i)] for i in energy.argmin(axis=1)], energy.min(axis=1)


def _assert_windows(windows: list[dict], ntu: np.ndarray) -> None:
    labels, energies = _reference_windows(ntu)
    assert [w["start_frame"] for w in windows] == list(range(0, FRAMES, WINDOW))
    assert [w["label"] for w in windows] == labels
    got = np.array([w["energy"] for w in windows])
    assert within_tolerance(got, energies).all(), (got, energies)


# the layouts benchmarks.layout_cost can write from NTU (the later ones are checked in test_api_input_options.py)
INVERTIBLE = [name for name in LAYOUTS if name == "ntu25" or name.removesuffix("-3d") in FROM_NTU]


@pytest.mark.parametrize("layout", INVERTIBLE)
def test_detect_with_each_layout_matches_the_reference(client, joints: np.ndarray, layout: str) -> None:
    seq = from_ntu(joints.astype(np.float64), layout)
    r = client.post("/detect", json={"skeleton": seq.tolist(), "layout": layout, "window": WINDOW,
                                     "stride": WINDOW, "include_windows": True, "smooth": 1})
    assert r.status_code == 200, r.text
    _assert_windows(r.json()["windows"], to_ntu25(seq, layout))


# 2D streams take their metres-per-pixel scale from the first torso frames the connection sees, not from the
# whole sequence (docs/service.md, /streams): tests/service/untrimmed/test_stream_state.py compares them with
# /detect, which the test above compares with the reference.
@pytest.mark.parametrize("layout", [name for name in INVERTIBLE if LAYOUTS[name].dims == 3])
def test_streams_with_each_layout_matches_the_reference(client, joints: np.ndarray, layout: str) -> None:
    seq = from_ntu(joints.astype(np.float64), layout)
    chunks = [seq[:, s:s + WINDOW] for s in range(0, FRAMES, WINDOW)]
    with client.websocket_connect("/streams") as ws:
        ws.send_json({"type": "start", "layout": layout, "window": WINDOW, "stride": WINDOW, "smooth": 1})
        assert ws.receive_json()["layout"] == layout
        for chunk in chunks:
            ws.send_json({"type": "frames", "frames": chunk.tolist()})
        events = end_stream(ws)
    assert events[-1]["type"] == "end", events[-1]
    ntu = to_ntu25(seq, layout)
    _assert_windows([e for e in events if e["type"] == "window"], ntu)
