"""`.npy` bodies are read as views of the request bytes, equal to np.load's arrays, refusals unchanged."""

from __future__ import annotations

import io

import numpy as np
import pytest

from service.inputs.payloads import load_npy_body
from service.problems import Problem

pytestmark = pytest.mark.unit


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


@pytest.mark.parametrize("arr", [
    np.arange(2 * 5 * 25 * 3, dtype=np.float32).reshape(2, 5, 25, 3),
    np.asfortranarray(np.arange(4 * 25 * 3, dtype=np.float64).reshape(4, 25, 3)),
    np.arange(10 * 25 * 3, dtype=">f4").reshape(10, 25, 3),
    np.arange(6, dtype=np.int16).reshape(2, 3),
])
def test_view_equals_np_load_without_copying(arr: np.ndarray) -> None:
    body = _npy(arr)
    got = load_npy_body(body)
    want = np.load(io.BytesIO(body), allow_pickle=False)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    assert not got.flags.owndata and not got.flags.writeable  # a view of the immutable body


def test_truncated_or_padded_bodies_and_object_arrays_are_refused() -> None:
    body = _npy(np.zeros((3, 25, 3), np.float32))
    for bad in (body[:-4], body + b"\0\0\0\0"):
        with pytest.raises(Problem):
            load_npy_body(bad)
    header = _npy(np.zeros(2, np.float32)).replace(b"'<f4'", b"'|O' ")
    with pytest.raises(Problem):
        load_npy_body(header)
