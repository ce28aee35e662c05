"""A generated untrimmed problem: generated actions separated by idle motion, with known segments.

The recognizer is a frozen random-init Shift-GCN plus a SCALE scorer trained for seconds on its features of
generated trimmed clips and of action windows of generated training videos; its open-set threshold is
calibrated on action windows of held-out training videos (docs/benchmarks.md §7 says why). Test windows are
scored through model.windows.score_windows (the function /detect uses; windows mostly without a person are
not scored) and segmented by model.segments (frames without a person are background; nested proposals at
class-score levels 0 and 0.5, which the mAP rewards), then judged with the PKU-MMD mAP against a chance baseline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from model.config import PreprocessConfig, ScaleConfig
from model.detect_eval import detection_map
from model.losses import cyclical_beta, total_loss
from model.openset import auroc, calibrate_threshold
from model.pkummd import Instance
from model.preprocess import preprocess_batch, to_encoder_input
from model.presence import frame_presence
from model.scorer import ScaleScorer
from model.segments import DetectOptions, build_segments
from model.shift_gcn import ShiftGCN
from model.windows import WindowSpec, score_windows, window_starts
from training.synthetic import _BASE_POSE, class_motion


def idle_motion(num_frames: int, rng: np.random.Generator) -> np.ndarray:
    """(T,25,3): standing still with a slow sway and sensor noise (no class movement)."""
    t = np.arange(num_frames)[:, None, None] / 30.0
    pose = np.repeat(_BASE_POSE[None], num_frames, axis=0)
    pose[..., 0] += 0.02 * np.sin(2 * np.pi * 0.2 * t[..., 0] + rng.uniform(0, 6))
    return (pose + rng.normal(scale=0.01, size=pose.shape)).astype(np.float32)


def untrimmed_sequence(labels: list[int], rng: np.random.Generator, action_frames: tuple[int, int] = (80, 120),
                       idle_frames: tuple[int, int] = (60, 100)) -> tuple[np.ndarray, list[Instance]]:
    """(1,T,25,3) idle, action, idle, action, ..., idle; instances carry 1-based labels, inclusive frames."""
    parts, truth, cursor = [idle_motion(int(rng.integers(*idle_frames)), rng)], [], 0
    cursor = len(parts[0])
    for label in labels:
        n = int(rng.integers(*action_frames))
        clip = class_motion(label, n, rng)
        clip[:, :, 0] -= clip[:, :, 0].mean() - _BASE_POSE[:, 0].mean()  # stay where the idle person stands
        parts.append(clip)
        truth.append(Instance(label + 1, cursor, cursor + n - 1))
        cursor += n
        idle = idle_motion(int(rng.integers(*idle_frames)), rng)
        parts.append(idle)
        cursor += len(idle)
    return np.concatenate(parts)[None], truth


@dataclass
class Recognizer:
    """Frozen encoder + trained scorer + class side: a ScoreWindows callable for model.windows."""

    encoder: ShiftGCN
    scorer: ScaleScorer
    cls: object
    cfg: PreprocessConfig

    def features(self, sequences: list[np.ndarray]) -> torch.Tensor:
        """(N,256) encoder features of (M,T,25,3) sequences (the training preprocessing)."""
        x = torch.from_numpy(to_encoder_input(preprocess_batch(sequences, self.cfg)))
        with torch.no_grad():
            return self.encoder.forward_features(x)

    def __call__(self, windows: list[np.ndarray]) -> np.ndarray:
        with torch.no_grad():
            return self.scorer.energy(self.features(windows), self.cls).numpy().astype(np.float64)


def class_text(num_classes: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stand-in class conditionings (global, tokens, mask): one random direction per class."""
    g = rng.normal(size=(num_classes, 512)).astype(np.float32)
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    tokens = np.repeat(g[:, None], 77, axis=1) + rng.normal(scale=0.05, size=(num_classes, 77, 512))
    mask = np.zeros((num_classes, 77), np.float32)
    mask[:, :6] = 1.0
    return g, tokens.astype(np.float32), mask


