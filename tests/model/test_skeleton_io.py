"""The `.skeleton` reader on the five real NTU clips and on malformed files derived from one of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.skeleton_io import NtuSampleName, SkeletonFormatError, parse_sample_name, read_skeleton

pytestmark = pytest.mark.unit

# frames and bodies from ../shared/data/skeletons/README.md (its table), not from our reader
README_FACTS = {
    "S001C001P001R001A011.skeleton": (82, 1),
    "S001C003P008R002A058.skeleton": (70, 2),
    "S002C001P003R001A003.skeleton": (100, 1),
    "S003C001P015R001A034.skeleton": (71, 1),
    "S004C002P003R001A017.skeleton": (124, 1),
}
CLIP = "S001C001P001R001A011.skeleton"


@pytest.fixture(scope="module")
def raw_dir(shared_data: Path) -> Path:
    return shared_data / "skeletons" / "ntu60_raw"


def raw_lines(path: Path) -> list[str]:
    """The file's lines without terminators, split independently of the reader."""
    return path.read_bytes().decode("ascii").split("\r\n")[:-1]


@pytest.mark.parametrize("name", sorted(README_FACTS))
def test_real_clips_match_readme(raw_dir: Path, name: str) -> None:
    frames, bodies = README_FACTS[name]
    seq = read_skeleton(raw_dir / name)
    assert seq.joints.shape == (bodies, frames, 25, 3)
    assert seq.joints.dtype == np.float32
    assert seq.num_frames == frames
    assert seq.body_counts.tolist() == [bodies] * frames
    lines = raw_lines(raw_dir / name)
    assert len(lines) == 1 + frames * (1 + bodies * 27)
    assert sum(len(line.split()) == 12 for line in lines) == frames * bodies * 25
    assert sum(len(line.split()) == 10 for line in lines) == frames * bodies
    assert seq.path == str(raw_dir / name)


def test_values_come_from_the_right_lines(raw_dir: Path) -> None:
    """Body 1 of frame 2 in the two-person clip, joint 7: located by the line layout of SPEC §4."""
    path = raw_dir / "S001C003P008R002A058.skeleton"
    lines = raw_lines(path)
    # line 1: frames; frame block = 1 count line + 2 bodies x (body line + joint count + 25 joints)
    start = 1 + 1 * (1 + 2 * 27)  # 0-based start of frame index 1
    joint_line = start + 1 + 27 + 2 + 7  # skip the body count, body 0, body 1's two header lines
    expected = [float(v) for v in lines[joint_line].split()[:3]]
    seq = read_skeleton(path)
    np.testing.assert_array_equal(seq.joints[1, 1, 7], np.float32(expected))


def test_lf_and_crlf_give_the_same_arrays(raw_dir: Path, tmp_path: Path) -> None:
    lf = tmp_path / CLIP
    lf.write_bytes((raw_dir / CLIP).read_bytes().replace(b"\r\n", b"\n"))
    np.testing.assert_array_equal(read_skeleton(lf).joints, read_skeleton(raw_dir / CLIP).joints)


def test_max_bodies_keeps_the_first_listed(raw_dir: Path) -> None:
    path = raw_dir / "S001C003P008R002A058.skeleton"
    both, first = read_skeleton(path), read_skeleton(path, max_bodies=1)
    assert first.joints.shape[0] == 1
    np.testing.assert_array_equal(first.joints[0], both.joints[0])
    assert not np.array_equal(both.joints[0], both.joints[1])


def write_variant(tmp_path: Path, lines: list[str], name: str = CLIP) -> Path:
    path = tmp_path / name
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("ascii"))
    return path


def expect_error(path: Path, line: int, words: str) -> None:
    with pytest.raises(SkeletonFormatError) as info:
        read_skeleton(path)
    err = info.value
    assert err.line == line
    assert err.path == str(path)
    assert str(err).startswith(f"{path}:{line}: ")
    assert CLIP in str(err)
    assert words in str(err)


