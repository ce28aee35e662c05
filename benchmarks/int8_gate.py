"""int8 encoder with static calibration (NNCF post-training quantization for OpenVINO): accuracy gate and speed.

For each official Shift-GCN checkpoint, the encoder graphs are exported (benchmarks.accuracy_gate) and
quantized by NNCF on calibration windows of the real PKU-MMD sequence that are none of the gate's clips
(shifted by half a stride), once over the whole graph and once with units l1..l4 left in f32 (where mixed
precision keeps them). Each is gated like the other precisions (top-1 unchanged on every real clip, feature
cosine >= 0.999 to onnxruntime f32) and timed against OpenVINO f32 and mixed on the single-person graph
(batch 1, one thread, interleaved rounds).

    pip install -e '.[int8]'        # NNCF, for this script only; serving never needs it
    .venv/bin/python -m benchmarks.int8_gate [--data ../shared/data] [--repeats 20] [--out r.json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.accuracy_gate import (
    CHECKPOINTS,
    COSINE_MIN,
    DEFAULT_DATA,
    PKU_STRIDE,
    cosines,
    encoder_input,
    export_encoder_graphs,
    pku_windows,
    real_clips,
)
from benchmarks.common import environment, format_environment, format_table, run_and_report
from benchmarks.runtimes import interleaved_ms, ort_graph

VARIANTS = {"int8": [], "int8, l1-l4 f32": [r".*/l[1-4]/.*"]}


def calibration_clips(data: Path) -> np.ndarray:
    """PKU-MMD windows starting half a stride after the gate's (none is a gate clip), preprocessed."""
    return encoder_input(pku_windows(data, PKU_STRIDE, first=PKU_STRIDE // 2))


def quantize(onnx_path: Path, calib: np.ndarray, ignored: list[str], out: Path) -> Path:
    """NNCF static int8 quantization of one graph, saved as OpenVINO IR."""
    import nncf
    import openvino as ov

    nncf.set_log_level(logging.ERROR)  # its per-node INFO lines would bury the tables in the stored output
    model = ov.Core().read_model(str(onnx_path))
    single = "single_person" in onnx_path.name
    items = [np.ascontiguousarray(calib[i:i + 1, ..., 0] if single else calib[i:i + 1]) for i in range(len(calib))]
    scope = nncf.IgnoredScope(patterns=ignored, validate=False) if ignored else None
    with contextlib.redirect_stdout(io.StringIO()):  # its progress bar, likewise
        quantized = nncf.quantize(model, nncf.Dataset(items), subset_size=len(items), ignored_scope=scope)
    ov.save_model(quantized, str(out))
    return out


def gate(graphs: dict[str, Path], int8: dict[str, Path], x: np.ndarray, names: list[str]) -> dict[str, Any]:
    """Top-1 and cosines of the int8 graphs against onnxruntime f32."""
    from service.engine.openvino_graph import OpenVinoGraph

    ref_feat, ref_logits = ort_graph(graphs["encoder"], 1, "all").run(["feature", "logits"], {"skeleton": x})
    feat, logits = OpenVinoGraph(int8["encoder"], precision="f32", streams=1, threads=1).run(
        ["feature", "logits"], {"skeleton": x})
    one = ~np.any(x[..., 1] != 0, axis=(1, 2, 3))
    person = np.ascontiguousarray(x[one, ..., 0])
    ref_single = ort_graph(graphs["single_person"], 1, "all").run(["feature"], {"person": person})[0]
    single = OpenVinoGraph(int8["single_person"], precision="f32", streams=1, threads=1).run(
        ["feature"], {"person": person})[0]
    changed = [names[i] for i in np.flatnonzero(logits.argmax(1) != ref_logits.argmax(1))]
    worst = float(min(cosines(feat, ref_feat).min(), cosines(single, ref_single).min()))
    return {"top1_changed": changed, "clips": len(names), "min_cosine": worst,
            "passed": not changed and worst >= COSINE_MIN}


def timing(graphs: dict[str, Path], int8: dict[str, dict[str, Path]], x: np.ndarray, repeats: int) -> dict[str, float]:
    """Median ms of one person at batch 1, one thread: onnxruntime, OpenVINO f32 / mixed, each int8 variant."""
    from service.engine.openvino_graph import OpenVinoGraph

    person = {"person": np.ascontiguousarray(x[:1, ..., 0])}
    sessions = {"onnxruntime f32": ort_graph(graphs["single_person"], 1, "all"),
                "openvino f32": OpenVinoGraph(graphs["single_person"], precision="f32", streams=1, threads=1),
                "openvino mixed": OpenVinoGraph(graphs["single_person"], precision="mixed", streams=1, threads=1)}
    sessions |= {f"openvino {v}": OpenVinoGraph(p["single_person"], precision="f32", streams=1, threads=1)
                 for v, p in int8.items()}
    samples = interleaved_ms({k: (lambda s=s: s.run(["feature"], person)) for k, s in sessions.items()}, repeats, 3)
    return {k: float(np.median(v)) for k, v in samples.items()}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Quantize, gate and time per checkpoint."""
    clips = real_clips(args.data)
    names, x = list(clips), encoder_input(clips)
    calib = calibration_clips(args.data)
    rows, times = [], {}
    with tempfile.TemporaryDirectory(prefix="scale-int8-") as tmp:
        for checkpoint, file in CHECKPOINTS.items():
            folder = Path(tmp) / checkpoint
            folder.mkdir()
            graphs = export_encoder_graphs(args.data / "shiftgcn" / file, folder)
            int8 = {variant: {g: quantize(p, calib, ignored, folder / f"{g}-{i}.xml") for g, p in graphs.items()}
                    for i, (variant, ignored) in enumerate(VARIANTS.items())}
            for variant, quantized in int8.items():
                rows.append({"checkpoint": checkpoint, "variant": variant, **gate(graphs, quantized, x, names)})
                print(f"  {checkpoint} {variant}: {rows[-1]}", file=sys.stderr, flush=True)
            times[checkpoint] = timing(graphs, int8, x, args.repeats)
    return {"benchmark": "int8_gate", "environment": environment(1), "calibration_clips": len(calib),
            "rows": rows, "single_person_ms": times, "load_average_1m": os.getloadavg()[0]}


def render(result: dict[str, Any]) -> str:
    """Gate table and timing table."""
    gate_rows = [[r["checkpoint"], r["variant"], f"{r['clips'] - len(r['top1_changed'])}/{r['clips']}",
                  round(r["min_cosine"], 6), r["passed"]] for r in result["rows"]]
    time_rows = [[c, k, round(v, 2), round(t["onnxruntime f32"] / v, 2)]
                 for c, t in result["single_person_ms"].items() for k, v in t.items()]
    return "\n\n".join([format_environment(result["environment"]),
                        f"calibration windows: {result['calibration_clips']}",
                        format_table(["checkpoint", "variant", "top-1 unchanged", "min cosine", "passed"], gate_rows),
                        format_table(["checkpoint", "single-person graph", "median ms", "speed-up vs onnxruntime"],
                                     time_rows),
                        f"load average (1 min) at the end: {result['load_average_1m']:.2f}"])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """--data, --repeats, --out."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.int8_gate", description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--repeats", type=int, default=20, help="timed rounds (each calls every candidate once)")
    p.add_argument("--out", type=Path, default=None, help="also write the results as JSON here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run, print, optionally write JSON."""
    return run_and_report(parse_args, run, render, argv)


if __name__ == "__main__":
    sys.exit(main())