def action_windows(videos: list[tuple[np.ndarray, list[Instance]]], spec: WindowSpec,
                   cover: float = 0.75) -> tuple[list[np.ndarray], np.ndarray]:
    """Windows of training videos that an action mostly fills, with that action's 0-based label.

    Kept: a window whose overlap with one action is >= `cover` of the shorter of the two (the window holds
    most of the action, or the action fills most of the window). These are the windows /detect must accept
    around an action, so training on them and calibrating the open-set threshold on them matches the test
    condition; windows mostly over idle frames are left out (the scorer has no background class: the
    threshold has to reject those, so they must not lower it either).
    """
    clips, labels = [], []
    for joints, truth in videos:
        for start in window_starts(joints.shape[1], spec.length, spec.stride).tolist():
            end = min(start + spec.length, joints.shape[1]) - 1
            for t in truth:
                overlap = min(end, t.end) - max(start, t.start) + 1
                if overlap >= cover * min(end - start + 1, t.end - t.start + 1):
                    clips.append(joints[:, start:end + 1])
                    labels.append(t.label - 1)
                    break
    return clips, np.asarray(labels, np.int64)


def training_videos(classes: list[int], count: int, per_video: int,
                    rng: np.random.Generator) -> list[tuple[np.ndarray, list[Instance]]]:
    """Generated untrimmed training videos (their own random stream, never the test videos)."""
    return [untrimmed_sequence(rng.choice(classes, size=per_video).tolist(), rng) for _ in range(count)]


def train_recognizer(classes: list[int], seed: int = 0, per_class: int = 24, steps: int = 300,
                     num_frames: int = 32, windows: tuple[list[np.ndarray], np.ndarray] | None = None) -> Recognizer:
    """Train a scorer on frozen random-init Shift-GCN features of generated clips of `classes`.

    `windows` (clips, indices into `classes`) adds window-shaped training examples to the trimmed clips.
    """
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    encoder = ShiftGCN(num_class=60).eval()
    cfg = PreprocessConfig(num_frames=num_frames)
    clips = [class_motion(c, int(rng.integers(80, 120)), rng)[None] for c in classes for _ in range(per_class)]
    y_np = np.repeat(np.arange(len(classes)), per_class)
    if windows is not None:
        clips, y_np = clips + list(windows[0]), np.concatenate([y_np, windows[1]])
    y = torch.from_numpy(y_np)
    g, tok, mask = class_text(len(classes), rng)
    text = (g, tok, mask)
    scorer = ScaleScorer(ScaleConfig())
    rec = Recognizer(encoder, scorer, None, cfg)
    raw = rec.features(clips)
    # frozen random features: standardised (kept in the encoder below); the std is floored at a tenth of the
    # median so that a feature almost constant on the training clips (a dead unit) cannot explode on a window
    mean, std = raw.mean(0), raw.std(0)
    std = std.clamp_min(0.1 * float(std.median()) + 1e-6)
    x = (raw - mean) / std
    opt = torch.optim.AdamW(scorer.parameters(), lr=3e-3, weight_decay=1e-3)
    gen = torch.Generator().manual_seed(seed)
    scorer.train()
    for step in range(steps):
        idx = torch.randint(0, len(y), (64,), generator=gen)
        loss = total_loss(scorer, x[idx], y[idx], text, beta=cyclical_beta(step, steps), generator=gen).total
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(scorer.parameters(), 1.0)  # one bad batch must not blow the scorer up
        opt.step()
    scorer.eval()
    encoder.forward_features = _standardised(encoder.forward_features, mean, std)  # type: ignore[method-assign]
    with torch.no_grad():
        rec.cls = scorer.class_side(*(torch.from_numpy(a) for a in text))
    return rec