def test_truncated_file(raw_dir: Path, tmp_path: Path) -> None:
    lines = raw_lines(raw_dir / CLIP)
    path = write_variant(tmp_path, lines[:1000])
    expect_error(path, 1001, "truncated")


def test_empty_file_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / CLIP
    path.write_bytes(b"")
    expect_error(path, 1, "truncated")


def test_joint_line_with_wrong_field_count(raw_dir: Path, tmp_path: Path) -> None:
    lines = raw_lines(raw_dir / CLIP)
    lines[40] = " ".join(lines[40].split()[:11])  # 1-based line 41 is a joint line of frame 2
    assert len(raw_lines(raw_dir / CLIP)[40].split()) == 12
    expect_error(write_variant(tmp_path, lines), 41, "expected 12, got 11")


def test_body_line_with_wrong_field_count(raw_dir: Path, tmp_path: Path) -> None:
    lines = raw_lines(raw_dir / CLIP)
    assert len(lines[30].split()) == 10  # frame 2's body line: 1 + 28 + 1 (0-based 30)
    lines[30] += " 7"
    expect_error(write_variant(tmp_path, lines), 31, "expected 10, got 11")


def test_joint_count_24(raw_dir: Path, tmp_path: Path) -> None:
    lines = raw_lines(raw_dir / CLIP)
    assert lines[31] == "25"
    lines[31] = "24"
    del lines[32]
    expect_error(write_variant(tmp_path, lines), 32, "joint count must be 25, got 24")


def test_non_numeric_value(raw_dir: Path, tmp_path: Path) -> None:
    lines = raw_lines(raw_dir / CLIP)
    fields = lines[99].split()
    assert len(fields) == 12
    fields[1] = "0.3x5"
    lines[99] = " ".join(fields)
    expect_error(write_variant(tmp_path, lines), 100, "non-numeric value '0.3x5'")


@pytest.mark.parametrize("bad", ["nan", "inf"])
def test_non_finite_value(raw_dir: Path, tmp_path: Path, bad: str) -> None:
    lines = raw_lines(raw_dir / CLIP)
    lines[5] = " ".join([bad] + lines[5].split()[1:])
    expect_error(write_variant(tmp_path, lines), 6, "non-numeric")


def test_non_numeric_frame_count(raw_dir: Path, tmp_path: Path) -> None:
    lines = raw_lines(raw_dir / CLIP)
    lines[0] = "eighty"
    expect_error(write_variant(tmp_path, lines), 1, "non-numeric")


def test_trailing_garbage(raw_dir: Path, tmp_path: Path) -> None:
    lines = raw_lines(raw_dir / CLIP)
    n = len(lines)
    expect_error(write_variant(tmp_path, lines + ["", "1"]), n + 2, "trailing garbage")


def test_trailing_blank_lines_are_fine(raw_dir: Path, tmp_path: Path) -> None:
    lines = raw_lines(raw_dir / CLIP)
    seq = read_skeleton(write_variant(tmp_path, lines + ["", "  "]))
    np.testing.assert_array_equal(seq.joints, read_skeleton(raw_dir / CLIP).joints)


def test_error_is_a_value_error(tmp_path: Path) -> None:
    path = tmp_path / "x.skeleton"
    path.write_text("2\n0\n")
    with pytest.raises(ValueError, match=r"x\.skeleton:3: truncated"):
        read_skeleton(path)


def test_parse_sample_name() -> None:
    parsed = parse_sample_name("S001C003P008R002A058.skeleton")
    assert parsed == NtuSampleName(setup=1, camera=3, performer=8, replication=2, action=58)
    assert parsed.label == 57
    assert parse_sample_name(Path("/x/y/S017C002P020R001A120.skeleton")).label == 119
    assert parse_sample_name("S002C001P003R001A003").action == 3


@pytest.mark.parametrize("bad", ["A011.skeleton", "S001C001P001R001A01.skeleton", "S001C001P001R001A000",
                                 "xS001C001P001R001A011.skeleton"])
def test_parse_sample_name_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="NTU"):
        parse_sample_name(bad)
