"""Helpers of benchmarks/paired_video.py: the cached estimator run, Shift-GCN classes, distances to Kinect."""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model.layout_scale import SCALE_FRAMES, SHOULDER_M
from model.layouts import MEDIAPIPE_DEPTH_SCALE, scale_2d, to_ntu25
from model.plausibility import plausibility_warning
from model.preprocess import preprocess_sequence, to_encoder_input
from model.shift_gcn import load_shift_gcn
from model.skeleton_io import read_skeleton
from pose.convert import TARGETS, from_mediapipe33
from pose.edit_video import edit_video
from pose.records import collect
from pose.source import records

VIDEO = "video_paired/S001C001P001R001A001_rgb.avi"
SKELETON = "video_paired/S001C001P001R001A001.skeleton"
CHECKPOINTS = {"NTU-60 X-sub": "shiftgcn/ntu_ShiftGCN_joint_xsub.pt",
               "NTU-120 X-sub": "shiftgcn/ntu120_ShiftGCN_joint_xsub.pt"}
CLASS_NAMES = Path(__file__).resolve().parents[1] / "training/resources/class_names/ntu120_official.txt"
SPINE_SHOULDER = 20
ARM_JOINTS = {"ElbowLeft": 5, "WristLeft": 6, "ElbowRight": 9, "WristRight": 10}
MEDIAPIPE_ARM = {"ElbowLeft": 13, "WristLeft": 15, "ElbowRight": 14, "WristRight": 16}
# Edits of the take (pose/edit_video.py): frames 40-69 black, and a waist-up cut whose bottom edge is about
# 70 px above the hips (raw-video pixels; the person stands near u 980-1110, hips at v 520).
BLACKOUT = (40, 70)
WAIST_UP = ("--rows", "250:450", "--cols", "880:1210")


def cache_dir() -> Path:
    """Where estimator output is cached: $SCALE_POSE_CACHE, else ~/.cache/scale/pose (never the repository)."""
    return Path(os.environ.get("SCALE_POSE_CACHE") or Path.home() / ".cache" / "scale" / "pose")


def landmarks(video: Path, flip: bool, python: str | None = None,
              estimator: str = "mediapipe") -> tuple[np.ndarray, np.ndarray]:
    """The estimator's (T,33,3) image and (T,33,4) world landmarks of `video`, cached by the video's sha256."""
    digest = hashlib.sha256(video.read_bytes()).hexdigest()[:16]
    path = cache_dir() / f"{digest}-{estimator}-{'flip' if flip else 'raw'}.jsonl"
    if not path.exists():
        lines = [json.dumps(r) for r in records(str(video), flip=flip, estimator=estimator, python=python)]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return collect(rows[1:])


def supports_mirror() -> bool:
    """Whether model.layouts.to_ntu25 has the `mirror` option (issue #18, item 4)."""
    return "mirror" in inspect.signature(to_ntu25).parameters


def class_names() -> list[str]:
    """NTU-120 class names, A1 first."""
    return CLASS_NAMES.read_text(encoding="utf-8").splitlines()


@dataclass
class Classifier:
    """The official Shift-GCN checkpoints, each giving (class number, its probability, p(expected))."""

    models: dict[str, torch.nn.Module]

    @classmethod
    def load(cls, data: Path, names: tuple[str, ...] = tuple(CHECKPOINTS)) -> Classifier:
        """Load the named checkpoints of CHECKPOINTS (all by default) from the shared data folder."""
        return cls({name: load_shift_gcn(data / CHECKPOINTS[name]) for name in names})

    def classify(self, preprocessed: np.ndarray, expected: int) -> dict[str, dict[str, Any]]:
        """One preprocessed (2,T,25,3) sequence -> per checkpoint: top class (1-based), probability, p(expected)."""
        x = torch.from_numpy(to_encoder_input(preprocessed[None]))
        out = {}
        with torch.no_grad():
            for name, model in self.models.items():
                prob = torch.softmax(model(x), dim=-1)[0]
                out[name] = {"class": int(prob.argmax()) + 1, "p": float(prob.max()),
                             "p_expected": float(prob[expected - 1])}
        return out


def kinect(data: Path) -> np.ndarray:
    """The Kinect skeleton of the take, (1, T, 25, 3)."""
    return read_skeleton(data / SKELETON).joints


