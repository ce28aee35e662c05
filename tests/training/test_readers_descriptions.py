"""Description readers on the real files in ../shared/data/zsar/descriptions, and their errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.readers.descriptions import (
    PURLS_TEXT_COLUMNS,
    DescriptionFormatError,
    detect_format,
    read_descriptions,
)

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def desc(shared_data: Path) -> Path:
    return shared_data / "zsar" / "descriptions"


def test_sa_dvae_csv_ntu60_and_ntu120(desc):
    d60 = read_descriptions(desc / "sa-dvae" / "ntu60.csv", 60)
    d120 = read_descriptions(desc / "sa-dvae" / "ntu120.csv", 120)
    assert len(d60) == 60 and len(d120) == 120 and all(len(v) == 1 for v in d120.values())
    assert d60[0] == ["fist and move the hand up to the head then look up"]  # A1 drink water
    # rows that differ between the two files, found with diff(1) (the data README names only 6, 26 and 27)
    assert d60[25] == ["keep one foot up and spring then fall down"]
    assert d120[25] == ["keep one foot up and spring then spring quickly off the ground"]
    assert d120[119][0].startswith("both of the two people face to each other")
    assert [k + 1 for k in range(60) if d60[k] != d120[k]] == [6, 26, 27, 35, 48, 56]


def test_ntu120_file_describes_ntu60_with_its_first_60_rows(desc):
    d = read_descriptions(desc / "sa-dvae" / "ntu120.csv", 60)
    assert list(d) == list(range(60)) and d[25] == ["keep one foot up and spring then spring quickly off the ground"]


def test_llm_lines_keep_unicode_quotes(desc):
    d60 = read_descriptions(desc / "sa-dvae" / "ntu60_llm.txt", 60)
    d120 = read_descriptions(desc / "sa-dvae" / "ntu120_llm.txt", 120)  # no final newline: still 120
    assert len(d120) == 120 and d60[0][0].startswith('"Drink water" refers to')
    assert d60[5][0].startswith("\u201cPickup\u201d involves lifting")
    assert d60[59][0].startswith('"Walking apart from each other"')
    assert d120[119][0].endswith("(rock, paper, or scissors).")


def test_purls_tsv_gives_eight_part_and_phase_texts(desc):
    path = desc / "purls" / "ntu120_gpt3_part_desc.tsv"
    assert detect_format(path) == "purls-tsv"
    d = read_descriptions(path, 120)
    assert len(d) == 120 and all(len(v) == 8 for v in d.values())
    assert d[0][0] == "tilt back to drink" and d[0][1] == "grasp the bottle or cup, lift it up to mouth."
    assert d[0][4:7] == ["Pick up the glass.", "Bring it to their lips.", "Take a sip."]
    assert d[119][1] == "Make a rock, paper, or scissors hand gesture."
    only = read_descriptions(path, 60, columns=("Global Desc",))
    assert len(only) == 60 and only[0] == ["pick up the glass, bring it to their lips, and take a sip."]
    assert PURLS_TEXT_COLUMNS[-1] == "Global Desc"


def test_project_json_and_tsv(tmp_path):
    j = tmp_path / "d.json"
    j.write_text(json.dumps({"0": ["a", " b "], "1": "c"}), encoding="utf-8")
    assert read_descriptions(j, 2) == {0: ["a", "b"], 1: ["c"]}
    t = tmp_path / "d.tsv"
    t.write_text("# comment\n1\tthird\n0\tfirst\r\n0\tsecond\n", encoding="utf-8")
    assert read_descriptions(t, 2) == {0: ["first", "second"], 1: ["third"]}


@pytest.mark.parametrize(("name", "body", "fmt", "line", "what"), [
    ("x.csv", "idx,label\n1,a\n2,\n", "auto", 3, "empty description"),
    ("x.csv", "idx,label\n1,a\n3,b\n", "auto", 3, "out of order"),
    ("x.csv", "id,text\n1,a\n", "auto", 1, "header"),
    ("x.txt", "a\n\nb\n", "auto", 2, "empty description"),
    ("x.tsv", "0\tok\n1 missing tab\n", "tsv", 2, "<class index><TAB><text>"),
    ("x.tsv", "0\tok\n5\tfar\n", "tsv", 0, "outside 0..1"),
    ("x.tsv", "0\tok\n", "tsv", 0, r"classes have no text: \[1\]"),
    ("x.json", '{"0": ["a"],\n "1": }', "json", 2, "invalid JSON"),
    ("x.json", '{"0": [], "1": ["b"]}', "json", 0, "non-empty list"),
    ("x.txt", "a\nb\nc\n", "auto", 0, "3 classes described, but the dataset has 2"),
    ("x.md", "a\nb\n", "auto", 0, "cannot tell the format"),
    ("x.txt", "a\nb\n", "yaml", 0, "unknown description format"),
])
def test_bad_files_name_file_and_line(tmp_path, name, body, fmt, line, what):
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    with pytest.raises(DescriptionFormatError, match=what) as info:
        read_descriptions(path, 2, fmt)
    assert str(info.value).startswith(f"{path}:{line}:") and info.value.line == line


def test_non_utf8_bytes_name_their_line(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\u00e9 ok\n".encode("utf-8") + "na\u00efve\n".encode("latin-1"))
    with pytest.raises(DescriptionFormatError, match="not UTF-8") as info:
        read_descriptions(path, 2)
    assert info.value.line == 2


def test_missing_file_and_bad_purls_columns(tmp_path, desc):
    with pytest.raises(DescriptionFormatError, match="not found"):
        read_descriptions(tmp_path / "none.csv", 60)
    with pytest.raises(DescriptionFormatError, match="not description columns"):
        read_descriptions(desc / "purls" / "ntu120_gpt3_part_desc.tsv", 120, columns=("Action Labels",))
