"""Readers for per-class motion descriptions (SA-DVAE CSV / one-line-per-class, PURLS part TSV, project JSON/TSV).

The project ships none of these texts: each reader reads the user's own copy. Every reader returns a mapping
class index (0-based, index i = NTU action A{i+1}) -> list of non-empty texts, one entry per class.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Literal

DescriptionFormat = Literal["auto", "sa-dvae-csv", "lines", "purls-tsv", "json", "tsv"]
FORMATS: tuple[str, ...] = ("auto", "sa-dvae-csv", "lines", "purls-tsv", "json", "tsv")
PURLS_HEADER = ("index0", "Action Labels", "Head", "Hands", "Torso", "Legs", "Start", "Middle", "End", "Global Desc")
PURLS_TEXT_COLUMNS: tuple[str, ...] = PURLS_HEADER[2:]  # the eight GPT-3 descriptions; the label column is not one


class DescriptionFormatError(ValueError):
    """A description file that cannot be used; the message starts with `<path>:<line>:` (line 0 = whole file)."""

    def __init__(self, path: str | Path, line: int, what: str) -> None:
        super().__init__(f"{path}:{line}: {what}")
        self.path, self.line = str(path), line


def _decode(path: Path) -> str:
    """The file as UTF-8 text (a BOM is dropped, CRLF becomes LF); undecodable bytes name their line."""
    if not path.is_file():
        raise DescriptionFormatError(path, 0, "description file not found")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DescriptionFormatError(path, line, f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
                                                 "save the file as UTF-8") from exc
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _clean(path: Path, line: int, text: str, what: str) -> str:
    """`text` stripped; an empty text is an error naming the file and line."""
    text = text.strip()
    if not text:
        raise DescriptionFormatError(path, line, f"empty {what}")
    return text


def read_sa_dvae_csv(path: Path) -> dict[int, list[str]]:
    """SA-DVAE `class_lists/ntu*.csv`: header `idx,label`, idx 1-based and consecutive, label = a description."""
    rows = list(csv.reader(io.StringIO(_decode(path))))
    if not rows or [c.strip() for c in rows[0]] != ["idx", "label"]:
        raise DescriptionFormatError(path, 1, f"expected the header 'idx,label', got {','.join(rows[0]) if rows else ''!r}")
    out: dict[int, list[str]] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != 2:
            raise DescriptionFormatError(path, line, f"expected 2 fields (idx,label), got {len(row)}")
        try:
            idx = int(row[0])
        except ValueError:
            raise DescriptionFormatError(path, line, f"idx {row[0]!r} is not an integer") from None
        if idx != len(out) + 1:
            raise DescriptionFormatError(path, line, f"idx {idx} out of order: expected {len(out) + 1} (1-based)")
        out[idx - 1] = [_clean(path, line, row[1], "description")]
    return out


def read_lines(path: Path) -> dict[int, list[str]]:
    """One description per line in class order (SA-DVAE `ntu*_llm.txt`, SMIE `ntu*_des.txt`); no blank lines."""
    lines = _decode(path).split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it does not start an empty one
    return {i: [_clean(path, i + 1, text, "description")] for i, text in enumerate(lines)}


def read_purls_tsv(path: Path, columns: tuple[str, ...] = PURLS_TEXT_COLUMNS) -> dict[int, list[str]]:
    """PURLS' GPT-3 part/phase descriptions: one row per class, one text per chosen column (in `columns` order)."""
    lines = _decode(path).split("\n")
    header = tuple(lines[0].split("\t")) if lines else ()
    if header != PURLS_HEADER:
        raise DescriptionFormatError(path, 1, f"expected the header {'<TAB>'.join(PURLS_HEADER)!r}")
    unknown = [c for c in columns if c not in PURLS_TEXT_COLUMNS]
    if unknown or not columns:
        raise DescriptionFormatError(path, 1, f"columns {unknown or '[]'} are not description columns; "
                                              f"choose among {list(PURLS_TEXT_COLUMNS)}")
    picks = [PURLS_HEADER.index(c) for c in columns]
    out: dict[int, list[str]] = {}
    for line, row in enumerate(lines[1:], start=2):
        if not row.strip():
            continue
        fields = row.split("\t")
        if len(fields) != len(PURLS_HEADER):
            raise DescriptionFormatError(path, line, f"expected {len(PURLS_HEADER)} tab-separated fields, got {len(fields)}")
        if fields[0].strip() != str(len(out)):
            raise DescriptionFormatError(path, line, f"index0 {fields[0]!r} out of order: expected {len(out)}")
        out[len(out)] = [_clean(path, line, fields[i], f"{PURLS_HEADER[i]!r} description") for i in picks]
    return out


