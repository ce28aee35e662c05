"""The encoder graphs exported in the reference layout (N, C, T, V) vs the row layout (N, C, V, T), same weights.

Exports the official NTU-120 X-sub checkpoint's two encoder graphs both ways, runs them on the real NTU clips
(the one-person clips through single_person, the two-person clip through encoder) at batch 1 on one thread,
every candidate once per round in turn; reports ms per call, the speed-up of the row layout, and how far the
row layout's features are from the reference layout's under the same runtime and precision.

    .venv/bin/python -m benchmarks.row_layout [--data ../shared/data] [--repeats 12] [--out r.json]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import common_args, environment, format_environment, format_table, run_and_report

REPO_ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = "ntu120_ShiftGCN_joint_xsub.pt"
NUM_FRAMES = 300
PRECISIONS = {"onnxruntime f32": None, "openvino f32": "f32", "openvino mixed": "mixed"}


def export_both_layouts(checkpoint: Path, out: Path) -> dict[tuple[str, str], Path]:
    """(layout, graph) -> ONNX file, for layout in (reference, rows) and graph in (single_person, encoder)."""
    import torch

    from model.bundle_spec import Dims, graph_specs
    from model.config import ScaleConfig
    from model.shift_gcn import load_shift_gcn
    from training.export import EncoderGraph, example_inputs
    from training.export_trunk import single_person_module
    from training.onnx_graph import export_graph

    encoder = load_shift_gcn(checkpoint).eval()
    cfg = ScaleConfig()
    dims = Dims(feature_dim=cfg.feature_dim, text_dim=cfg.text_dim, cond_dim=cfg.cond_dim, latent_dim=cfg.latent_dim,
                encoder_hidden=cfg.encoder_hidden, decoder_hidden=cfg.decoder_hidden, num_class=encoder.fc.out_features)
    specs = graph_specs(dims, NUM_FRAMES)
    person = (torch.randn(2, 3, NUM_FRAMES, 25, generator=torch.Generator().manual_seed(0)),)
    paths = {}
    for layout, rows in (("reference", False), ("rows", True)):
        paths[layout, "encoder"] = out / f"encoder-{layout}.onnx"
        export_graph(EncoderGraph(encoder, torch.float32, row_layout=rows).eval(),
                     example_inputs("encoder", dims, NUM_FRAMES), specs["encoder"], paths[layout, "encoder"])
        paths[layout, "single_person"] = out / f"single_person-{layout}.onnx"
        export_graph(single_person_module(encoder, NUM_FRAMES, torch.float32, row_layout=rows), person,
                     specs["single_person"], paths[layout, "single_person"])
    return paths


def _session(path: Path, precision: str | None) -> Any:
    from benchmarks.runtimes import ort_graph
    from service.engine.openvino_graph import OpenVinoGraph

    return ort_graph(path, 1, "all") if precision is None else OpenVinoGraph(path, precision=precision, streams=1,
                                                                            threads=1)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Time both layouts under every runtime and precision on the real clips, interleaved round by round."""
    from benchmarks.accuracy_gate import cosines
    from benchmarks.cpu_policy import DEFAULT_SKELETON_DIR, real_mix
    from benchmarks.runtimes import interleaved_ms

    clips = real_mix(NUM_FRAMES, DEFAULT_SKELETON_DIR)
    two = int(np.argmax(np.abs(clips[..., 1]).sum(axis=(1, 2, 3))))
    inputs = {"single_person": ("person", clips[[i for i in range(len(clips)) if i != two]][..., 0]),
              "encoder": ("skeleton", clips[[two]])}
    rows = []
    with tempfile.TemporaryDirectory(prefix="scale-layout-") as tmp:
        paths = export_both_layouts(args.data / "shiftgcn" / CHECKPOINT, Path(tmp))
        for graph, (name, x) in inputs.items():
            sessions = {(layout, label): _session(paths[layout, graph], precision)
                        for label, precision in PRECISIONS.items() for layout in ("reference", "rows")}
            one = {name: np.ascontiguousarray(x[:1])}
            samples = interleaved_ms({key: (lambda s=s, f=one: s.run(["feature"], f)) for key, s in sessions.items()},
                                     args.repeats, args.warmup)
            for label in PRECISIONS:
                ref_ms = float(np.median(samples["reference", label]))
                rows_ms = float(np.median(samples["rows", label]))
                ref_feat = sessions["reference", label].run(["feature"], {name: x})[0]
                rows_feat = sessions["rows", label].run(["feature"], {name: x})[0]
                rows.append({"graph": graph, "runtime": label, "reference_ms": ref_ms, "rows_ms": rows_ms,
                             "speedup": ref_ms / rows_ms, "max_abs_diff": float(np.abs(rows_feat - ref_feat).max()),
                             "min_cosine": float(cosines(rows_feat, ref_feat).min()),
                             "load_average_1m": os.getloadavg()[0]})
                print(f"  {graph} {label}: {ref_ms:.1f} -> {rows_ms:.1f} ms", file=sys.stderr, flush=True)
    return {"benchmark": "row_layout", "environment": environment(1), "checkpoint": CHECKPOINT,
            "loadavg": Path("/proc/loadavg").read_text().strip(), "rows": rows,
            "settings": {k: str(v) for k, v in vars(args).items()}}


def render(result: dict[str, Any]) -> str:
    """The printed table."""
    keys = ["graph", "runtime", "reference_ms", "rows_ms", "speedup", "max_abs_diff", "min_cosine", "load_average_1m"]
    return "\n".join([format_environment(result["environment"]), f"checkpoint: {result['checkpoint']}",
                      f"loadavg at the end: {result['loadavg']}", "",
                      format_table(keys, [[r[k] for k in keys] for r in result["rows"]])])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.row_layout", description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    return common_args(p, repeats=12).parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run, print, optionally write JSON."""
    return run_and_report(parse_args, run, render, argv)


if __name__ == "__main__":
    sys.exit(main())
