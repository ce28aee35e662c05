"""Accuracy gate for a reduced-precision encoder runtime, on every real clip in ../shared/data.

For each official Shift-GCN checkpoint (NTU-60 X-sub, NTU-120 X-sub), the encoder graphs are exported and
run on the real clips (the five NTU .skeleton files, the paired video's Kinect skeleton, and windows of
the PKU-MMD sequence), by onnxruntime f32 (the reference) and by the candidate (OpenVINO f32 / mixed / bf16).
Passes when the candidate's top-1 equals the reference's on every clip and every feature (full encoder
and single-person graph) has cosine >= 0.999 to the reference. Then the demo bundle's SCALE ranking of
its classes must be unchanged on every clip. The service's `auto` picks a reduced precision only when it passes
(service/engine/runtimes.py, BF16_PASSED_GATE and MIXED_PASSED_GATE).

    .venv/bin/python -m benchmarks.accuracy_gate [--data ../shared/data] [--precisions f32 mixed bf16] [--out r.json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import write_json

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
CHECKPOINTS = {"ntu60_xsub": "ntu_ShiftGCN_joint_xsub.pt", "ntu120_xsub": "ntu120_ShiftGCN_joint_xsub.pt"}
COSINE_MIN = 0.999
PKU_WINDOW, PKU_STRIDE = 128, 64  # the /detect window (docs/service.md), half-overlapping
NUM_FRAMES = 300


def pku_windows(data: Path, stride: int = PKU_STRIDE, first: int = 0) -> dict[str, np.ndarray]:
    """Windows of PKU_WINDOW frames of every PKU-MMD sequence, starting at `first`, every `stride` frames
    (persons absent from a window left out), as (M, T, 25, 3)."""
    from model.pkummd import read_pkummd_skeleton

    windows = {}
    for pku in sorted((data / "skeletons" / "pkummd_raw").glob("*.txt")):
        joints = read_pkummd_skeleton(pku)
        for start in range(first, joints.shape[1] - PKU_WINDOW + 1, stride):
            window = joints[:, start:start + PKU_WINDOW]
            present = np.any(window != 0, axis=(1, 2, 3))
            windows[f"{pku.stem}[{start}:{start + PKU_WINDOW}]"] = window[present]
    return windows


def real_clips(data: Path, pku_stride: int = PKU_STRIDE) -> dict[str, np.ndarray]:
    """Every real clip as (M, T, 25, 3): NTU .skeleton files, the paired video's skeleton, PKU-MMD windows."""
    from model.skeleton_io import read_skeleton

    files = sorted((data / "skeletons" / "ntu60_raw").glob("*.skeleton"))
    files += sorted((data / "video_paired").glob("*.skeleton"))
    clips = {f.name: read_skeleton(f).joints for f in files}
    clips |= pku_windows(data, pku_stride)
    if len(clips) < 7:
        raise SystemExit(f"expected the real clips under {data}, found {sorted(clips)}")
    return clips


def encoder_input(clips: dict[str, np.ndarray]) -> np.ndarray:
    """The clips preprocessed as the service does: (N, 3, T, 25, 2)."""
    from model.config import PreprocessConfig
    from model.preprocess import preprocess_batch, to_encoder_input

    return to_encoder_input(preprocess_batch(list(clips.values()), PreprocessConfig(num_frames=NUM_FRAMES)))


