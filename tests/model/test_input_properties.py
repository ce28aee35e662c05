"""Property tests of the offline input paths: the .skeleton reader and the preprocessing (issue 9).

For any input: a finite result of the documented shape, or the documented error; never another exception,
never NaN/Inf, never a huge allocation driven by a count the file cannot back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from model.config import PreprocessConfig
from model.preprocess import SkeletonShapeError, preprocess_batch, preprocess_sequence, to_encoder_input
from model.skeleton_io import SkeletonFormatError, read_skeleton

pytestmark = pytest.mark.unit
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                          HealthCheck.too_slow])
coords = st.floats(-1e6, 1e6, allow_nan=False, width=32)


def skeleton_text(frames: list[list[list[list[float]]]]) -> str:
    """NTU .skeleton text: frame count, then per frame a body count, per body a 10-field line, 25, 25 joints."""
    lines = [str(len(frames))]
    for bodies in frames:
        lines.append(str(len(bodies)))
        for body in bodies:
            lines += ["72057594037931101 0 1 1 1 1 0 0.02 0.3 2", "25"]
            lines += [" ".join(f"{v:.6g}" for v in joint) + " 0 0 0 0 0 0 0 0 2" for joint in body]
    return "\r\n".join(lines) + "\r\n"


joint_values = st.lists(coords, min_size=3, max_size=3)
body = st.lists(joint_values, min_size=25, max_size=25)
frames_strategy = st.lists(st.lists(body, min_size=0, max_size=3), min_size=0, max_size=4)


def mutate(text: str, data: st.DataObject) -> str:
    """Damage a valid file: truncate, swap one token for garbage, insert a line, or change a count."""
    lines = text.split("\r\n")
    i = data.draw(st.integers(0, len(lines) - 1))
    how = data.draw(st.sampled_from(["truncate", "token", "insert", "count", "bytes"]))
    if how == "truncate":
        return "\r\n".join(lines[:i])
    if how == "token":
        junk = data.draw(st.sampled_from(["nan", "inf", "-1e999", "1e39", "x", "", "1_0", "9" * 5000, "\x00",
                                          "-3", "99999999999999999999", "1e38"]))
        fields = lines[i].split(" ")
        fields[data.draw(st.integers(0, len(fields) - 1))] = junk
        lines[i] = " ".join(fields)
    elif how == "insert":
        lines.insert(i, data.draw(st.text(max_size=30)))
    elif how == "count":
        lines[i] = str(data.draw(st.integers(-5, 10**15)))
    else:
        return text[:i] + data.draw(st.text(max_size=20)) + text[i:]
    return "\r\n".join(lines)


def check_read(path: Path) -> None:
    try:
        seq = read_skeleton(path)
    except SkeletonFormatError as exc:
        assert str(path) in str(exc) and exc.line >= 0
        return
    m, t, v, c = seq.joints.shape
    assert (v, c) == (25, 3) and 1 <= m <= 4 and seq.body_counts.shape == (t,)
    assert seq.joints.dtype == np.float32 and np.isfinite(seq.joints).all()


@PROPS
@given(frames=frames_strategy)
def test_valid_skeleton_files_round_trip(tmp_path: Path, frames) -> None:
    path = tmp_path / "S001C001P001R001A001.skeleton"
    path.write_text(skeleton_text(frames), encoding="latin-1", newline="")
    seq = read_skeleton(path)
    assert seq.joints.shape[1] == len(frames) and seq.body_counts.tolist() == [len(b) for b in frames]
    for t, bodies in enumerate(frames):
        for m, joints in enumerate(bodies):
            want = np.array([[float(f"{v:.6g}") for v in joint] for joint in joints], np.float32)
            np.testing.assert_array_equal(seq.joints[m, t], want)


@PROPS
@given(frames=frames_strategy, data=st.data())
def test_damaged_skeleton_files_give_the_documented_error(tmp_path: Path, frames, data) -> None:
    path = tmp_path / "damaged.skeleton"
    path.write_text(mutate(skeleton_text(frames), data), encoding="latin-1", errors="replace", newline="")
    check_read(path)


@PROPS
@given(blob=st.binary(max_size=400))
def test_arbitrary_bytes_give_the_documented_error(tmp_path: Path, blob: bytes) -> None:
    path = tmp_path / "noise.skeleton"
    path.write_bytes(blob)
    check_read(path)


@pytest.mark.parametrize("count", ["100000000000", "4000000000000000000"])
def test_a_huge_frame_count_is_an_error_not_an_allocation(tmp_path: Path, count: str) -> None:
    path = tmp_path / "huge.skeleton"
    path.write_text(f"{count}\n0\n")
    with pytest.raises(SkeletonFormatError, match="frame count"):
        read_skeleton(path)


def test_a_value_beyond_float32_is_an_error_not_inf(tmp_path: Path) -> None:
    text = skeleton_text([[[[0.1, 0.2, 0.3]] * 25]]).replace("0.1 0.2 0.3", "1e39 0.2 0.3", 1)
    path = tmp_path / "big.skeleton"
    path.write_text(text, newline="")
    with pytest.raises(SkeletonFormatError, match="float32"):
        read_skeleton(path)


sequences = st.one_of(
    arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(1, 40), st.just(25), st.just(3)), elements=coords),
    arrays(np.float32, st.tuples(st.integers(1, 40), st.just(25), st.just(3)), elements=coords),
)


@PROPS
@given(seq=sequences, num_frames=st.integers(1, 12).map(lambda k: 4 * k))
def test_preprocessing_is_finite_with_the_documented_shape(seq: np.ndarray, num_frames: int) -> None:
    cfg = PreprocessConfig(num_frames=num_frames)
    out = preprocess_sequence(seq, cfg)
    assert out.shape == (2, num_frames, 25, 3) and out.dtype == np.float32 and np.isfinite(out).all()
    x = to_encoder_input(out[None])
    assert x.shape == (1, 3, num_frames, 25, 2) and np.isfinite(x).all()


bad_arrays = st.one_of(
    arrays(np.float64, st.lists(st.integers(0, 6), min_size=0, max_size=5).map(tuple),
           elements=st.floats(allow_nan=True, allow_infinity=True, width=64)),
    st.lists(st.lists(st.floats(), max_size=3), max_size=3),
    st.text(max_size=5), st.none(),
)


@PROPS
@given(value=bad_arrays)
def test_preprocessing_arbitrary_input_is_finite_or_shape_error(value) -> None:
    try:
        out = preprocess_batch([value], PreprocessConfig(num_frames=8))
    except SkeletonShapeError:
        return
    assert out.shape == (1, 2, 8, 25, 3) and np.isfinite(out).all()
