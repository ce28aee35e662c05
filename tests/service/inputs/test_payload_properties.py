"""Property tests of the recognize input paths (service/inputs/payloads.py): JSON and .npy bodies (issue 9).

Any body gives either a RecognizeRequest of finite float32 (M,T,25,3) sequences within the limits, or a 422
Problem; never another exception, never NaN.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays, scalar_dtypes

from service.inputs.payloads import Limits, RecognizeRequest, parse_json_request, parse_npy_request
from service.problems import Problem

pytestmark = pytest.mark.unit
LIMITS = Limits(max_frames=16, max_sequences=3, max_classes=5, max_top_k=10)
PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(parse, *args) -> None:
    try:
        req = parse(*args)
    except Problem as problem:
        assert 400 <= problem.status < 500 and problem.detail and "allow_pickle" not in problem.detail
        json.dumps(problem.body())  # always renderable
        return
    assert isinstance(req, RecognizeRequest) and 1 <= len(req.sequences) <= LIMITS.max_sequences
    assert 1 <= req.top_k <= LIMITS.max_top_k
    for seq in req.sequences:
        m, t, v, c = seq.shape
        assert (v, c) == (25, 3) and 1 <= m <= 4 and 1 <= t <= LIMITS.max_frames
        assert seq.dtype == np.float32 and np.isfinite(seq).all()


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=40)
near_valid = st.builds(
    lambda t, m, fill, extra: {"skeleton": np.full((m, t, 25, 3), fill).tolist(), **extra},
    st.integers(0, 18), st.integers(1, 5), st.floats(-2e6, 2e6, allow_nan=False),
    st.dictionaries(st.sampled_from(["top_k", "classes", "skeletons", "x"]), json_values, max_size=2))


@PROPS
@given(value=json_values | near_valid | st.fixed_dictionaries({"skeleton": json_values}))
def test_json_body(value) -> None:
    check(parse_json_request, json.dumps(value).encode(), LIMITS)


@PROPS
@given(raw=st.binary(max_size=300))
def test_arbitrary_json_bytes(raw: bytes) -> None:
    check(parse_json_request, raw, LIMITS)


def npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


npy_arrays = arrays(scalar_dtypes(), st.lists(st.sampled_from([0, 1, 2, 3, 25]), min_size=0, max_size=5).map(tuple))


@PROPS
@given(arr=npy_arrays, top_k=st.integers(-3, 20))
def test_npy_body(arr: np.ndarray, top_k: int) -> None:
    check(parse_npy_request, npy(arr), top_k, None, LIMITS)


@PROPS
@given(arr=npy_arrays, cut=st.integers(0, 200), junk=st.binary(max_size=8))
def test_damaged_npy_body(arr: np.ndarray, cut: int, junk: bytes) -> None:
    body = npy(arr)
    check(parse_npy_request, body[:cut] + junk + body[cut + len(junk):], 3, None, LIMITS)
