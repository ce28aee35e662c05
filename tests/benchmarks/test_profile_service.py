"""The profile's stage split on hand-written py-spy stacks."""

from __future__ import annotations

import pytest

from benchmarks.profile_service import shares, split_by_stage, stage_of

pytestmark = pytest.mark.unit

LOOP = "asyncio_run (uvicorn/server.py:1);BaseEventLoop._run_once (asyncio/base_events.py:2);EpollSelector.select (selectors.py:3)"
ENCODER_ORT = ("Thread.run (threading.py:1);MicroBatcher._worker (service/engine/batcher.py:9);"
               "InferenceEngine.features (service/engine/inference.py:5);InferenceEngine._run_feature "
               "(service/engine/inference.py:9);InferenceSession.run (onnxruntime/capi/x.py:2)")
ENCODER_OV_WAIT = ("Thread.run (threading.py:1);InferenceEngine._run_feature (service/engine/inference.py:9);"
                   "OpenVinoGraph.run (service/engine/openvino_graph.py:3)")
PARSE = ("app (starlette/routing.py:1);recognize (service/routers/recognize.py:2);parse_npy "
         "(service/inputs/payloads.py:3);read_array (numpy/lib/_format_impl.py:4)")
SCORE = ("InferenceEngine.score (service/engine/inference.py:1);Bundle.run_sample_side (model/bundle.py:2);"
         "InferenceSession.run (onnxruntime/capi/x.py:2)")
UVLOOP = "Server.run (uvicorn/server.py:86);asyncio_run (uvicorn/_compat.py:30);Runner.run (asyncio/runners.py:118)"
QUEUE = "Thread.run (threading.py:1);MicroBatcher._worker (service/engine/batcher.py:9);Queue.get (queue.py:1)"


def test_deepest_marker_names_the_stage_and_waits_outside_stages_are_idle() -> None:
    assert stage_of(ENCODER_ORT) == "encoder"
    assert stage_of(ENCODER_OV_WAIT) == "encoder"  # blocked in the runtime's call: the clip waits on it
    assert stage_of(PARSE) == "parsing"
    assert stage_of(SCORE) == "scoring"
    assert stage_of(LOOP) == "idle" and stage_of(QUEUE) == "idle"
    assert stage_of(UVLOOP) == "idle"  # uvloop waits in C under asyncio's Runner.run
    assert stage_of("main (x.py:1);compute (y.py:2)") == "other"


def test_shares_are_of_busy_samples() -> None:
    raw = f"{ENCODER_ORT} 30\n{PARSE} 10\n{LOOP} 500\n"
    counts = split_by_stage(raw)
    assert counts == {"encoder": 30, "parsing": 10, "idle": 500}
    assert shares(counts) == {"encoder": 75.0, "parsing": 25.0}
    with pytest.raises(ValueError):
        shares({"idle": 3})
