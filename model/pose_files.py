"""Readers for pose-estimator files (CLI and offline tools only; the service never reads these formats).

| input | format | array | layout |
|---|---|---|---|
| folder of `*.json` with `people` | OpenPose `--write_json`: one file a frame, `people[].pose_keypoints_2d` = [u, v, c] * V | (M, T, V, 3) | `openpose25` (V = 25) or `openpose18` (V = 18) |
| `.json` with `people` | one OpenPose frame | (M, 1, V, 3) | as above |
| `.json` with `data` | Kinetics-skeleton (st-gcn): `data[].frame_index` (1-based), `data[].skeleton[].pose` = [u, v] * 18 (normalised), `.score` | (M, T, 18, 3) | `openpose18` |
| `.json` list, or `{"skeleton": ..., "layout": ...}` | nested (T, V, C) / (M, T, V, C) lists, as posted to /recognize | as given | the file's `layout`, else none |
| `.pkl` / `.pickle` | pyskl / mmaction2 annotations: `{"annotations": [...]}`, a list of them, or one; each `keypoint` (M, T, V, C) plus optional `keypoint_score` (M, T, V) appended as the last channel | one sequence per annotation | `coco17` (V = 17, C = 2), `ntu25` (V = 25, C = 3), else none |

Persons: the first `MAX_PERSONS` listed in a frame, in file order; a person missing from a frame is all zeros
(absent). Pickles go through `RestrictedUnpickler`, which admits numpy arrays, numpy scalars and plain
containers and refuses every other global, so a crafted file cannot run code.
"""

from __future__ import annotations

import io
import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MAX_PERSONS = 4
PICKLE_SUFFIXES = (".pkl", ".pickle")
OPENPOSE_LAYOUTS = {25: "openpose25", 18: "openpose18"}
ALLOWED_GLOBALS = frozenset({
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),  # protocol 5
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "slice"),
    ("__builtin__", "set"), ("__builtin__", "frozenset"), ("__builtin__", "slice"),  # protocol 2 names
    ("_codecs", "encode"),  # protocol-2 pickles (mmcv's default) store bytes as _codecs.encode(text, 'latin1')
})


class PoseFileError(ValueError):
    """A pose file that cannot be read, named with its path."""


