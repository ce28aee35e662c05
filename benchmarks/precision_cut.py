"""Where bf16 loses accuracy in Shift-GCN: the graph cut after unit k, units 1..k in f32 and the rest in bf16.

For each official checkpoint, the single-person graph runs on the first person of every real clip (as in
benchmarks/accuracy_gate.py) under OpenVINO with units l1..lk in f32 and l(k+1)..l10 in bf16, for k = 0
(bf16 throughout) to 10 (f32 throughout); reports the smallest feature cosine to onnxruntime f32 and the ms
per call (batch 1, one thread, interleaved). The service's "mixed" precision is the cut chosen from this
(service/engine/openvino_graph.py, F32_HEAD_UNITS).

    .venv/bin/python -m benchmarks.precision_cut [--data ../shared/data] [--repeats 8] [--out r.json]
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
CUTS = [1, 2, 3, 4, 6, 8, 9]


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Cosine and time per cut, per checkpoint."""
    from benchmarks.accuracy_gate import (
        CHECKPOINTS,
        COSINE_MIN,
        cosines,
        encoder_input,
        export_encoder_graphs,
        real_clips,
    )
    from benchmarks.runtimes import interleaved_ms, ort_graph
    from service.engine.openvino_graph import F32_HEAD_UNITS, OpenVinoGraph

    clips = real_clips(args.data)
    person = np.ascontiguousarray(encoder_input(clips)[..., 0])
    rows = []
    with tempfile.TemporaryDirectory(prefix="scale-cut-") as tmp:
        for label, file in CHECKPOINTS.items():
            path = export_encoder_graphs(args.data / "shiftgcn" / file, Path(tmp) / label)["single_person"]
            reference = ort_graph(path, 1, "all").run(["feature"], {"person": person})[0]
            graphs = {"bf16 throughout (k=0)": OpenVinoGraph(path, precision="bf16", streams=1, threads=1)}
            graphs.update({f"l1..l{k} in f32": OpenVinoGraph(path, precision="mixed", streams=1, threads=1, head_units=k)
                           for k in CUTS})
            graphs["f32 throughout (k=10)"] = OpenVinoGraph(path, precision="f32", streams=1, threads=1)
            one = {"person": person[:1]}
            samples = interleaved_ms({name: (lambda g=g, f=one: g.run(["feature"], f)) for name, g in graphs.items()},
                                     args.repeats, args.warmup)
            for name, graph in graphs.items():
                cos = float(cosines(graph.run(["feature"], {"person": person})[0], reference).min())
                rows.append({"checkpoint": label, "f32 head": name, "min_cosine": cos, "passes": cos >= COSINE_MIN,
                             "median_ms": float(np.median(samples[name])), "load_average_1m": os.getloadavg()[0]})
                print(f"  {label} {name}: cosine {cos:.6f}", file=sys.stderr, flush=True)
    return {"benchmark": "precision_cut", "environment": environment(1), "clips": list(clips), "chosen": F32_HEAD_UNITS,
            "cosine_min": COSINE_MIN, "loadavg": Path("/proc/loadavg").read_text().strip(), "rows": rows}


def render(result: dict[str, Any]) -> str:
    """The printed table."""
    keys = ["checkpoint", "f32 head", "min_cosine", "passes", "median_ms", "load_average_1m"]
    return "\n".join([format_environment(result["environment"]), f"{len(result['clips'])} real clips; "
                      f"gate: cosine >= {result['cosine_min']}; chosen: l1..l{result['chosen']} in f32",
                      f"loadavg at the end: {result['loadavg']}", "",
                      format_table(keys, [[r[k] for k in keys] for r in result["rows"]])])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.precision_cut", description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    return common_args(p, repeats=8).parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run, print, optionally write JSON."""
    return run_and_report(parse_args, run, render, argv)


if __name__ == "__main__":
    sys.exit(main())
