"""PKU-MMD readers: the real sample, absent bodies, label files and format errors."""

import numpy as np
import pytest

from model.pkummd import (
    Instance,
    PkuMmdFormatError,
    format_labels,
    parse_labels,
    parse_skeleton_text,
    read_pkummd_skeleton,
)

pytestmark = pytest.mark.unit


def test_real_sample(shared_data):
    path = shared_data / "skeletons" / "pkummd_raw" / "A10N08-L.txt"
    joints = read_pkummd_skeleton(path)
    assert joints.shape == (2, 1040, 25, 3) and joints.dtype == np.float32
    # first line: body 0 joint 0 is -0.304560 0.212575 2.728912 (read from the file by eye)
    np.testing.assert_allclose(joints[0, 0, 0], [-0.304560, 0.212575, 2.728912], rtol=1e-6)
    np.testing.assert_allclose(joints[0, -1, 0], [-0.163397, -0.578468, 2.421849], rtol=1e-6)


def test_absent_body_dropped_and_layout():
    frame = np.zeros(150)
    frame[:75] = np.arange(75) / 100.0  # body 0 only: joint v, axis c = (3v + c) / 100
    joints = parse_skeleton_text("\n".join(" ".join(map(str, frame)) for _ in range(3)))
    assert joints.shape == (1, 3, 25, 3)
    assert joints[0, 2, 4, 1] == pytest.approx(13 / 100.0)


def test_format_errors_name_the_line():
    with pytest.raises(PkuMmdFormatError, match=":2: expected 150 numbers"):
        parse_skeleton_text(" ".join(["1"] * 150) + "\n1 2 3\n", "f.txt")
    with pytest.raises(PkuMmdFormatError, match="all zeros"):
        parse_skeleton_text(" ".join(["0"] * 150))
    with pytest.raises(PkuMmdFormatError, match="more than 2 frames"):
        parse_skeleton_text("\n".join([" ".join(["1"] * 150)] * 3), max_frames=2)
    with pytest.raises(PkuMmdFormatError, match=":1:"):
        parse_skeleton_text(" ".join(["x"] * 150))


def test_labels_roundtrip():
    text = "3,10,50,1\n\n7,60,90,2\n"
    got = parse_labels(text)
    assert got == [Instance(3, 10, 50, 1.0), Instance(7, 60, 90, 2.0)]
    assert parse_labels(format_labels(got)) == got
    with pytest.raises(PkuMmdFormatError, match="end 5 before start 9"):
        parse_labels("1,9,5,1")