@dataclass(frozen=True)
class PoseSequence:
    """One sequence read from a file: (M, T, V, C) float32 and the layout the format implies (or None)."""

    name: str
    array: np.ndarray
    layout: str | None


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and plain containers only; any other global is refused."""

    def find_class(self, module: str, name: str) -> Any:
        """The allowed globals; pickle.UnpicklingError for everything else."""
        if (module, name) not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a pose annotation file "
                                         "(only numpy arrays and plain containers)")
        return super().find_class(module, name)


def restricted_loads(data: bytes) -> Any:
    """pickle.loads through RestrictedUnpickler."""
    return RestrictedUnpickler(io.BytesIO(data)).load()


def is_openpose_folder(path: Path) -> bool:
    """True for a folder whose first .json file (by name) is an OpenPose frame (has `people`)."""
    files = sorted(path.glob("*.json")) if path.is_dir() else []
    return bool(files) and "people" in _json(files[0])


def read_pose_path(path: Path) -> list[PoseSequence]:
    """Every sequence in an OpenPose folder, a .json or a pyskl / mmaction2 pickle (see the module table)."""
    if path.is_dir():
        if not is_openpose_folder(path):
            raise PoseFileError(f"{path}: not an OpenPose --write_json folder (no .json file with 'people')")
        frames = [_openpose_people(_json(f), f) for f in sorted(path.glob("*.json"))]
        return [_openpose_sequence(str(path), frames)]
    if path.suffix in PICKLE_SUFFIXES:
        return _read_annotations(path)
    if path.suffix == ".json":
        return [_read_json(path)]
    raise PoseFileError(f"{path}: not a pose file (.json, an OpenPose folder, .pkl / .pickle)")


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PoseFileError(f"{path}: not readable JSON: {exc}") from exc


def _read_json(path: Path) -> PoseSequence:
    doc = _json(path)
    if isinstance(doc, dict) and "people" in doc:
        return _openpose_sequence(str(path), [_openpose_people(doc, path)])
    if isinstance(doc, dict) and "data" in doc:
        return _kinetics_sequence(path, doc["data"])
    layout = None
    if isinstance(doc, dict):
        layout = doc.get("layout")
        doc = doc.get("skeleton")
    array = _numeric(doc, path)
    if array.ndim not in (3, 4):
        raise PoseFileError(f"{path}: a skeleton must be (T,V,C) or (M,T,V,C), got shape {list(array.shape)}")
    return PoseSequence(str(path), array if array.ndim == 4 else array[None], layout)


def _numeric(value: Any, path: Path) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float32)
    except (ValueError, TypeError) as exc:
        raise PoseFileError(f"{path}: not a rectangular array of numbers ({exc})") from exc
    return array


def _openpose_people(doc: Any, path: Path) -> list[np.ndarray]:
    people = doc.get("people") if isinstance(doc, dict) else None
    if not isinstance(people, list):
        raise PoseFileError(f"{path}: an OpenPose frame needs a 'people' list")
    out = []
    for person in people[:MAX_PERSONS]:
        flat = _numeric(person.get("pose_keypoints_2d", []) if isinstance(person, dict) else [], path)
        if flat.ndim != 1 or flat.size % 3 or flat.size // 3 not in OPENPOSE_LAYOUTS:
            raise PoseFileError(f"{path}: pose_keypoints_2d must hold 25 or 18 joints x (u, v, c), got {flat.size} "
                                "numbers")
        out.append(flat.reshape(-1, 3))
    return out


def _openpose_sequence(name: str, frames: list[list[np.ndarray]]) -> PoseSequence:
    joints = {p.shape[0] for people in frames for p in people}
    if len(joints) > 1:
        raise PoseFileError(f"{name}: frames mix {sorted(joints)} joints")
    v = joints.pop() if joints else 25
    out = np.zeros((max([len(p) for p in frames] + [1]), len(frames), v, 3), np.float32)
    for t, people in enumerate(frames):
        for m, person in enumerate(people):
            out[m, t] = person
    return PoseSequence(name, out, OPENPOSE_LAYOUTS[v])


def _kinetics_sequence(path: Path, data: Any) -> PoseSequence:
    if not isinstance(data, list):
        raise PoseFileError(f"{path}: Kinetics-skeleton 'data' must be a list of frames")
    try:
        frames = {int(f["frame_index"]): f.get("skeleton", []) for f in data}
    except (TypeError, KeyError, ValueError) as exc:
        raise PoseFileError(f"{path}: every Kinetics-skeleton frame needs a frame_index ({exc})") from exc
    length = max(frames, default=0)
    persons = max((len(s) for s in frames.values()), default=0)
    out = np.zeros((max(min(persons, MAX_PERSONS), 1), length, 18, 3), np.float32)
    for index, skeletons in frames.items():
        for m, person in enumerate(skeletons[:MAX_PERSONS]):
            pose, score = _numeric(person.get("pose"), path), _numeric(person.get("score"), path)
            if pose.shape != (36,) or score.shape != (18,):
                raise PoseFileError(f"{path}: frame {index}: pose must hold 36 numbers and score 18")
            out[m, index - 1] = np.concatenate([pose.reshape(18, 2), score[:, None]], axis=-1)
    return PoseSequence(str(path), out, "openpose18")


def _read_annotations(path: Path) -> list[PoseSequence]:
    try:
        doc = restricted_loads(path.read_bytes())
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise PoseFileError(f"{path}: refused or unreadable pickle: {exc}") from exc
    items = doc.get("annotations", [doc]) if isinstance(doc, dict) else doc
    if not isinstance(items, list) or not all(isinstance(a, dict) and "keypoint" in a for a in items):
        raise PoseFileError(f"{path}: expected pyskl / mmaction2 annotations (dicts with 'keypoint')")
    return [_annotation(path, i, a) for i, a in enumerate(items)]


def _annotation(path: Path, index: int, item: dict[str, Any]) -> PoseSequence:
    keypoint = _numeric(item["keypoint"], path)
    if keypoint.ndim != 4:
        raise PoseFileError(f"{path}: annotation {index}: keypoint must be (M,T,V,C), got {list(keypoint.shape)}")
    layout = {(17, 2): "coco17", (25, 3): "ntu25"}.get(keypoint.shape[2:])
    if item.get("keypoint_score") is not None:
        score = _numeric(item["keypoint_score"], path)
        if score.shape != keypoint.shape[:3]:
            raise PoseFileError(f"{path}: annotation {index}: keypoint_score {list(score.shape)} does not match "
                                f"keypoint {list(keypoint.shape)}")
        keypoint = np.concatenate([keypoint, score[..., None]], axis=-1)
    return PoseSequence(f"{path}#{item.get('frame_dir', index)}", keypoint, layout)
