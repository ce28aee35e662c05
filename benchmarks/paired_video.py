"""Real estimator output against Kinect: MediaPipe Pose on the RGB video of a real NTU take, every layout.

    python -m benchmarks.paired_video [--data ../shared/data] [--out r.json] [--docs docs/skeletons.md]

MediaPipe Pose (mediapipe==0.10.14, run by pose/ in this interpreter or in SCALE_POSE_PYTHON / .venv-video)
reads ../shared/data/video_paired/S001C001P001R001A001_rgb.avi, as it is ("raw", a mirror view) and flipped
left-right ("flip", `scale pose --flip`). Its landmarks are written in each layout the way `scale pose` writes
them (pose/convert.py), mapped with model.layouts.to_ntu25 and preprocessed like any request; the Kinect
skeleton of the same take is preprocessed the same way. Per layout: the mean over the 103 frames and 25 joints
of the distance to Kinect (metres, after preprocessing), the worst joint, and the class and probability of the
official Shift-GCN checkpoints. Estimator output is cached outside the repository (benchmarks/paired_eval.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import environment, format_environment, run_and_report
from benchmarks.paired_eval import (
    SWAP_GROUPS,
    VIDEO,
    Classifier,
    axis_correlation,
    class_names,
    depth_as_given,
    depth_slopes,
    hand_reach,
    joint_distances,
    kinect,
    landmarks,
    supports_mirror,
    swapped,
)
from model.layout_maps import NTU25_JOINTS
from model.layouts import MEDIAPIPE_DEPTH_SCALE, to_ntu25
from pose.convert import TARGETS, from_mediapipe33
from pose.mediapipe_pose import MODEL_COMPLEXITY, estimator_for

EXPECTED_CLASS = 1  # A1 drink water, the take's label
DOCS_BEGIN, DOCS_END = "<!-- paired_video:begin -->", "<!-- paired_video:end -->"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """--data, --out, --docs."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.paired_video", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--python", default=None, help="interpreter with mediapipe (default: see pose/source.py)")
    parser.add_argument("--out", type=Path, default=None, help="also write the results as JSON here")
    parser.add_argument("--docs", type=Path, default=None, help="replace the table between the markers in this file")
    return parser.parse_args(argv)


def variants() -> list[tuple[str, bool, bool]]:
    """(name, flip the frames, mirror option of to_ntu25)."""
    rows = [("raw", False, False), ("flip", True, False)]
    return rows + ([("raw + mirror", False, True)] if supports_mirror() else [])


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Classes and distances for every (video variant, layout), plus the Kinect reference."""
    classifier, reference = Classifier.load(args.data), kinect(args.data)
    names = class_names()
    _, _, kinect_pre = joint_distances(reference, reference)
    rows = []
    checks: dict[str, Any] = {"kinect": classifier.classify(kinect_pre, EXPECTED_CLASS)}
    for variant, flip, mirror in variants():
        image, world = landmarks(args.data / VIDEO, flip, args.python)
        checks[f"depth_slope_{variant}"] = depth_slopes(world, reference)
        checks[f"axis_r_{variant}"] = axis_correlation(to_ntu25(world, "mediapipe33"), reference)
        for layout in TARGETS:
            options = {"mirror": True} if mirror else {}
            ntu = to_ntu25(from_mediapipe33(image, world, layout), layout, **options)
            rows.append(_row(variant, layout, ntu, reference, classifier))
        if flip:
            checks["hand_reach_flip"] = hand_reach(world, reference)
            given = depth_as_given(world)
            for layout in ("mediapipe33", "coco17-3d", "openpose25-3d"):
                ntu = to_ntu25(from_mediapipe33(image, given, layout), layout)
                rows.append(_row("flip, MediaPipe depth as given", layout, ntu, reference, classifier))
            checks["swap_with_kinect"] = _swaps(to_ntu25(given, "mediapipe33"), reference, classifier)
            # NTU-120 with the depth rule applied: which joints' Kinect values give the take's class back
            checks["swap_with_kinect_ntu120"] = _swaps(to_ntu25(world, "mediapipe33"), reference, classifier,
                                                       "NTU-120 X-sub")
            checks["depth_scan_ntu120"] = _depth_scan(image, world, reference, classifier)
            checks["arm_depth_flip"] = _arm_depth(to_ntu25(world, "mediapipe33"), reference)
            checks["landmark_models_flip"] = _landmark_models(args, reference, classifier)
    return {"environment": environment(), "rows": rows, "checks": checks, "class_names": names[:120],
            "expected": EXPECTED_CLASS}


def _row(variant: str, layout: str, ntu: Any, reference: Any, classifier: Classifier) -> dict[str, Any]:
    per_joint, ours, _ = joint_distances(ntu, reference)
    worst = int(per_joint.argmax())
    return {"video": variant, "layout": layout, "distance_m": float(per_joint.mean()),
            "worst_joint": NTU25_JOINTS[worst], "worst_m": float(per_joint[worst]),
            "per_joint_m": per_joint.round(4).tolist(), "classes": classifier.classify(ours, EXPECTED_CLASS)}


def _swaps(ntu: Any, reference: Any, classifier: Classifier, checkpoint: str = "NTU-60 X-sub") -> dict[str, str]:
    """`checkpoint`'s class after taking one joint group (all axes, or only z) from Kinect."""
    out = {}
    for group, joints in SWAP_GROUPS.items():
        for axes, what in (([0, 1, 2], "xyz"), ([2], "z")):
            pre = joint_distances(swapped(ntu, reference, joints, axes), reference)[1]
            answer = classifier.classify(pre, EXPECTED_CLASS)[checkpoint]
            out[f"{group} {what}"] = f"A{answer['class']} {answer['p']:.2f}"
    return out


