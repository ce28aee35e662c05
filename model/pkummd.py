"""PKU-MMD files: skeleton text (150 floats a frame: 2 bodies x 25 NTU joints x xyz) and label lists."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.config import NUM_JOINTS

BODIES = 2
VALUES_PER_FRAME = BODIES * NUM_JOINTS * 3  # 150


class PkuMmdFormatError(ValueError):
    """A PKU-MMD file that does not follow the format; the message names the file and line."""


@dataclass(frozen=True)
class Instance:
    """One labelled action: 1-based PKU-MMD class label, frames [start, end] inclusive, confidence 1|2."""

    label: int
    start: int
    end: int
    confidence: float = 1.0


def parse_skeleton_text(text: str, name: str = "<text>", max_frames: int | None = None) -> np.ndarray:
    """PKU-MMD skeleton text -> (M,T,25,3) float32; bodies that are all zero in every frame are dropped."""
    rows = []
    for number, line in enumerate(io.StringIO(text), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != VALUES_PER_FRAME:
            raise PkuMmdFormatError(f"{name}:{number}: expected {VALUES_PER_FRAME} numbers (2 bodies x 25 "
                                    f"joints x xyz), got {len(parts)}")
        if max_frames is not None and len(rows) >= max_frames:
            raise PkuMmdFormatError(f"{name}: more than {max_frames} frames")
        try:
            rows.append([float(p) for p in parts])
        except ValueError as exc:
            raise PkuMmdFormatError(f"{name}:{number}: {exc}") from None
    if not rows:
        raise PkuMmdFormatError(f"{name}: no frames")
    arr = np.asarray(rows, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise PkuMmdFormatError(f"{name}: contains NaN or Inf")
    joints = arr.reshape(len(rows), BODIES, NUM_JOINTS, 3).transpose(1, 0, 2, 3)  # (M,T,V,C)
    present = np.abs(joints).reshape(BODIES, -1).max(axis=1) > 0
    if not present.any():
        raise PkuMmdFormatError(f"{name}: every body is all zeros")
    return joints[present].astype(np.float32)


def read_pkummd_skeleton(path: str | Path, max_frames: int | None = None) -> np.ndarray:
    """Read a PKU-MMD skeleton file as (M,T,25,3) float32 (M = bodies present somewhere, 1 or 2)."""
    path = Path(path)
    return parse_skeleton_text(path.read_text(encoding="ascii", errors="strict"), str(path), max_frames)


def parse_labels(text: str, name: str = "<labels>") -> list[Instance]:
    """`label,start,end[,confidence]` lines -> instances (blank lines skipped)."""
    out = []
    for number, line in enumerate(io.StringIO(text), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) not in (3, 4):
            raise PkuMmdFormatError(f"{name}:{number}: expected label,start,end[,confidence], got {line.strip()!r}")
        try:
            label, start, end = int(parts[0]), int(parts[1]), int(parts[2])
            conf = float(parts[3]) if len(parts) == 4 else 1.0
        except ValueError as exc:
            raise PkuMmdFormatError(f"{name}:{number}: {exc}") from None
        if end < start:
            raise PkuMmdFormatError(f"{name}:{number}: end {end} before start {start}")
        out.append(Instance(label, start, end, conf))
    return out


def read_labels(path: str | Path) -> list[Instance]:
    """Read a PKU-MMD label (or proposal) file."""
    path = Path(path)
    return parse_labels(path.read_text(encoding="utf-8"), str(path))


def format_labels(instances: list[Instance]) -> str:
    """Instances -> `label,start,end,confidence` lines (the format the official evaluator reads)."""
    return "".join(f"{i.label},{i.start},{i.end},{i.confidence:.6g}\n" for i in instances)
