"""Shift-GCN encoder cost per sample at T=300: torch CPU vs onnxruntime CPU (fp32, fp16), plus parameter counts.

    .venv/bin/python -m benchmarks.encoder [--batches 1 8 32] [--frames 300] [--no-fp16] [--out r.json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from benchmarks.common import (
    common_args,
    environment,
    format_environment,
    format_table,
    ort_session,
    run_and_report,
    set_threads,
    time_call,
)
from benchmarks.fixtures import export_random_bundle, random_models
from model.bundle_spec import graph_file
from model.scorer import ScaleScorer
from model.shift_gcn import ShiftGCN

PAPER_TOTAL_PARAMS = 2.43e6  # SCALE paper: encoder + scorer
PAPER_MS_PER_SAMPLE = 0.454  # SCALE paper, per sample, on the authors' (unnamed here) GPU
INFERENCE_EXCLUDED = ("proto_head.",)  # the prototype head g only feeds L_proto during training


def count_params(module: nn.Module, exclude_prefixes: tuple[str, ...] = ()) -> int:
    """Number of parameter elements, skipping parameters whose name starts with an excluded prefix."""
    return sum(p.numel() for name, p in module.named_parameters() if not name.startswith(exclude_prefixes))


def parameter_counts(encoder: ShiftGCN, scorer: ScaleScorer) -> dict[str, int]:
    """Encoder (with/without the fc head) and scorer (all / inference path) parameter counts."""
    counts = {
        "encoder_total": count_params(encoder),
        "encoder_without_fc": count_params(encoder, ("fc.",)),
        "scorer_total": count_params(scorer),
        "scorer_inference": count_params(scorer, INFERENCE_EXCLUDED),
    }
    counts["encoder_plus_scorer"] = counts["encoder_total"] + counts["scorer_total"]
    counts["inference_path"] = counts["encoder_without_fc"] + counts["scorer_inference"]
    return counts


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.encoder", description=__doc__.splitlines()[0])
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32], help="batch sizes")
    p.add_argument("--frames", type=int, default=300, help="T, a multiple of 4")
    p.add_argument("--no-fp16", action="store_true", help="skip the fp16 bundle variant")
    p.add_argument("--max-seconds", type=float, default=15.0, help="time budget per cell and method")
    return common_args(p, repeats=10).parse_args(argv)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Time every batch size with every runtime; returns the JSON-ready result."""
    set_threads(args.threads)
    encoder, scorer = random_models(seed=0)
    timing = dict(repeats=args.repeats, warmup=args.warmup, max_total_s=args.max_seconds, min_block_s=0.0)
    variants = ["fp32"] if args.no_fp16 else ["fp32", "fp16"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        root = export_random_bundle(Path(tmp) / "bundle", encoder, scorer, num_frames=args.frames,
                                    fp16=not args.no_fp16)
        sessions = {v: ort_session(root / graph_file("encoder", v), args.threads) for v in variants}
        for b in args.batches:
            x_np = np.random.default_rng(b).standard_normal((b, 3, args.frames, 25, 2)).astype(np.float32)
            x = torch.from_numpy(x_np)
            with torch.inference_mode():
                want = encoder.forward_features(x).numpy()
                row: dict[str, Any] = {"batch": b, "torch_fp32": time_call(lambda x=x: encoder.forward_features(x),
                                                                            **timing)}
            for v, sess in sessions.items():
                feature = sess.run(["feature"], {"skeleton": x_np})[0]
                row[f"ort_{v}_max_abs_diff"] = float(np.abs(feature - want).max())
                row[f"ort_{v}"] = time_call(lambda s=sess, f={"skeleton": x_np}: s.run(["feature"], f), **timing)
            rows.append(row)
            print(f"  done batch={b}", file=sys.stderr, flush=True)
    return {"benchmark": "encoder", "environment": environment(args.threads), "frames": args.frames,
            "variants": variants, "rows": rows, "params": parameter_counts(encoder, scorer),
            "paper": {"total_params": PAPER_TOTAL_PARAMS, "ms_per_sample": PAPER_MS_PER_SAMPLE},
            "settings": vars(args) | {"out": str(args.out)}}


def render(result: dict[str, Any]) -> str:
    """The printed report: environment, per-sample times, parameter counts next to the paper's."""
    methods = ["torch_fp32"] + [f"ort_{v}" for v in result["variants"]]
    headers = ["batch"]
    for m in methods:
        headers += [f"{m} med ms/sample", f"{m} p90"]
    headers += [f"torch/{m[4:]}" for m in methods[1:]] + [f"|df| {m[4:]}" for m in methods[1:]]
    rows = []
    for r in result["rows"]:
        b, line = r["batch"], [r["batch"]]
        for m in methods:
            line += [r[m].median_s * 1e3 / b, r[m].p90_s * 1e3 / b]
        line += [r["torch_fp32"].median_s / r[m].median_s for m in methods[1:]]
        line += [r[f"{m}_max_abs_diff"] for m in methods[1:]]
        rows.append(line)
    p = result["params"]
    param_rows = [[k, v, f"{v / 1e6:.3f} M"] for k, v in p.items()]
    param_rows.append(["paper (SCALE total)", int(PAPER_TOTAL_PARAMS), f"{PAPER_TOTAL_PARAMS / 1e6:.2f} M"])
    return "\n\n".join([
        format_environment(result["environment"]),
        f"Encoder forward at T={result['frames']} (ms per sample = call time / batch):\n"
        + format_table(headers, rows),
        "Parameters:\n" + format_table(["part", "count", "millions"], param_rows),
        f"Paper: {PAPER_MS_PER_SAMPLE} ms per sample on the authors' GPU; the figures above are CPU times on "
        "another machine and are not comparable in absolute terms.",
    ])


def main(argv: list[str] | None = None) -> int:
    """Run, print, optionally write JSON."""
    return run_and_report(parse_args, run, render, argv)


if __name__ == "__main__":
    sys.exit(main())
