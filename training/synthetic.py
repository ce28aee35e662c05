"""Small generated data in the real formats: NTU `.skeleton` text files, CTR-GCN npz, and toy ZSL problems."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.config import CLIP_CONTEXT_LENGTH, CLIP_TEXT_DIM, FEATURE_DIM, NUM_JOINTS

# A standing Kinect-v2 pose in metres (camera frame: x right, y up, z away), 0-based NTU joint order.
_BASE_POSE = np.array([
    [0.00, 0.00, 3.0], [0.00, 0.30, 3.0], [0.00, 0.55, 3.0], [0.00, 0.70, 3.0],  # spine, neck, head
    [-0.18, 0.48, 3.0], [-0.28, 0.25, 3.0], [-0.32, 0.02, 3.0], [-0.33, -0.05, 3.0],  # left arm
    [0.18, 0.48, 3.0], [0.28, 0.25, 3.0], [0.32, 0.02, 3.0], [0.33, -0.05, 3.0],  # right arm
    [-0.10, -0.05, 3.0], [-0.11, -0.45, 3.0], [-0.12, -0.85, 3.0], [-0.12, -0.90, 2.9],  # left leg
    [0.10, -0.05, 3.0], [0.11, -0.45, 3.0], [0.12, -0.85, 3.0], [0.12, -0.90, 2.9],  # right leg
    [0.00, 0.50, 3.0], [-0.34, -0.10, 3.0], [-0.30, -0.06, 3.0], [0.34, -0.10, 3.0], [0.30, -0.06, 3.0],
], dtype=np.float64)

# X-sub training subjects of NTU-60 (the first 20 listed in the NTU paper); any other subject is a test one.
NTU60_XSUB_TRAIN = (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)


def class_motion(label: int, num_frames: int, rng: np.random.Generator) -> np.ndarray:
    """One person's (T, 25, 3) joints performing the class-specific movement `label` with random jitter."""
    crng = np.random.default_rng(1000 + label)  # the class's fixed motion signature
    joints = crng.choice(NUM_JOINTS, size=4, replace=False)
    direction = crng.normal(size=(4, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    freq = crng.uniform(0.5, 3.0)
    t = np.arange(num_frames) / max(num_frames - 1, 1)
    phase = rng.uniform(0, 0.3)
    pose = np.repeat(_BASE_POSE[None], num_frames, axis=0)
    wave = np.sin(2 * np.pi * (freq * t + phase))[:, None, None]
    pose[:, joints] += 0.25 * wave * direction[None]
    pose += rng.normal(scale=0.01, size=pose.shape)
    pose[:, :, 0] += rng.uniform(-0.3, 0.3)  # where the person stands
    return pose.astype(np.float32)


def format_skeleton(joints: np.ndarray) -> str:
    """NTU `.skeleton` text (CRLF) for joints (M, T, 25, 3); a body whose frame is all zero is omitted."""
    if joints.ndim != 4 or joints.shape[2:] != (NUM_JOINTS, 3):
        raise ValueError(f"joints must be (M, T, 25, 3), got {joints.shape}")
    lines = [str(joints.shape[1])]
    for t in range(joints.shape[1]):
        bodies = [m for m in range(joints.shape[0]) if np.any(joints[m, t])]
        lines.append(str(len(bodies)))
        for m in bodies:
            lines.append(f"{72057594037931648 + m} 0 1 1 1 1 0 0.0 0.0 2")
            lines.append(str(NUM_JOINTS))
            for x, y, z in joints[m, t]:
                lines.append(f"{x:.7g} {y:.7g} {z:.7g} 256.0 200.0 1000.0 500.0 0 0 0 0 2")
    return "\r\n".join(lines) + "\r\n"


def write_skeleton_folder(
    folder: str | Path, labels: list[int], subjects: list[int], per_combo: int = 1,
    num_frames: int = 40, seed: int = 0, two_person_labels: tuple[int, ...] = (),
) -> list[Path]:
    """Write one `.skeleton` file per (label, subject, repetition) named SsssCcccPpppRrrrAaaa."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for label in labels:
        for subject in subjects:
            for rep in range(per_combo):
                body = class_motion(label, num_frames, rng)[None]
                if label in two_person_labels:
                    other = class_motion(label, num_frames, rng)
                    other[..., 0] += 0.8
                    body = np.concatenate([body, other[None]], axis=0)
                camera = 1 + rep % 3
                name = f"S001C{camera:03d}P{subject:03d}R{1 + rep // 3:03d}A{label + 1:03d}.skeleton"
                (folder / name).write_bytes(format_skeleton(body).encode("ascii"))
                paths.append(folder / name)
    return paths


def write_ctrgcn_npz(
    path: str | Path, labels: list[int], num_classes: int = 60, per_class: int = 4,
    num_frames: int = 40, seed: int = 0,
) -> Path:
    """A CTR-GCN style npz: x_train/x_test (N, T, 150) = (T, M=2, V, C) flattened, y_* one-hot (N, classes)."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for split in ("train", "test"):
        xs, ys = [], []
        for label in labels:
            for _ in range(per_class):
                person = class_motion(label, num_frames, rng)  # (T, V, C)
                both = np.stack([person, np.zeros_like(person)], axis=1)  # (T, 2, V, C)
                xs.append(both.reshape(num_frames, -1))
                ys.append(np.eye(num_classes, dtype=np.float32)[label])
        out[f"x_{split}"] = np.stack(xs).astype(np.float32)
        out[f"y_{split}"] = np.stack(ys)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    return path


@dataclass
class ZeroShotProblem:
    """Features whose class means are a fixed nonlinear function of the class text vectors."""

    text_global: np.ndarray  # (K, text_dim)
    text_tokens: np.ndarray  # (K, L, text_dim)
    token_mask: np.ndarray  # (K, L)
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    seen: list[int]
    unseen: list[int]


def zero_shot_problem(
    num_classes: int = 30, num_unseen: int = 6, per_class_train: int = 40, per_class_test: int = 30,
    noise: float = 1.0, intrinsic_dim: int = 3, seed: int = 0, text_dim: int = CLIP_TEXT_DIM,
    feature_dim: int = FEATURE_DIM, context_length: int = CLIP_CONTEXT_LENGTH,
) -> ZeroShotProblem:
    """Class k has a latent u_k; text h_k = A u_k, features x ~ N(W2 tanh(W1 u_k), noise^2 I); last classes unseen.

    Text vectors live in an `intrinsic_dim`-dimensional subspace so that what the seen classes teach about
    text -> feature transfers to the unseen ones (random 512-d vectors would be mutually orthogonal).
    """
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(num_classes, intrinsic_dim))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    a = np.linalg.qr(rng.normal(size=(text_dim, intrinsic_dim)))[0]  # orthonormal embedding
    h = u @ a.T
    w1 = rng.normal(size=(intrinsic_dim, 32))
    w2 = rng.normal(size=(32, feature_dim)) / np.sqrt(32)
    means = np.tanh(u @ w1) @ w2
    real = 6  # number of real token positions; the rest is padding that the mask must hide
    tokens = rng.normal(scale=0.05, size=(num_classes, context_length, text_dim)) + h[:, None, :]
    tokens[:, real:] = rng.normal(size=(num_classes, context_length - real, text_dim))
    mask = np.zeros((num_classes, context_length), dtype=np.float32)
    mask[:, :real] = 1.0

    def draw(per_class: int, classes: list[int]) -> tuple[np.ndarray, np.ndarray]:
        y = np.repeat(np.array(classes, dtype=np.int64), per_class)
        return (means[y] + rng.normal(scale=noise, size=(len(y), feature_dim))).astype(np.float32), y

    seen = list(range(num_classes - num_unseen))
    unseen = list(range(num_classes - num_unseen, num_classes))
    x_train, y_train = draw(per_class_train, seen)
    x_test, y_test = draw(per_class_test, unseen)
    return ZeroShotProblem(h.astype(np.float32), tokens.astype(np.float32), mask, x_train, y_train,
                           x_test, y_test, seen, unseen)


def write_synthetic_feature_folder(
    folder: str | Path, seen: list[int], unseen: list[int], per_class: int = 10, seed: int = 0,
    feature_dim: int = FEATURE_DIM,
) -> Path:
    """A peers'-layout feature folder (train/ztest/gtest/val) with Gaussian class clusters; labels global."""
    from training.readers import FeatureSet, write_feature_folder

    rng = np.random.default_rng(seed)
    means = {c: rng.normal(size=feature_dim) for c in list(seen) + list(unseen)}

    def part(classes: list[int]) -> FeatureSet:
        y = np.repeat(np.asarray(classes, dtype=np.int64), per_class)
        x = np.stack([means[int(c)] for c in y]) + 0.3 * rng.normal(size=(len(y), feature_dim))
        return FeatureSet(x.astype(np.float32), y)

    test = part(list(seen) + list(unseen))
    z = np.isin(test.labels, unseen)
    return write_feature_folder(folder, part(list(seen)), FeatureSet(test.features[z], test.labels[z]), test)