def read_json_mapping(path: Path) -> dict[int, list[str]]:
    """Project format: a JSON object `{"<class index>": ["text", ...] or "text", ...}` (0-based indices)."""
    try:
        data = json.loads(_decode(path))
    except json.JSONDecodeError as exc:
        raise DescriptionFormatError(path, exc.lineno, f"invalid JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise DescriptionFormatError(path, 1, "expected a JSON object mapping class index to a list of texts")
    out: dict[int, list[str]] = {}
    for key, value in data.items():
        if not key.isdigit():
            raise DescriptionFormatError(path, 0, f"key {key!r} is not a 0-based class index")
        texts = [value] if isinstance(value, str) else value
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise DescriptionFormatError(path, 0, f"class {key}: expected a text or a non-empty list of texts")
        out[int(key)] = [_clean(path, 0, t, f"text of class {key}") for t in texts]
    return out


def read_tsv_mapping(path: Path) -> dict[int, list[str]]:
    """Project format: `<class index><TAB><text>` per line, any number of lines per class; `#` starts a comment."""
    out: dict[int, list[str]] = {}
    for line, row in enumerate(_decode(path).split("\n"), start=1):
        if not row.strip() or row.lstrip().startswith("#"):
            continue
        key, sep, text = row.partition("\t")
        if not sep or not key.strip().isdigit():
            raise DescriptionFormatError(path, line, "expected '<class index><TAB><text>'")
        out.setdefault(int(key), []).append(_clean(path, line, text, "text"))
    return out


def detect_format(path: Path) -> str:
    """The format `auto` picks: by suffix, and for .tsv by the PURLS header."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "sa-dvae-csv"
    if suffix == ".txt":
        return "lines"
    if suffix == ".json":
        return "json"
    if suffix == ".tsv":
        first = _decode(path).split("\n", 1)[0]
        return "purls-tsv" if first.startswith("index0\tAction Labels") else "tsv"
    raise DescriptionFormatError(path, 0, f"cannot tell the format from the suffix {suffix!r}; "
                                          f"set the format to one of {list(FORMATS[1:])}")


def read_descriptions(
    path: str | Path, num_classes: int, fmt: str = "auto", columns: tuple[str, ...] = PURLS_TEXT_COLUMNS,
) -> dict[int, list[str]]:
    """Class index -> texts for classes 0..num_classes-1, validated against the dataset's class count.

    A 120-class file may describe NTU-60 (its first 60 classes are NTU-60's, as TDSM reads SA-DVAE's
    ntu120.csv); any other count mismatch, a class without text or an index out of range is an error.
    """
    path = Path(path)
    if fmt not in FORMATS:
        raise DescriptionFormatError(path, 0, f"unknown description format {fmt!r}; expected one of {list(FORMATS)}")
    fmt = detect_format(path) if fmt == "auto" else fmt
    readers = {"sa-dvae-csv": read_sa_dvae_csv, "lines": read_lines, "json": read_json_mapping,
               "tsv": read_tsv_mapping, "purls-tsv": lambda p: read_purls_tsv(p, columns)}
    found = readers[fmt](path)
    if not found:
        raise DescriptionFormatError(path, 0, "no descriptions in the file")
    if fmt in ("json", "tsv"):  # sparse formats: indices must be in range and cover every class
        out_of_range = sorted(k for k in found if k >= num_classes)
        if out_of_range:
            raise DescriptionFormatError(path, 0, f"class indices {out_of_range[:10]} are outside 0..{num_classes - 1}")
        missing = sorted(set(range(num_classes)) - set(found))
        if missing:
            raise DescriptionFormatError(path, 0, f"{len(missing)} classes have no text: {missing[:10]}")
    elif len(found) != num_classes and not (num_classes == 60 and len(found) == 120):
        raise DescriptionFormatError(path, 0, f"{len(found)} classes described, but the dataset has {num_classes}")
    return {k: found[k] for k in range(num_classes)}
