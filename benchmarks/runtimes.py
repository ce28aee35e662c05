"""The encoder per runtime and precision on this CPU: onnxruntime (graph optimization levels) vs OpenVINO f32/mixed/bf16.

Times the bundle's single-person graph (one person, the real mix's common case) and the full two-person
encoder at batch 1 on one thread, on real preprocessed NTU clips, all in one run so the ratios share the
machine's load; reports ms per clip, the ratio to onnxruntime (all optimizations), and the largest
difference and cosine of each output to onnxruntime f32.

    .venv/bin/python -m benchmarks.runtimes [--bundle PATH] [--threads 1] [--repeats 10] [--out r.json]

--repeats is the number of rounds; each round calls every candidate once, in turn.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import common_args, environment, format_environment, format_table, run_and_report

REPO_ROOT = Path(__file__).resolve().parents[1]
ORT_LEVELS = {"basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}


def ort_graph(path: Path, threads: int, level: str) -> Any:
    """An onnxruntime CPU session at one graph-optimization level."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, ORT_LEVELS[level])
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Smallest row-wise cosine similarity of two (N, D) arrays."""
    num = np.sum(a * b, axis=1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return float(np.min(num / den))


def candidates(path: Path, threads: int) -> dict[str, Any]:
    """Every runtime/precision to time on one graph file."""
    from service.engine.openvino_graph import OpenVinoGraph
    from service.engine.runtimes import BF16_FLAGS, cpu_flags, openvino_installed

    out = {f"onnxruntime f32 ({level})": ort_graph(path, threads, level) for level in ORT_LEVELS}
    if openvino_installed():
        out["openvino f32"] = OpenVinoGraph(path, precision="f32", streams=1, threads=threads)
        if any(f in cpu_flags() for f in BF16_FLAGS):
            out["openvino mixed"] = OpenVinoGraph(path, precision="mixed", streams=1, threads=threads)
            out["openvino bf16"] = OpenVinoGraph(path, precision="bf16", streams=1, threads=threads)
    return out


def interleaved_ms(calls: dict[str, Any], rounds: int, warmup: int) -> dict[str, list[float]]:
    """Per-call milliseconds of every candidate, one call each per round in turn (so all share the load)."""
    for fn in calls.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {label: [] for label in calls}
    for _ in range(rounds):
        for label, fn in calls.items():
            t0 = time.perf_counter()
            fn()
            samples[label].append((time.perf_counter() - t0) * 1e3)
    return samples


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Time every candidate on both encoder graphs with the real clips, interleaved round by round."""
    from benchmarks.cpu_policy import DEFAULT_SKELETON_DIR, ensure_bundle, real_mix
    from model.bundle import read_manifest
    from model.bundle_spec import graph_file

    bundle = ensure_bundle(args.bundle, args.demo_dir)
    clips = real_mix(read_manifest(bundle).num_frames, DEFAULT_SKELETON_DIR)
    two = int(np.argmax(np.abs(clips[..., 1]).sum(axis=(1, 2, 3))))
    inputs = {"single_person": ("person", clips[[i for i in range(len(clips)) if i != two]][..., 0]),
              "encoder": ("skeleton", clips[[two]])}
    rows = []
    for graph, (name, x) in inputs.items():
        graphs = candidates(bundle / graph_file(graph), args.threads)
        reference = graphs["onnxruntime f32 (all)"].run(["feature"], {name: x})[0]
        one = {name: np.ascontiguousarray(x[:1])}
        samples = interleaved_ms({label: (lambda s=session, f=one: s.run(["feature"], f)) for label, session in graphs.items()},
                                 args.repeats, args.warmup)
        base = float(np.median(samples["onnxruntime f32 (all)"]))
        for label, session in graphs.items():
            feature = session.run(["feature"], {name: x})[0]
            ms = float(np.median(samples[label]))
            rows.append({"graph": graph, "runtime": label, "median_ms": ms,
                         "p90_ms": float(np.percentile(samples[label], 90)), "speedup_vs_ort_all": base / ms,
                         "max_abs_diff": float(np.abs(feature - reference).max()),
                         "min_cosine": cosine(feature, reference), "load_average_1m": os.getloadavg()[0]})
            print(f"  {graph} {label}: {ms:.1f} ms", file=sys.stderr, flush=True)
    return {"benchmark": "runtimes", "environment": environment(args.threads), "bundle": str(bundle),
            "loadavg": Path("/proc/loadavg").read_text().strip(), "rows": rows,
            "settings": {k: str(v) for k, v in vars(args).items()}}


def render(result: dict[str, Any]) -> str:
    """The printed table."""
    keys = ["graph", "runtime", "median_ms", "p90_ms", "speedup_vs_ort_all", "max_abs_diff", "min_cosine",
            "load_average_1m"]
    return "\n".join([format_environment(result["environment"]), f"bundle: {result['bundle']}", "",
                      format_table(keys, [[r[k] for k in keys] for r in result["rows"]])])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.runtimes", description=__doc__.splitlines()[0])
    p.add_argument("--bundle", type=Path, default=None, help="model bundle (default: the demo bundle)")
    p.add_argument("--demo-dir", type=Path, default=Path("~/.cache/scale/bench-demo-bundle").expanduser())
    return common_args(p, repeats=10).parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run, print, optionally write JSON."""
    return run_and_report(parse_args, run, render, argv)


if __name__ == "__main__":
    sys.exit(main())
