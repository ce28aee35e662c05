"""What a pose-estimator layout costs: real NTU clips -> each layout -> back to NTU-25 -> official Shift-GCN.

    python -m benchmarks.layout_cost [--data ../shared/data] [--threshold 0.3] [--out r.json]

Each of the five real NTU-60 clips is read and preprocessed exactly as the Shift-GCN tests do (read_skeleton,
preprocess_batch with T' = 300), encoded by the official X-sub checkpoint, and compared with the same clip
converted into a layout (keeping only what that layout has), mapped back with model.layouts.to_ntu25 and
encoded again: top-1 over the five clips and the cosine similarity of the 256-d feature to the native one.

NTU -> layout (benchmark only): joints with an NTU counterpart are copied (the tables below). NTU has no face
points, knuckles, toes or heels: the face points take NTU's Head, the knuckles NTU's Hand, the toes NTU's Foot
and the heels NTU's Ankle (the mapping back uses only the mean of the two ears for the head). 3D layouts get
camera axes (x, y, z) -> (-x, -y, z); MediaPipe is moved to its hip-centre origin. 2D layouts are a pinhole
projection with Kinect v2 depth-camera intrinsics (f = 365 px, centre (256, 212)), i.e. the depth is dropped.
Empty NTU joints (absent bodies) stay all zero, i.e. missing.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import environment, format_environment, format_table, run_and_report
from model.config import PreprocessConfig
from model.layouts import DEFAULT_CONFIDENCE_THRESHOLD, LAYOUTS, to_ntu25
from model.preprocess import preprocess_batch, to_encoder_input
from model.shift_gcn import load_shift_gcn
from model.skeleton_io import parse_sample_name, read_skeleton

CHECKPOINT = "shiftgcn/ntu_ShiftGCN_joint_xsub.pt"
CLIPS = "skeletons/ntu60_raw"
FOCAL_PX, CENTRE_PX = 365.0, (256.0, 212.0)  # Kinect v2 depth camera (fits depthX/depthY of the real files)
HEAD, HAND_L, HAND_R, FOOT_L, FOOT_R, ANKLE_L, ANKLE_R = 3, 7, 11, 15, 19, 14, 18
# source joint i of each layout <- NTU joint FROM_NTU[layout][i]
FROM_NTU = {
    "coco17": (HEAD, HEAD, HEAD, HEAD, HEAD, 4, 8, 5, 9, 6, 10, 12, 16, 13, 17, 14, 18),
    "mediapipe33": (HEAD,) * 11 + (4, 8, 5, 9, 6, 10, HAND_L, HAND_R, HAND_L, HAND_R, 22, 24, 12, 16, 13, 17, 14,
                                   18, ANKLE_L, ANKLE_R, FOOT_L, FOOT_R),
    "openpose25": (HEAD, 20, 8, 9, 10, 4, 5, 6, 0, 16, 17, 18, 12, 13, 14, HEAD, HEAD, HEAD, HEAD, FOOT_L, FOOT_L,
                   ANKLE_L, FOOT_R, FOOT_R, ANKLE_R),
}
VARIANTS = ("ntu25", "coco17-3d", "coco17", "mediapipe33", "openpose25-3d", "openpose25")


def from_ntu(ntu: np.ndarray, layout: str) -> np.ndarray:
    """(M,T,25,3) NTU -> the layout's (M,T,V,2|3) array by the rules in the module docstring."""
    if layout == "ntu25":
        return ntu.copy()
    empty = np.all(ntu == 0, axis=-1)
    picks = list(FROM_NTU[layout.removesuffix("-3d")])
    cam = ntu[..., picks, :] * np.array([-1.0, -1.0, 1.0])  # NTU axes -> camera axes (x right, y down)
    if layout == "mediapipe33":
        cam = cam - (cam[..., 23:24, :] + cam[..., 24:25, :]) / 2.0
        cam[..., 2] /= LAYOUTS[layout].depth_scale  # MediaPipe's depth motion, undone by to_ntu25
    if LAYOUTS[layout].dims == 2:
        z = np.where(empty[..., picks], 1.0, cam[..., 2:3].squeeze(-1))[..., None]
        cam = FOCAL_PX * cam[..., :2] / z + np.array(CENTRE_PX)
    cam[empty[..., picks]] = 0.0
    return cam


def _features(model: torch.nn.Module, seqs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    x = torch.from_numpy(to_encoder_input(preprocess_batch(seqs, PreprocessConfig(num_frames=300))))
    with torch.no_grad():
        feature, logits = model.forward_both(x)
    return feature.numpy().astype(np.float64), logits.argmax(1).numpy()


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    default_data = Path(os.environ.get("SCALE_SHARED_DATA", Path(__file__).resolve().parents[1].parent
                                       / "shared" / "data"))
    p = argparse.ArgumentParser(prog="python -m benchmarks.layout_cost", description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=default_data, help="folder with shiftgcn/ and skeletons/")
    p.add_argument("--threshold", type=float, default=DEFAULT_CONFIDENCE_THRESHOLD, help="confidence threshold")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--out", type=Path, default=None, help="also write the results as JSON here")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Encode the native clips and every layout variant; top-1 and feature cosine per variant."""
    torch.set_num_threads(args.threads)
    model = load_shift_gcn(args.data / CHECKPOINT)
    files = sorted((args.data / CLIPS).glob("*.skeleton"))
    if not files:
        raise SystemExit(f"no .skeleton files in {args.data / CLIPS}")
    native = [read_skeleton(f).joints for f in files]
    labels = np.array([parse_sample_name(f).label for f in files])
    ref, ref_pred = _features(model, native)
    rows = []
    for variant in VARIANTS:
        mapped = [to_ntu25(from_ntu(s.astype(np.float64), variant), variant, args.threshold) for s in native]
        feat, pred = _features(model, mapped)
        cos = _cosine(feat, ref)
        rows.append({"variant": variant, "dims": LAYOUTS[variant].dims, "correct": int((pred == labels).sum()),
                     "clips": len(files), "cos_mean": float(cos.mean()), "cos_min": float(cos.min()),
                     "predictions": pred.tolist(), "cosines": cos.tolist()})
    return {"benchmark": "layout_cost", "environment": environment(args.threads), "clips": [f.name for f in files],
            "labels": labels.tolist(), "native_correct": int((ref_pred == labels).sum()), "rows": rows,
            "settings": {"threshold": args.threshold, "checkpoint": CHECKPOINT}}


def render(result: dict[str, Any]) -> str:
    """The printed report: environment and one row per layout variant."""
    rows = [[r["variant"], f"{r['dims']}D", f"{r['correct']}/{r['clips']}", r["cos_mean"], r["cos_min"]]
            for r in result["rows"]]
    return "\n\n".join([format_environment(result["environment"]),
                        f"native NTU-25: {result['native_correct']}/{len(result['labels'])} correct",
                        format_table(["layout", "input", "top-1", "cos mean", "cos min"], rows)])


def main(argv: list[str] | None = None) -> int:
    """Run, print, optionally write JSON."""
    return run_and_report(parse_args, run, render, argv)


if __name__ == "__main__":
    sys.exit(main())