def _standardised(forward: Callable, mean: torch.Tensor, std: torch.Tensor) -> Callable:
    return lambda x: (forward(x) - mean) / std


def chance_map(truth: dict[str, list[Instance]], predictions: dict[str, list[Instance]], num_frames: dict[str, int],
               labels: list[int], rng: np.random.Generator, draws: int = 20) -> dict[str, float]:
    """mAP@0.5 of random proposals: as many as predicted, the predicted lengths, random places and labels."""
    scores = {"official": [], "matched": []}
    for _ in range(draws):
        fake = {}
        for name, preds in predictions.items():
            fake[name] = []
            for p in preds:
                length = p.end - p.start
                start = int(rng.integers(0, max(num_frames[name] - length, 1)))
                fake[name].append(Instance(int(rng.choice(labels)), start, start + length, float(rng.random())))
        got = detection_map({n: (fake[n], truth[n]) for n in truth}, (0.5,))
        scores["official"].append(got["official"]["0.5"])
        scores["matched"].append(got["matched"]["0.5"])
    return {k: float(np.mean(v)) for k, v in scores.items()}


def run_untrimmed_benchmark(num_classes: int = 5, held_out: int = 3, videos: int = 4, per_video: int = 6,
                            seed: int = 0, spec: WindowSpec | None = None, per_class: int = 24,
                            steps: int = 300, train_videos: int = 2, calib_videos: int = 2,
                            smooth: int = 3) -> dict[str, object]:
    """Detection mAP vs chance on generated untrimmed videos, and open-set AUROC on held-out generated classes."""
    spec = spec or WindowSpec(96, 16)
    rng = np.random.default_rng(seed + 1)
    known = list(range(num_classes))
    # training side only (own random stream): videos whose action windows train the scorer, and
    # held-out ones whose action windows calibrate the threshold; the test videos below are never used
    train_rng = np.random.default_rng([seed, 7])
    fit = action_windows(training_videos(known, train_videos, per_video, train_rng), spec)
    calib, _ = action_windows(training_videos(known, calib_videos, per_video, train_rng), spec)
    rec = train_recognizer(known, seed, per_class, steps, windows=fit if train_videos else None)
    # open-set threshold: accept 95 % of action windows of held-out training videos (what
    # /detect sees around an action; trimmed clips score lower and put the threshold too low for windows);
    # AUROC between fresh trimmed in-set clips and clips of held-out classes (never trained on or registered)
    fresh = [class_motion(c, int(rng.integers(80, 120)), rng)[None] for c in known for _ in range(8)]
    other = [class_motion(c, int(rng.integers(80, 120)), rng)[None]
             for c in range(num_classes, num_classes + held_out) for _ in range(8)]
    e_in, e_out = rec(fresh).min(1), rec(other).min(1)
    threshold = calibrate_threshold(rec(calib).min(1) if calib else e_in)
    truth, preds, frames = {}, {}, {}
    for v in range(videos):
        labels = rng.choice(known, size=per_video).tolist()
        joints, instances = untrimmed_sequence(labels, rng)
        starts, energy = score_windows(joints, spec, rec)
        segments, _ = build_segments(starts, energy, spec.length, joints.shape[1], temperature=1.0,
                                     opts=DetectOptions(smooth=smooth, threshold=threshold, levels=(0.0, 0.5)),
                                     present=frame_presence(joints))
        name = f"video{v}"
        truth[name], frames[name] = instances, joints.shape[1]
        preds[name] = [Instance(s.class_index + 1, s.start, s.end, s.score) for s in segments]
    result = detection_map({n: (preds[n], truth[n]) for n in truth})
    chance = chance_map(truth, preds, frames, [c + 1 for c in known], rng)
    return {"map": result, "chance_map_0.5": chance, "open_set_auroc": auroc(e_in, e_out), "threshold": threshold,
            "videos": videos, "instances": sum(len(t) for t in truth.values()),
            "proposals": sum(len(p) for p in preds.values())}
