"""Skeleton files and input options shared by every CLI command that reads skeletons (recognize, detect, stream).

Files: NTU `.skeleton`, `.npy` (never unpickled), PKU-MMD `.txt`, and the pose-estimator formats of
model/pose_files.py (`.json` pose files, OpenPose `--write_json` folders, Kinetics-skeleton JSON, pyskl /
mmaction2 `.pkl`). When a format implies its layout (OpenPose -> openpose25/openpose18, Kinetics ->
openpose18, a pyskl COCO file -> coco17) it is used unless `--layout` says otherwise.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.layouts import LAYOUTS

NTU_SUFFIXES = (".skeleton", ".npy", ".txt")
POSE_SUFFIXES = (".json", ".pkl", ".pickle")
FOLDER_SUFFIXES = (".skeleton", ".npy", *POSE_SUFFIXES)  # files listed from a folder (not PKU-MMD .txt)


@dataclass(frozen=True)
class InputSequence:
    """One sequence to send: a display name, the array, and the layout its file implies (or None)."""

    name: str
    array: Any
    layout: str | None


def layout_arguments(parser: argparse.ArgumentParser) -> None:
    """--layout, --units, --confidence-threshold and --mirror (the service's input options)."""
    parser.add_argument("--layout", default=None, choices=list(LAYOUTS), metavar="LAYOUT",
                        help=f"joint layout of the input: {', '.join(LAYOUTS)} (default: the file's own, else "
                        "ntu25; docs/skeletons.md)")
    parser.add_argument("--units", default=None, help="coordinate units: m (default), cm, mm for 3D; px for 2D")
    parser.add_argument("--confidence-threshold", type=float, default=None,
                        help="joints with a lower confidence count as missing (default 0.3)")
    parser.add_argument("--mirror", action="store_true",
                        help="the input is a mirror view (selfie camera, NTU's RGB videos): un-mirror it")


def layout_fields(args: argparse.Namespace, implied: str | None = None) -> dict[str, Any]:
    """The input options given on the command line (the file's layout when --layout is absent)."""
    given = {"layout": args.layout or implied, "units": getattr(args, "units", None),  # `watch` has no units
             "confidence_threshold": getattr(args, "confidence_threshold", None),
             "mirror": True if getattr(args, "mirror", False) else None}
    return {k: v for k, v in given.items() if v is not None}


def collect_inputs(path: Path) -> list[Path]:
    """The file itself, an OpenPose folder as one input, or every skeleton/pose file in a folder (by name)."""
    from model.pose_files import is_openpose_folder

    if path.is_dir():
        if is_openpose_folder(path):
            return [path]
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in FOLDER_SUFFIXES)
        if not files:
            raise ValueError(f"{path}: no .skeleton, .npy, .json or .pkl files in this folder (nor an OpenPose "
                             "--write_json folder)")
        return files
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    return [path]


def read_inputs(path: Path) -> list[InputSequence]:
    """Every sequence in one input (a file, a pickle with several annotations, an OpenPose folder)."""
    if path.is_dir() or path.suffix in POSE_SUFFIXES:
        from model.pose_files import read_pose_path

        return [InputSequence(s.name, s.array, s.layout) for s in read_pose_path(path)]
    if path.suffix in NTU_SUFFIXES:
        return [InputSequence(str(path), load_sequence(path), None)]
    raise ValueError(f"{path}: unsupported file type {path.suffix!r} (expected .skeleton, .npy, PKU-MMD .txt, "
                     ".json, .pkl or an OpenPose --write_json folder)")


def load_sequence(path: Path) -> Any:
    """Read one sequence: .npy (never pickled), NTU .skeleton or PKU-MMD .txt, as (M, T, 25, 3) float32."""
    import numpy as np

    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False).astype(np.float32, copy=False)
    if path.suffix == ".skeleton":
        from model.skeleton_io import read_skeleton

        return read_skeleton(path).joints
    if path.suffix == ".txt":
        from model.pkummd import read_pkummd_skeleton

        return read_pkummd_skeleton(path)
    raise ValueError(f"{path}: unsupported file type {path.suffix!r} (expected .skeleton, .npy or PKU-MMD .txt)")


def read_single(path: Path) -> InputSequence:
    """The one sequence of an input (detect, stream); ValueError when it holds several."""
    sequences = read_inputs(path)
    if len(sequences) != 1:
        raise ValueError(f"{path}: holds {len(sequences)} sequences; this command takes one")
    return sequences[0]
