"""Real estimator output against Kinect: MediaPipe Pose on the RGB video of a real NTU take, every layout.

    python -m benchmarks.paired_video [--data ../shared/data] [--out r.json] [--docs docs/skeletons.md]

MediaPipe Pose (mediapipe==0.10.14, run by pose/ in this interpreter or in SCALE_POSE_PYTHON / .venv-video)
reads ../shared/data/video_paired/S001C001P001R001A001_rgb.avi, as it is ("raw", a mirror view) and flipped
left-right ("flip", `scale pose --flip`). Its landmarks are written in each layout the way `scale pose` writes
them (pose/convert.py), mapped with model.layouts.to_ntu25 and preprocessed like any request; the Kinect
skeleton of the same take is preprocessed the same way. Per layout: the mean over the 103 frames and 25 joints
of the distance to Kinect (metres, after preprocessing), the worst joint, and the class and probability of the
official Shift-GCN checkpoints. A second table (`xy_source`) gives, per MediaPipe landmark model installed,
video variant and layout, the distance and p(take's class) with MediaPipe's world x, y as given and with the
image-plane x, y that `scale pose` writes. Estimator output is cached outside the repository
(benchmarks/paired_eval.py).
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
    edited_checks,
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
THREE_D = ("mediapipe33", "coco17-3d", "openpose25-3d")


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
            for label, source, xy in (("MediaPipe world x, y", world, "world"),
                                      ("MediaPipe depth as given", given, "image")):
                for layout in THREE_D:
                    ntu = to_ntu25(from_mediapipe33(image, source, layout, xy), layout)
                    rows.append(_row(f"flip, {label}", layout, ntu, reference, classifier))
            checks["swap_with_kinect"] = _swaps(to_ntu25(from_mediapipe33(image, given, "mediapipe33"),
                                                         "mediapipe33"), reference, classifier)
            checks["depth_scan_ntu120"] = _depth_scan(image, world, reference, classifier)
    checks["xy_source"] = _xy_sources(args, reference, classifier)
    checks["edited"] = edited_checks(args.data, args.python, reference, classifier)
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


def _xy_sources(args: argparse.Namespace, reference: Any, classifier: Classifier) -> dict[str, Any]:
    """Per MediaPipe landmark model (those installed), video variant and layout: distance to Kinect and the
    class per checkpoint; for 3D layouts with the world x, y as given and with the image-plane x, y (default)."""
    out: dict[str, Any] = {}
    for model in MODEL_COMPLEXITY:
        for variant, flip, mirror in variants()[1:]:  # the flipped video and the raw one sent with mirror
            try:
                image, world = landmarks(args.data / VIDEO, flip, args.python, estimator_for(model))
            except RuntimeError as exc:  # EstimatorUnavailable: the model is not installed
                out[model] = f"not run: {exc}"
                break
            for layout in TARGETS:
                cell = out.setdefault(f"{model} | {variant} | {layout}", {})
                for xy in ("world", "image") if layout in THREE_D else ("image",):
                    ntu = to_ntu25(from_mediapipe33(image, world, layout, xy), layout, mirror=mirror)
                    row = _row(variant, layout, ntu, reference, classifier)
                    cell[xy] = {"distance_m": round(row["distance_m"], 4), **{
                        name: {"class": a["class"], "p": round(a["p"], 4), "p_expected": round(a["p_expected"], 4)}
                        for name, a in row["classes"].items()}}
    return out


def xy_table(result: dict[str, Any]) -> str:
    """The landmark-model table: per model, video and layout, world x, y -> image-plane x, y."""
    checkpoints = list(result["checks"]["kinect"])
    headers = ["model", "video", "layout", "distance (m)", *(f"{c}: class, p(drink water)" for c in checkpoints)]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for key, cell in result["checks"]["xy_source"].items():
        if isinstance(cell, str):
            lines.append(f"| {key} | {cell} |")
            continue
        runs = [cell[xy] for xy in ("world", "image") if xy in cell]
        distance = " → ".join(f"{r['distance_m']:.3f}" for r in runs)
        answers = [" → ".join(f"A{r[c]['class']} {r[c]['p_expected']:.2f}" for r in runs) for c in checkpoints]
        lines.append("| " + " | ".join([*key.split(" | "), distance, *answers]) + " |")
    return "\n".join(lines)


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
    checks = "\n".join(f"{k}: {v}" for k, v in result["checks"].items() if k not in ("kinect", "xy_source"))
    return "\n\n".join([format_environment(result["environment"]), table(result), xy_table(result), checks])


def update_docs(path: Path, result: dict[str, Any]) -> None:
    """Replace the text between each pair of markers in `path` with its table."""
    text = path.read_text(encoding="utf-8")
    for name, render_table in (("paired_video", table), ("paired_xy", xy_table)):
        begin, end_marker = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
        start, end = text.index(begin) + len(begin), text.index(end_marker)
        text = text[:start] + "\n" + render_table(result) + "\n" + text[end:]
    path.write_text(text, encoding="utf-8")


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
