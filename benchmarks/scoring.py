"""Scoring cost: factorised scorer (cached class side) vs the naive per-pair scorer vs onnxruntime, on CPU.

    .venv/bin/python -m benchmarks.scoring [--batches 1 16 256] [--classes 5 60 120 1000] [--out r.json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

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
from benchmarks.fixtures import export_random_bundle, random_features, random_models, random_text
from benchmarks.naive import NaiveScorer
from model.bundle_spec import graph_file


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.scoring", description=__doc__.splitlines()[0])
    p.add_argument("--batches", type=int, nargs="+", default=[1, 16, 256], help="B values")
    p.add_argument("--classes", type=int, nargs="+", default=[5, 60, 120, 1000], help="K values")
    p.add_argument("--no-onnx", action="store_true", help="skip the onnxruntime column (no export)")
    p.add_argument("--max-seconds", type=float, default=8.0, help="time budget per cell and method")
    return common_args(p, repeats=15).parse_args(argv)


def _ms(t: Any) -> tuple[float, float]:
    return t.median_s * 1e3, t.p90_s * 1e3


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Measure every (B, K) cell; returns the JSON-ready result."""
    set_threads(args.threads)
    encoder, scorer = random_models(seed=0)
    naive = NaiveScorer(scorer).eval()
    sessions: dict[str, Any] = {}
    tmp = None
    if not args.no_onnx:
        tmp = tempfile.TemporaryDirectory(prefix="scale-bench-")
        # the encoder graph is irrelevant here; 4 frames keeps the export fast
        root = export_random_bundle(Path(tmp.name) / "bundle", encoder, scorer, num_frames=4)
        sessions = {g: ort_session(root / graph_file(g), args.threads) for g in ("class_side", "sample_side")}
    timing = dict(repeats=args.repeats, warmup=args.warmup, max_total_s=args.max_seconds)
    class_rows, cells = [], []
    try:
        for k in args.classes:
            g, tok, mask = random_text(k, seed=k)
            tg, tt, tm = (torch.from_numpy(a) for a in (g, tok, mask))
            with torch.inference_mode():
                cls = scorer.class_side_from_tensors(tg, tt, tm)
                t_cls = time_call(lambda tg=tg, tt=tt, tm=tm: scorer.class_side_from_tensors(tg, tt, tm), **timing)
            row: dict[str, Any] = {"K": k, "torch_class_side": t_cls}
            cls_np = [c.numpy() for c in cls]
            if sessions:
                feeds = {"text_global": g, "text_tokens": tok, "token_mask": mask}
                row["ort_class_side"] = time_call(lambda f=feeds: sessions["class_side"].run(None, f), **timing)
                ort_cls = sessions["class_side"].run(None, feeds)
                row["ort_class_side_max_abs_diff"] = max(float(np.abs(a - b).max()) for a, b in zip(ort_cls, cls_np,
                                                                                                strict=True))
            class_rows.append(row)
            for b in args.batches:
                x_np = random_features(b, seed=b)
                x = torch.from_numpy(x_np)
                cell: dict[str, Any] = {"B": b, "K": k}
                with torch.inference_mode():
                    e_fact, _ = scorer.score_from_tensors(x, *cls)
                    e_naive, _ = naive(x, tg, tt, tm)
                    cell["naive_vs_factorised_max_abs_diff"] = float((e_fact - e_naive).abs().max())
                    cell["torch_factorised"] = time_call(lambda x=x, c=cls: scorer.score_from_tensors(x, *c), **timing)
                    cell["torch_naive"] = time_call(lambda x=x, a=(tg, tt, tm): naive(x, *a), **timing)
                if sessions:
                    feeds = {"feature": x_np, "enc_c": cls_np[0], "dec_c": cls_np[1], "prior_mu": cls_np[2],
                             "prior_logvar": cls_np[3]}
                    e_ort = sessions["sample_side"].run(None, feeds)[0]
                    cell["ort_vs_torch_max_abs_diff"] = float(np.abs(e_ort - e_fact.numpy()).max())
                    cell["ort_sample_side"] = time_call(lambda f=feeds: sessions["sample_side"].run(None, f), **timing)
                cells.append(cell)
                print(f"  done B={b} K={k}", file=sys.stderr, flush=True)
    finally:
        if tmp is not None:
            tmp.cleanup()
    return {"benchmark": "scoring", "environment": environment(args.threads), "class_side": class_rows,
            "cells": cells, "settings": vars(args) | {"out": str(args.out)}}


def render(result: dict[str, Any]) -> str:
    """The printed report: environment, class-side table, scoring table."""
    cls_rows = []
    for r in result["class_side"]:
        ort = r.get("ort_class_side")
        cls_rows.append([r["K"], *_ms(r["torch_class_side"]), *(_ms(ort) if ort else (None, None))])
    rows = []
    for c in result["cells"]:
        fact, naive, ort = c["torch_factorised"], c["torch_naive"], c.get("ort_sample_side")
        rows.append([c["B"], c["K"], *_ms(fact), *_ms(naive), naive.median_s / fact.median_s,
                     *(_ms(ort) if ort else (None, None)), fact.median_s / ort.median_s if ort else None,
                     c["naive_vs_factorised_max_abs_diff"]])
    return "\n\n".join([
        format_environment(result["environment"]),
        "Class side, computed once per class set (ms):\n" + format_table(
            ["K", "torch med", "torch p90", "ort med", "ort p90"], cls_rows),
        "Scoring B samples x K classes (ms per call; class side cached for 'factorised' and 'ort'):\n"
        + format_table(["B", "K", "fact med", "fact p90", "naive med", "naive p90", "naive/fact",
                        "ort med", "ort p90", "fact/ort", "|dE| naive"], rows),
    ])


def main(argv: list[str] | None = None) -> int:
    """Run, print, optionally write JSON."""
    return run_and_report(parse_args, run, render, argv)


if __name__ == "__main__":
    sys.exit(main())