def export_encoder_graphs(checkpoint: Path, out: Path) -> dict[str, Path]:
    """encoder.onnx (feature, logits) and single_person.onnx of an official checkpoint, as bundles export them."""
    import torch

    from model.bundle_spec import Dims, graph_file, graph_specs
    from model.config import ScaleConfig
    from model.shift_gcn import load_shift_gcn
    from training.export import EncoderGraph, example_inputs
    from training.export_trunk import export_single_person
    from training.onnx_graph import export_graph

    encoder = load_shift_gcn(checkpoint).eval()
    cfg = ScaleConfig()
    dims = Dims(feature_dim=cfg.feature_dim, text_dim=cfg.text_dim, cond_dim=cfg.cond_dim, latent_dim=cfg.latent_dim,
                encoder_hidden=cfg.encoder_hidden, decoder_hidden=cfg.decoder_hidden, num_class=encoder.fc.out_features)
    spec = graph_specs(dims, NUM_FRAMES)["encoder"]
    export_graph(EncoderGraph(encoder, torch.float32).eval(), example_inputs("encoder", dims, NUM_FRAMES), spec,
                 out / graph_file("encoder"))
    export_single_person(encoder, dims, NUM_FRAMES, out, ["fp32"])
    return {"encoder": out / graph_file("encoder"), "single_person": out / graph_file("single_person")}


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two (N, D) arrays."""
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def _graph(path: Path, runtime: str, precision: str) -> Any:
    from benchmarks.runtimes import ort_graph
    from service.engine.openvino_graph import OpenVinoGraph

    if runtime == "onnxruntime":
        return ort_graph(path, 1, "all")
    return OpenVinoGraph(path, precision=precision, streams=1, threads=1)


def gate_checkpoint(graphs: dict[str, Path], names: list[str], x: np.ndarray, precision: str) -> dict[str, Any]:
    """Top-1 and feature cosine of OpenVINO `precision` against onnxruntime f32, per clip."""
    ref_feat, ref_logits = _graph(graphs["encoder"], "onnxruntime", "f32").run(["feature", "logits"], {"skeleton": x})
    feat, logits = _graph(graphs["encoder"], "openvino", precision).run(["feature", "logits"], {"skeleton": x})
    one = ~np.any(x[..., 1] != 0, axis=(1, 2, 3))
    person = np.ascontiguousarray(x[one, ..., 0])
    ref_single = _graph(graphs["single_person"], "onnxruntime", "f32").run(["feature"], {"person": person})[0]
    single = _graph(graphs["single_person"], "openvino", precision).run(["feature"], {"person": person})[0]
    single_cos = np.full(len(x), np.nan)
    single_cos[one] = cosines(single, ref_single)
    cos = cosines(feat, ref_feat)
    clips = [{"clip": n, "top1_f32": int(ref_logits[i].argmax()), "top1": int(logits[i].argmax()),
              "cosine": float(cos[i]), "single_person_cosine": None if np.isnan(single_cos[i]) else float(single_cos[i])}
             for i, n in enumerate(names)]
    worst = float(min(cos.min(), np.nanmin(single_cos) if one.any() else 1.0))
    same = all(c["top1"] == c["top1_f32"] for c in clips)
    return {"precision": precision, "clips": clips, "top1_unchanged": same, "min_cosine": worst,
            "passed": bool(same and worst >= COSINE_MIN)}


def gate_demo_ranking(bundle_path: Path, x: np.ndarray, precision: str) -> dict[str, Any]:
    """The demo bundle's ranking of its own classes on every clip: OpenVINO `precision` vs onnxruntime f32."""
    from model.bundle import load_bundle
    from model.text import make_prompt
    from model.text_onnx import OnnxTextEncoder
    from service.engine.inference import InferenceEngine
    from service.engine.runtimes import EncoderRuntime, encoder_graphs
    from training.demo import DEMO_ACTIONS

    bundle = load_bundle(bundle_path, ["CPUExecutionProvider"])
    text = OnnxTextEncoder.from_bundle(bundle.root, bundle.manifest).encode(
        [make_prompt(a, template=bundle.manifest.text.prompt_template) for a in DEMO_ACTIONS])
    energies = {}
    for runtime in (EncoderRuntime("onnxruntime", "f32", "reference"), EncoderRuntime("openvino", precision, "gate")):
        engine = InferenceEngine(bundle, 1, runtime=runtime, encoder_graphs=encoder_graphs(bundle, runtime, streams=1,
                                                                                             threads=1))
        energies[runtime.name] = engine.score(x, ("demo",), engine.class_side(text.global_emb, text.tokens,
                                                                               text.mask))[0]
    ref, got = np.argsort(energies["onnxruntime"], axis=1), np.argsort(energies["openvino"], axis=1)
    return {"precision": precision, "classes": len(DEMO_ACTIONS), "top1_unchanged": bool(np.all(ref[:, 0] == got[:, 0])),
            "ranking_unchanged": bool(np.all(ref == got)),
            "max_energy_diff": float(np.abs(energies["onnxruntime"] - energies["openvino"]).max()),
            "max_relative_energy_diff": float((np.abs(energies["onnxruntime"] - energies["openvino"])
                                               / np.abs(energies["onnxruntime"])).max())}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every precision through every checkpoint, then the demo ranking."""
    from benchmarks.cpu_policy import ensure_bundle

    clips = real_clips(args.data)
    names, x = list(clips), encoder_input(clips)
    result: dict[str, Any] = {"benchmark": "accuracy_gate", "clips": names, "cosine_min": COSINE_MIN,
                              "checkpoints": {}, "demo": {}}
    with tempfile.TemporaryDirectory(prefix="scale-gate-") as tmp:
        for label, file in CHECKPOINTS.items():
            graphs = export_encoder_graphs(args.data / "shiftgcn" / file, Path(tmp) / label)
            result["checkpoints"][label] = [gate_checkpoint(graphs, names, x, p) for p in args.precisions]
    bundle = ensure_bundle(args.bundle, args.demo_dir)
    result["demo"] = {p: gate_demo_ranking(bundle, x, p) for p in args.precisions}
    result["passed"] = {p: all(g["passed"] for gs in result["checkpoints"].values() for g in gs if g["precision"] == p)
                        and result["demo"][p]["ranking_unchanged"] for p in args.precisions}
    return result


def render(result: dict[str, Any]) -> str:
    """One line per checkpoint and precision, then the demo ranking and the verdict."""
    lines = [f"{len(result['clips'])} real clips: {', '.join(result['clips'])}", ""]
    for label, gates in result["checkpoints"].items():
        for g in gates:
            lines.append(f"{label} openvino {g['precision']}: top-1 unchanged {g['top1_unchanged']} on "
                         f"{len(g['clips'])} clips, min cosine {g['min_cosine']:.6f} -> {'PASS' if g['passed'] else 'FAIL'}")
    for p, d in result["demo"].items():
        lines.append(f"demo bundle openvino {p}: SCALE top-1 unchanged {d['top1_unchanged']}, full ranking of "
                     f"{d['classes']} classes unchanged {d['ranking_unchanged']}, max energy diff {d['max_energy_diff']:.3g} "
                     f"({100 * d['max_relative_energy_diff']:.3g} %)")
    lines.append(f"gate: {result['passed']}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.accuracy_gate", description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--precisions", nargs="+", default=["f32", "mixed", "bf16"], choices=["f32", "mixed", "bf16"])
    p.add_argument("--bundle", type=Path, default=None, help="demo bundle (default: built or reused)")
    p.add_argument("--demo-dir", type=Path, default=Path("~/.cache/scale/bench-demo-bundle").expanduser())
    p.add_argument("--out", type=Path, default=None)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the gate; exit 1 when any precision fails."""
    args = parse_args(argv)
    result = run(args)
    print(render(result))
    write_json(args.out, result)
    return 0 if all(result["passed"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