def joint_distances(ntu: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both preprocessed; per-joint distance (25,) averaged over the take's frames, and the two sequences."""
    frames = reference.shape[1]
    ours, theirs = preprocess_sequence(ntu), preprocess_sequence(reference)
    return np.linalg.norm(ours[0, :frames] - theirs[0, :frames], axis=-1).mean(axis=0), ours, theirs


def axis_correlation(ntu: np.ndarray, reference: np.ndarray) -> list[float]:
    """Pearson r per axis of joints relative to SpineShoulder, pooled over joints and frames (NTU axes)."""
    ours = (ntu - ntu[..., SPINE_SHOULDER:SPINE_SHOULDER + 1, :])[0].reshape(-1, 3)
    theirs = (reference - reference[..., SPINE_SHOULDER:SPINE_SHOULDER + 1, :])[0].reshape(-1, 3)
    return [float(np.corrcoef(ours[:, a], theirs[:, a])[0, 1]) for a in range(3)]


def depth_slopes(world: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Least-squares slope of MediaPipe's raw relative depth against Kinect's, per arm joint and pooled."""
    shoulders = world[:, [11, 12], 2].mean(axis=1)
    slopes, xs, ys = {}, [], []
    for name, ntu_joint in ARM_JOINTS.items():
        theirs = reference[0, :, ntu_joint, 2] - reference[0, :, SPINE_SHOULDER, 2]
        ours = world[:, MEDIAPIPE_ARM[name], 2] - shoulders
        theirs, ours = theirs - theirs.mean(), ours - ours.mean()
        slopes[name] = float(theirs @ ours / (theirs @ theirs))
        xs.append(theirs)
        ys.append(ours)
    x, y = np.concatenate(xs), np.concatenate(ys)
    slopes["pooled"] = float(x @ y / (x @ x))
    return slopes


def depth_as_given(world: np.ndarray) -> np.ndarray:
    """World landmarks whose relative depth is doubled, so that the halving rule gives MediaPipe's own depth back."""
    out = np.array(world, dtype=np.float32)
    hip_z = out[:, [23, 24], 2].mean(axis=1, keepdims=True)
    out[..., 2] = hip_z + (out[..., 2] - hip_z) / MEDIAPIPE_DEPTH_SCALE
    return out


def hand_reach(world: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Mean wrist -> HandTip distance of Kinect and wrist -> knuckles (mid index, pinky) of MediaPipe, right hand."""
    knuckles = world[:, [18, 20], :3].mean(axis=1)
    return {"kinect_wrist_to_handtip_m": float(np.linalg.norm(reference[0, :, 23] - reference[0, :, 10], axis=-1).mean()),
            "mediapipe_wrist_to_knuckles_m": float(np.linalg.norm(knuckles - world[:, 16, :3], axis=-1).mean())}


SWAP_GROUPS = {"right arm": [9, 10, 11, 23, 24], "left arm": [5, 6, 7, 21, 22], "head and neck": [2, 3],
               "spine": [0, 1], "shoulders": [4, 8], "legs": [12, 13, 14, 15, 16, 17, 18, 19]}


def swapped(ntu: np.ndarray, reference: np.ndarray, joints: list[int], axes: list[int]) -> np.ndarray:
    """`ntu` with the given joints' axes taken from Kinect (both placed at Kinect's SpineShoulder)."""
    out = ntu - ntu[..., SPINE_SHOULDER:SPINE_SHOULDER + 1, :] + reference[..., SPINE_SHOULDER:SPINE_SHOULDER + 1, :]
    picked = np.ix_(range(out.shape[0]), range(out.shape[1]), joints, axes)
    out[picked] = reference[picked]
    return out


def edited_checks(data: Path, python: str | None, reference: np.ndarray, classifier: Classifier) -> dict[str, Any]:
    """MediaPipe on two edits of the flipped take: the frames where it finds nobody in the blacked-out one; for
    the waist-up one, the hips' confidence, which 2D scale rule applies, the shoulder width and the classes."""
    with tempfile.TemporaryDirectory() as folder:
        black = edit_video(data / VIDEO, Path(folder) / "blackout.avi",
                           ["--blackout", f"{BLACKOUT[0]}:{BLACKOUT[1]}"], python)
        image = landmarks(black, True, python)[0]
        nobody = np.flatnonzero(np.abs(image).sum(axis=(-2, -1)) == 0).tolist()
        waist = edit_video(data / VIDEO, Path(folder) / "waist_up.avi", list(WAIST_UP), python)
        image, world = landmarks(waist, True, python)
    body = from_mediapipe33(image, world, "openpose25")
    shoulders = np.median(np.linalg.norm(body[:SCALE_FRAMES, 2, :2] - body[:SCALE_FRAMES, 5, :2], axis=-1))
    ntu = to_ntu25(body, "openpose25")
    width = np.linalg.norm(ntu[0, :, 4] - ntu[0, :, 8], axis=-1)
    classes = {}
    for layout in TARGETS:
        mapped = to_ntu25(from_mediapipe33(image, world, layout), layout)
        answers = classifier.classify(joint_distances(mapped, reference)[1], 1)
        torso = float(np.median(np.linalg.norm(mapped[0, :, 0] - mapped[0, :, 20], axis=-1)))
        classes[layout] = f"torso {torso:.2f} m; warning {plausibility_warning(mapped) is not None}; " + " ".join(
            f"{name.split()[0]} A{a['class']} {a['p']:.2f}" for name, a in answers.items())
    return {"blackout_frames_without_person": nobody,
            "waist_up": {"frames": int(body.shape[0]), "hips_max_confidence": float(body[:, [9, 12], 2].max()),
                         "scale_from_shoulders": bool(np.isclose(scale_2d(body, "openpose25"),
                                                                 SHOULDER_M / shoulders, rtol=1e-5)),
                         "shoulder_width_m": [float(width.min()), float(width.max())],
                         "plausibility_warning": plausibility_warning(ntu), "classes": classes}}
