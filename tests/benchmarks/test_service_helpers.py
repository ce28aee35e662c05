"""Pure helpers of benchmarks/service.py: Prometheus text parsing, latency summary, request body."""

from __future__ import annotations

import io

import numpy as np
import pytest

from benchmarks.service import latency_summary, parse_metrics, skeleton_body

pytestmark = pytest.mark.unit

EXPOSITION = """# HELP scale_inference_runs_total Inference runs
# TYPE scale_inference_runs_total counter
scale_inference_runs_total 12.0
scale_inference_runs_created 1.7e+09
scale_batch_size_sequences_bucket{le="1.0"} 3.0
scale_batch_size_sequences_sum 40.0
scale_batch_size_sequences_count 12.0
"""


def test_parse_metrics_keeps_unlabelled_samples() -> None:
    got = parse_metrics(EXPOSITION)
    assert got == {"scale_inference_runs_total": 12.0, "scale_inference_runs_created": 1.7e9,
                   "scale_batch_size_sequences_sum": 40.0, "scale_batch_size_sequences_count": 12.0}
    with pytest.raises(ValueError, match="unparsable"):
        parse_metrics("scale_x notanumber\n")


def test_latency_summary_by_hand() -> None:
    lat = [i / 1000 for i in range(1, 101)]  # 1..100 ms
    s = latency_summary(lat, wall_s=4.0)
    assert s["requests_per_s"] == pytest.approx(25.0)
    # linear interpolation on 1..100: rank q*99 -> 1 + q*99
    assert s["p50_ms"] == pytest.approx(50.5)
    assert s["p90_ms"] == pytest.approx(90.1)
    assert s["p99_ms"] == pytest.approx(99.01)
    assert s["max_ms"] == pytest.approx(100.0)
    with pytest.raises(ValueError, match="at least one latency"):
        latency_summary([], 1.0)


def test_skeleton_body_real_file_round_trips(shared_data) -> None:
    path = sorted((shared_data / "skeletons" / "ntu60_raw").glob("*.skeleton"))[0]
    body, source = skeleton_body(path, max_frames=40)
    arr = np.load(io.BytesIO(body), allow_pickle=False)
    assert arr.dtype == np.float32 and arr.ndim == 4 and arr.shape[1:] == (40, 25, 3)
    # line 1 of a .skeleton file is its frame count; frame 1 lists bodies with 25 joints of x y z first
    lines = path.read_text().splitlines()
    first_joint = [float(v) for v in lines[4].split()[:3]]
    np.testing.assert_allclose(arr[0, 0, 0], first_joint, rtol=1e-6)
    assert str(path) in source
