"""`scale try-it`: a small generated dataset, in the your-own-dataset format, whose unseen classes can be
learned from their names, plus the config that runs the whole pipeline on it in minutes on a CPU.

Each class is a limb doing a motion ("left arm circle"). Every limb and every motion of an unseen class
also appears in seen classes, so what the scorer learns from the seen names' words transfers: zero-shot
recognition works even with the random-init text tower (no CLIP download), which still gives the same
word the same token embedding.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from training.synthetic import _BASE_POSE

# 0-based NTU joints of each limb, proximal to distal (the distal joints move most)
LIMBS: dict[str, tuple[int, ...]] = {
    "left arm": (4, 5, 6, 7, 21, 22), "right arm": (8, 9, 10, 11, 23, 24),
    "left leg": (12, 13, 14, 15), "right leg": (16, 17, 18, 19),
}
MOTIONS = ("swing", "raise", "circle", "shake", "stretch")
# one unseen class per motion; each limb and each motion stays in several seen classes
UNSEEN = ("left arm swing", "right arm raise", "left leg circle", "right leg shake", "right arm stretch")
SUBJECTS = (1, 2, 3, 4, 5)
TEST_SUBJECTS = (5,)


def class_list() -> list[str]:
    """Every (limb, motion) class name, limb-major."""
    return [f"{limb} {motion}" for limb in LIMBS for motion in MOTIONS]


def _offset(motion: str, t: np.ndarray, side: float, rng: np.random.Generator) -> np.ndarray:
    """(T, 3) displacement of a limb's tip over normalised time t for one motion, with per-clip jitter."""
    f, a, ph = rng.uniform(0.8, 1.2), rng.uniform(0.25, 0.35), rng.uniform(0, 0.2)
    w = 2 * np.pi * (f * t + ph)
    zero = np.zeros_like(t)
    if motion == "swing":  # forward and back
        return np.stack([zero, 0.2 * a * np.sin(w), a * np.sin(w)], 1)
    if motion == "raise":  # up once, slowly, and down
        lift = a * 1.6 * (1 - np.cos(2 * np.pi * t)) / 2
        return np.stack([zero, lift, 0.2 * lift], 1)
    if motion == "circle":  # in the frontal plane
        return np.stack([a * np.cos(w) - a, a * np.sin(w), zero], 1)
    if motion == "shake":  # fast and small, sideways
        return np.stack([0.4 * a * np.sin(4 * w), zero, zero], 1)
    out = side * a * 1.4 * (1 - np.cos(2 * np.pi * t)) / 2  # stretch: out to the side and back
    return np.stack([out, 0.3 * np.abs(out), zero], 1)


def clip(name: str, num_frames: int, rng: np.random.Generator) -> np.ndarray:
    """(1, T, 25, 3) joints of one person performing class `name`, with noise and a random stance."""
    limb, motion = name.rsplit(" ", 1)
    joints = LIMBS[limb]
    t = np.arange(num_frames) / max(num_frames - 1, 1)
    pose = np.repeat(_BASE_POSE[None], num_frames, axis=0)
    tip = _offset(motion, t, -1.0 if limb.startswith("left") else 1.0, rng)
    for rank, joint in enumerate(joints):
        pose[:, joint] += tip * (rank + 1) / len(joints)
    pose += rng.normal(scale=0.01, size=pose.shape)
    pose[..., 0] += rng.uniform(-0.3, 0.3)
    pose *= rng.uniform(0.9, 1.1)  # body size
    return pose[None].astype(np.float32)


def write_tryit_dataset(folder: str | Path, per_subject: int = 6, num_frames: int = 40, seed: int = 0) -> Path:
    """Write clips/*.npy, labels.csv, classes.tsv and dataset.toml under `folder`; returns dataset.toml."""
    folder = Path(folder)
    (folder / "clips").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = class_list()
    rows = []
    for c, name in enumerate(names):
        for subject in SUBJECTS:
            for rep in range(per_subject):
                file = f"clips/c{c:02d}_s{subject}_r{rep}.npy"
                np.save(folder / file, clip(name, num_frames, rng), allow_pickle=False)
                rows.append({"file": file, "class": name, "subject": subject})
    with (folder / "labels.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["file", "class", "subject"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    (folder / "classes.tsv").write_text("# class name<TAB>optional descriptions\n" + "".join(
        f"{n}\tthe {n.rsplit(' ', 1)[0]} does a {n.rsplit(' ', 1)[1]} motion\n" for n in names), encoding="utf-8")
    unseen = ", ".join(f'"{n}"' for n in UNSEEN)
    (folder / "dataset.toml").write_text(
        'name = "tryit"\nskeletons = "."\nlabels = "labels.csv"\nclasses = "classes.tsv"\n'
        f'test_by = "subject"\ntest_values = [{", ".join(f"{s!r}" for s in map(str, TEST_SUBJECTS))}]\n\n'
        f"[settings.tryit_15_5]\nunseen = [{unseen}]\n\n"
        "[settings.tryit_random5]\nnum_unseen = 5\nseed = 0\n", encoding="utf-8")
    return folder / "dataset.toml"


def write_tryit_config(out: str | Path, dataset_file: str | Path, epochs: tuple[int, int] = (6, 30)) -> Path:
    """The pipeline TOML for the try-it dataset (CPU, random-init text tower): <out>/tryit.toml."""
    out = Path(out)
    encoder_epochs, scorer_epochs = epochs
    path = out / "tryit.toml"
    path.write_text(f"""# Written by `scale try-it`: the whole pipeline on the generated dataset, on a CPU, in minutes.
output = "{(out / 'run').as_posix()}"

[data]
dataset_file = "{Path(dataset_file).as_posix()}"
setting = "tryit_15_5"            # or tryit_random5: 5 unseen classes drawn by seed
num_frames = 32
workers = 1

[encoder]
epochs = {encoder_epochs}
batch_size = 16
lr = 0.05
milestones = [{max(1, encoder_epochs * 2 // 3)}]
device = "cpu"

[text]
random_init_seed = 0              # no CLIP download: a seeded random tower (results say so)

[scorer]
epochs = {scorer_epochs}
batch_size = 64
lr = 1e-3
device = "cpu"

[eval]
seeds = [0]
""", encoding="utf-8")
    return path
