"""The JSON body rules: nesting depth against a byte-by-byte reference, and orjson's fallback to the stdlib."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.inputs.payloads import load_json_body
from service.inputs.rules import MAX_JSON_DEPTH, json_depth
from service.problems import Problem

pytestmark = pytest.mark.unit


def _string_end(body: bytes, start: int) -> int | None:
    """Index of the quote closing the string opened at `start`, or None when it never closes."""
    i = start + 1
    while i < len(body):
        if body[i] == ord("\\"):
            i += 2
        elif body[i] == ord('"'):
            return i
        else:
            i += 1
    return None


def reference_depth(body: bytes) -> int:
    """Deepest [ / { nesting outside closed strings, one byte at a time (an unclosed quote is a plain byte)."""
    depth = deepest = 0
    i = 0
    while i < len(body):
        byte = body[i]
        if byte == ord('"'):
            end = _string_end(body, i)
            if end is not None:
                i = end + 1
                continue
        elif byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
        i += 1
    return deepest


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from([b"[", b"]", b"{", b"}", b'"', b"\\", b",", b":", b" ", b"\t", b"\n", b"0", b"7",
                                 b".", b"-", b"+", b"e", b"E", b"a", b"n", b"u", b"/", b"\\u005b", b'\\"'
                                 ]), max_size=60).map(b"".join))
def test_depth_equals_a_byte_by_byte_walk(body: bytes) -> None:
    assert json_depth(body) == reference_depth(body)


def test_depth_of_known_bodies() -> None:
    assert json_depth(b'{"skeleton": [[[[0.1, -2e-3], [1E+2, 3]]]]}') == 5
    assert json_depth(b'{"label": "a [[[ b", "x": ["\\"[[", 1]}') == 2  # brackets inside strings do not count
    assert json_depth(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1)) == MAX_JSON_DEPTH + 1
    assert json_depth(b"") == 0 and json_depth(b"12.5") == 0


def test_a_real_sized_skeleton_body_parses_to_the_same_numbers_as_the_stdlib() -> None:
    joints = np.random.default_rng(0).normal(size=(2, 82, 25, 3))
    body = json.dumps({"skeleton": joints.tolist()}).encode()
    got = np.asarray(load_json_body(body)["skeleton"])
    np.testing.assert_array_equal(got, np.asarray(json.loads(body)["skeleton"]))  # bit-identical doubles
    np.testing.assert_array_equal(got, joints)


@pytest.mark.parametrize(("body", "want"), [
    (b'{"skeleton": [[[NaN, 1, 2]]]}', "nan"),  # orjson refuses NaN literals: the stdlib reads them
    (b'{"s": "\\ud800"}', "\ud800"),  # a lone surrogate escape
    (json.dumps({"a": [1]}).encode("utf-16"), [1]),  # UTF-16 with a BOM
])
def test_what_orjson_refuses_is_decided_by_the_stdlib(body: bytes, want: object) -> None:
    data = load_json_body(body)
    got = next(iter(data.values()))
    if want == "nan":
        assert np.isnan(got[0][0][0])
    else:
        assert got == want


def test_integers_beyond_64_bits_are_read_as_the_nearest_double() -> None:
    # orjson's rule (the stdlib would keep a Python int); either way such a coordinate is out of range
    assert load_json_body(b'{"n": 123456789012345678901234567890}')["n"] == 1.2345678901234568e29


def test_malformed_json_is_still_bad_json() -> None:
    with pytest.raises(Problem) as info:
        load_json_body(b'{"skeleton": [1, 2')
    assert info.value.status == 422 and info.value.kind == "bad-json"