def _arm_depth(ntu: Any, reference: Any) -> dict[str, dict[str, float]]:
    """Drinking arm's depth relative to SpineShoulder (NTU axes, depth rule applied): r, mean and std of both."""
    frames = reference.shape[1]
    out = {}
    for name, joint in (("ElbowRight", 9), ("WristRight", 10)):
        ours = ntu[0, :frames, joint, 2] - ntu[0, :frames, 20, 2]
        theirs = reference[0, :, joint, 2] - reference[0, :, 20, 2]
        out[name] = {"r": float(np.corrcoef(ours, theirs)[0, 1]), "mediapipe_mean_m": float(ours.mean()),
                     "kinect_mean_m": float(theirs.mean()), "mediapipe_std_m": float(ours.std()),
                     "kinect_std_m": float(theirs.std())}
    return out


def _landmark_models(args: argparse.Namespace, reference: Any, classifier: Classifier) -> dict[str, Any]:
    """Per MediaPipe landmark model (lite, full, heavy; those installed) and layout of the flipped video:
    mean joint distance and each checkpoint's class, to tell the mapping's errors from the estimator's."""
    out: dict[str, Any] = {}
    for model in MODEL_COMPLEXITY:
        try:
            image, world = landmarks(args.data / VIDEO, True, args.python, estimator_for(model))
        except RuntimeError as exc:  # EstimatorUnavailable: the model is not installed
            out[model] = f"not run: {exc}"
            continue
        out[model] = {}
        for layout in TARGETS:
            row = _row("flip", layout, to_ntu25(from_mediapipe33(image, world, layout), layout), reference,
                       classifier)
            answers = " ".join(f"{name.split()[0]} A{a['class']} {a['p']:.2f}" for name, a in row["classes"].items())
            out[model][layout] = f"{row['distance_m']:.3f} m; {answers}"
    return out


def _depth_scan(image: Any, world: Any, reference: Any, classifier: Classifier) -> dict[str, str]:
    """NTU-120 X-sub's answer for mediapipe33 with MediaPipe's relative depth scaled by 0 (flat) to 1 (as given)."""
    out = {}
    hip = world[:, [23, 24], 2].mean(axis=1, keepdims=True)
    for scale in (0.0, 0.25, 0.5, 0.75, 1.0):
        scaled = np.array(world, dtype=np.float32)
        scaled[..., 2] = hip + (world[..., 2] - hip) * scale / MEDIAPIPE_DEPTH_SCALE  # the rule then halves it
        pre = joint_distances(to_ntu25(from_mediapipe33(image, scaled, "mediapipe33"), "mediapipe33"),
                              reference)[1]
        answer = classifier.classify(pre, EXPECTED_CLASS)["NTU-120 X-sub"]
        out[f"depth x{scale}"] = f"A{answer['class']} {answer['p']:.2f}"
    return out


def _cell(result: dict[str, Any], answer: dict[str, Any]) -> str:
    label = result["class_names"][answer["class"] - 1]
    return f"A{answer['class']} {label} {answer['p']:.2f}"


def table(result: dict[str, Any]) -> str:
    """The per-layout table (also what goes into docs/skeletons.md)."""
    checkpoints = list(result["checks"]["kinect"])
    rows = [["Kinect (reference)", "ntu25", "0", "-", *(_cell(result, result["checks"]["kinect"][c])
                                                       for c in checkpoints)]]
    for r in result["rows"]:
        rows.append([r["video"], r["layout"], f"{r['distance_m']:.3f}", f"{r['worst_joint']} {r['worst_m']:.2f}",
                     *(_cell(result, r["classes"][c]) for c in checkpoints)])
    headers = ["video", "layout", "mean joint distance (m)", "worst joint (m)", *checkpoints]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)])


def render(result: dict[str, Any]) -> str:
    """The printed report: environment, the table, the convention checks."""
    checks = "\n".join(f"{k}: {v}" for k, v in result["checks"].items() if k != "kinect")
    return "\n\n".join([format_environment(result["environment"]), table(result), checks])


def update_docs(path: Path, result: dict[str, Any]) -> None:
    """Replace the text between DOCS_BEGIN and DOCS_END in `path` with the table."""
    text = path.read_text(encoding="utf-8")
    start, end = text.index(DOCS_BEGIN) + len(DOCS_BEGIN), text.index(DOCS_END)
    path.write_text(text[:start] + "\n" + table(result) + "\n" + text[end:], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Run, print, optionally write JSON and the docs table."""
    args = parse_args(argv)

    def run_and_docs(parsed: argparse.Namespace) -> dict[str, Any]:
        result = run(parsed)
        if parsed.docs:
            update_docs(parsed.docs, result)
        return result

    return run_and_report(lambda _: args, run_and_docs, render, argv)


if __name__ == "__main__":
    sys.exit(main())
