"""Conditioning cache encoding: exact round trip, an independent parse of the format, corruption -> error."""

from __future__ import annotations

import hashlib
import json
import pickle
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.registry.conditioning import ConditioningDecodeError, decode_tensors, encode_tensors

pytestmark = pytest.mark.unit


def _sample() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"enc_c": rng.normal(size=(1, 5)), "prior_mu": rng.normal(size=(1, 3)).astype(np.float32),
            "scalar": np.float64(2.5), "empty": np.zeros((0, 4))}


def _seal(header: dict, payload: bytes) -> bytes:
    """Build a blob by hand from the documented layout (independent of encode_tensors)."""
    raw = json.dumps(header).encode()
    body = b"SCLC" + bytes([1]) + struct.pack("<I", len(raw)) + raw + payload
    return body + hashlib.sha256(body).digest()


def test_round_trip_equals_float32_cast_of_input() -> None:
    tensors = _sample()
    out = decode_tensors(encode_tensors(tensors))
    assert list(out) == list(tensors)
    for name, ref in tensors.items():
        expected = np.asarray(ref, dtype=np.float64).astype(np.float32)
        assert out[name].dtype == np.float32 and out[name].shape == expected.shape
        np.testing.assert_array_equal(out[name], expected)
        assert out[name].flags.writeable


def test_layout_parsed_independently() -> None:
    arr = np.arange(6, dtype=np.float64).reshape(2, 3) / 7.0
    blob = encode_tensors({"a": arr, "b": -arr[:1]})
    magic, version, hlen = struct.unpack_from("<4sBI", blob)
    assert (magic, version) == (b"SCLC", 1)
    header = json.loads(blob[9:9 + hlen])
    payload = blob[9 + hlen:-32]
    assert hashlib.sha256(blob[:-32]).digest() == blob[-32:]
    (ea, eb) = header["tensors"]
    assert (ea["name"], ea["shape"], ea["dtype"], ea["offset"]) == ("a", [2, 3], "<f4", 0)
    assert payload[:24] == arr.astype("<f4").tobytes()
    assert payload[eb["offset"]:] == (-arr[:1]).astype("<f4").tobytes()


def test_every_single_byte_flip_is_detected() -> None:
    blob = encode_tensors({"x": np.linspace(-1, 1, 6).reshape(2, 3)})
    for i in range(len(blob)):
        bad = bytearray(blob)
        bad[i] ^= 0x01
        with pytest.raises(ConditioningDecodeError):
            decode_tensors(bytes(bad))


def test_truncation_and_trailing_bytes_are_detected() -> None:
    blob = encode_tensors({"x": np.ones((3, 2))})
    for n in range(len(blob)):
        with pytest.raises(ConditioningDecodeError):
            decode_tensors(blob[:n])
    with pytest.raises(ConditioningDecodeError):
        decode_tensors(blob + b"\0")


@pytest.mark.parametrize("blob", [
    b"", b"garbage" * 10, pickle.dumps({"x": np.ones(3)}), "not bytes",
])
def test_foreign_values_are_rejected(blob: object) -> None:
    with pytest.raises(ConditioningDecodeError):
        decode_tensors(blob)  # type: ignore[arg-type]


@pytest.mark.parametrize("header,payload,what", [
    ({"tensors": [{"name": "x", "shape": [2], "dtype": "<f8", "offset": 0, "nbytes": 16}]},
     np.ones(2).tobytes(), "dtype"),
    ({"tensors": [{"name": "x", "shape": [2], "dtype": "<f4", "offset": 0, "nbytes": 8}]},
     np.array([1, np.nan], "<f4").tobytes(), "NaN"),
    ({"tensors": [{"name": "x", "shape": [3], "dtype": "<f4", "offset": 0, "nbytes": 12}]},
     np.ones(2, "<f4").tobytes(), "past the end"),
    ({"tensors": [{"name": "x", "shape": [1], "dtype": "<f4", "offset": 0, "nbytes": 4}]},
     np.ones(2, "<f4").tobytes(), "trailing"),
    ({"tensors": [{"name": "x", "shape": [1], "dtype": "<f4", "offset": 0, "nbytes": 4}] * 2},
     np.ones(2, "<f4").tobytes(), "duplicate"),
    ({"tensors": [{"name": "x", "shape": [-1], "dtype": "<f4", "offset": 0, "nbytes": 4}]},
     np.ones(1, "<f4").tobytes(), "shape"),
    ({"tensors": []}, b"", "structure"),
    ({"tensors": [], "extra": 1}, b"", "structure"),
])
def test_well_sealed_but_invalid_headers_are_rejected(header: dict, payload: bytes, what: str) -> None:
    with pytest.raises(ConditioningDecodeError, match=what):
        decode_tensors(_seal(header, payload))


@pytest.mark.parametrize("tensors,what", [
    ({}, "non-empty"),
    ({"x": np.array([1.0, np.inf])}, "NaN or Inf"),
    ({"x": np.array([1e39])}, "NaN or Inf"),
    ({"x": np.array(["a"])}, "non-numeric"),
    ({"": np.ones(1)}, "names"),
])
def test_encode_refuses_bad_tensors(tensors: dict, what: str) -> None:
    with pytest.raises(ValueError, match=what):
        encode_tensors(tensors)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 4)), min_size=1, max_size=4), st.integers(0, 2**32 - 1))
def test_round_trip_property(shapes: list[tuple[int, int]], seed: int) -> None:
    rng = np.random.default_rng(seed)
    tensors = {f"t{i}": rng.normal(scale=100, size=s) for i, s in enumerate(shapes)}
    out = decode_tensors(encode_tensors(tensors))
    assert list(out) == list(tensors)
    for name, ref in tensors.items():
        np.testing.assert_array_equal(out[name], ref.astype(np.float32))
