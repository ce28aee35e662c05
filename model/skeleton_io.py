"""NTU RGB+D `.skeleton` text reader with strict validation, and the SsssCcccPpppRrrrAaaa name parser."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.config import NUM_JOINTS

BODY_FIELDS = 10  # bodyID clipedEdges handLeft{Confidence,State} handRight{Confidence,State} isRestricted leanX leanY trackingState
JOINT_FIELDS = 12  # x y z depthX depthY colorX colorY qW qX qY qZ trackingState
_NAME_RE = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})(?:\..*)?")


class SkeletonFormatError(ValueError):
    """A `.skeleton` file is malformed; the message is `"<path>:<line>: <what>"` with a 1-based line."""

    def __init__(self, path: str | os.PathLike, line: int, what: str) -> None:
        self.path = str(path)
        self.line = line
        self.what = what
        super().__init__(f"{self.path}:{line}: {what}")


@dataclass(frozen=True)
class SkeletonSequence:
    """A parsed clip: `joints` (M_slots, T, 25, 3) float32 in metres, `body_counts` (T,) bodies per frame."""

    joints: np.ndarray
    body_counts: np.ndarray
    path: str

    @property
    def num_frames(self) -> int:
        """Number of frames T."""
        return int(self.joints.shape[1])


@dataclass(frozen=True)
class NtuSampleName:
    """Fields of an NTU sample name; `action` is the 1-based NTU id, `label` the 0-based class index."""

    setup: int
    camera: int
    performer: int
    replication: int
    action: int

    @property
    def label(self) -> int:
        """0-based class index (action A{i+1} -> i)."""
        return self.action - 1


def parse_sample_name(name: str | os.PathLike) -> NtuSampleName:
    """Parse `S001C001P001R001A011[.skeleton]` (a bare name or a path) into its five numbers."""
    base = Path(name).name
    match = _NAME_RE.fullmatch(base)
    if match is None:
        raise ValueError(f"not an NTU sample name (expected SsssCcccPpppRrrrAaaa): {base!r}")
    setup, camera, performer, replication, action = (int(g) for g in match.groups())
    if action < 1:
        raise ValueError(f"NTU action ids start at A001, got A{action:03d} in {base!r}")
    return NtuSampleName(setup, camera, performer, replication, action)


_FLOAT32_MAX = float(np.finfo(np.float32).max)


class _Lines:
    """Cursor over the file's lines that reports errors with the file name and 1-based line number."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        # split on "\n" only: str.splitlines would also split on \x0b, \x1c, \x85 and shift line numbers
        self.lines = [line.rstrip("\r") for line in text.split("\n")]
        if self.lines and self.lines[-1] == "":
            self.lines.pop()  # the final terminator does not start a line
        self.pos = 0  # 0-based index of the next line

    def error(self, what: str, line: int | None = None) -> SkeletonFormatError:
        """An error at `line` (default: the line just read)."""
        return SkeletonFormatError(self.path, self.pos if line is None else line, what)

    def fields(self, expected: str) -> list[str]:
        """Return the next line's whitespace-separated fields, or raise on end of file."""
        if self.pos >= len(self.lines):
            self.pos += 1
            raise self.error(f"truncated file: unexpected end of file, expected {expected}")
        self.pos += 1
        return self.lines[self.pos - 1].split()

    def count(self, expected: str) -> int:
        """Read a line holding exactly one non-negative integer."""
        fields = self.fields(expected)
        if len(fields) != 1:
            raise self.error(f"expected {expected} (1 field), got {len(fields)} fields")
        try:
            value = int(fields[0])
        except ValueError:
            raise self.error(f"non-numeric value {fields[0]!r}, expected {expected}") from None
        if value < 0:
            raise self.error(f"negative {expected}: {value}")
        return value

    def check_room(self, count: int, lines_each: int, what: str) -> None:
        """Refuse a count the whole file could never hold, before anything is allocated for it.

        A merely short file still gets the "truncated file" error at the line where it ends.
        """
        if count * lines_each > len(self.lines):
            raise self.error(f"{what} {count} needs at least {count * lines_each} lines; the whole file has "
                             f"{len(self.lines)}")

    def numbers(self, n_fields: int, what: str) -> list[float]:
        """Read a line of exactly `n_fields` finite numbers."""
        fields = self.fields(f"a {what} line")
        if len(fields) != n_fields:
            raise self.error(f"wrong field count in {what} line: expected {n_fields}, got {len(fields)}")
        values = []
        for field in fields:
            try:
                value = float(field)
            except ValueError:
                raise self.error(f"non-numeric value {field!r} in {what} line") from None
            if not math.isfinite(value) or "_" in field:
                raise self.error(f"non-numeric value {field!r} in {what} line")
            if abs(value) > _FLOAT32_MAX:  # would turn into inf in the float32 joints array
                raise self.error(f"value {field!r} in {what} line is beyond the float32 range")
            values.append(value)
        return values


def read_skeleton(path: str | os.PathLike, max_bodies: int = 4) -> SkeletonSequence:
    """Read a `.skeleton` file (CRLF or LF); slot m at frame t holds the m-th body listed in that frame."""
    if max_bodies < 1:
        raise ValueError(f"max_bodies must be >= 1, got {max_bodies}")
    path = str(path)
    with open(path, "rb") as fh:
        text = fh.read().decode("latin-1")  # never fails; bad bytes surface as non-numeric fields with a line
    cur = _Lines(path, text)
    num_frames = cur.count("the frame count")
    cur.check_room(num_frames, 1, "frame count")
    body_counts = np.zeros(num_frames, dtype=np.int64)
    frames: list[list[list[list[float]]]] = []
    for t in range(num_frames):
        n_bodies = cur.count(f"the body count of frame {t + 1}")
        cur.check_room(n_bodies, 2 + NUM_JOINTS, "body count")
        body_counts[t] = n_bodies
        bodies = []
        for _ in range(n_bodies):
            cur.numbers(BODY_FIELDS, "body")
            n_joints = cur.count("the joint count")
            if n_joints != NUM_JOINTS:
                raise cur.error(f"joint count must be {NUM_JOINTS}, got {n_joints}")
            bodies.append([cur.numbers(JOINT_FIELDS, "joint")[:3] for _ in range(NUM_JOINTS)])
        frames.append(bodies)
    for extra in range(cur.pos, len(cur.lines)):
        if cur.lines[extra].strip():
            raise cur.error(f"trailing garbage after the last frame: {cur.lines[extra][:40]!r}", extra + 1)
    slots = max(1, min(max_bodies, int(body_counts.max(initial=0))))
    joints = np.zeros((slots, num_frames, NUM_JOINTS, 3), dtype=np.float32)
    for t, bodies in enumerate(frames):
        for m, body in enumerate(bodies[:slots]):
            joints[m, t] = body
    return SkeletonSequence(joints=joints, body_counts=body_counts, path=path)
