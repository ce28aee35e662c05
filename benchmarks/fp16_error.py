"""fp16 variant vs fp32: the error table of docs/bundle.md ("fp16 variant"), reproduced and stored.

    python -m benchmarks.fp16_error [--data ../shared/data] [--out r.json]

One bundle with both variants is exported from the official X-sub Shift-GCN checkpoint and the demo-trained
scorer (training.demo.train_demo_scorer, seed 0, real dims, random-init text tower seed 0), then both variants
run on onnxruntime's CPU provider: the encoder on the five real NTU-60 clips at 300 frames (features, logits,
argmax), and the sample side on 200 generated features x 10 classes (training.demo.generated_features, 20 per
class, seed 5) and on the real clips' features (energies, uncertainties, top-1 agreement).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import environment, format_environment, format_table, run_and_report
from model.bundle import load_bundle
from model.bundle_spec import TextInfo
from model.config import DEFAULT_PROMPT_TEMPLATE, PreprocessConfig
from model.preprocess import preprocess_batch, to_encoder_input
from model.shift_gcn import load_shift_gcn
from model.skeleton_io import parse_sample_name, read_skeleton

CHECKPOINT = "shiftgcn/ntu_ShiftGCN_joint_xsub.pt"
CLIPS = "skeletons/ntu60_raw"
LABELS = ("drink water", "eat meal", "brush teeth", "brush hair", "drop", "pick up", "throw", "sit down",
          "stand up", "clapping")


def _top1_same(a: np.ndarray, b: np.ndarray) -> int:
    return int((a.argmin(axis=1) == b.argmin(axis=1)).sum())


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Export both variants, run both, compare."""
    from model.text import load_text_encoder
    from training.demo import generated_features, train_demo_scorer
    from training.export import export_bundle

    torch.set_num_threads(args.threads)
    encoder = load_shift_gcn(args.data / CHECKPOINT).eval()
    text_encoder = load_text_encoder(random_init_seed=0)
    text = text_encoder.encode([DEFAULT_PROMPT_TEMPLATE.format(label=label) for label in LABELS])
    scorer, _ = train_demo_scorer(text, seed=0)
    scorer.eval()
    info = TextInfo(model_name=text_encoder.model_name, prompt_template=DEFAULT_PROMPT_TEMPLATE,
                    weights_id=text_encoder.weights_id)
    with tempfile.TemporaryDirectory(prefix="scale-fp16-") as tmp:
        path = export_bundle(Path(tmp) / "bundle", encoder, scorer, preprocess=PreprocessConfig(), text=info,
                             training={"dataset": "fp16-benchmark"}, fp16=True)
        sizes = {v: (Path(path) / ("" if v == "fp32" else "fp16") / "encoder.onnx").stat().st_size
                 for v in ("fp32", "fp16")}
        b32, b16 = (load_bundle(path, providers=["CPUExecutionProvider"], variant=v) for v in ("fp32", "fp16"))
        files = sorted((args.data / CLIPS).glob("*.skeleton"))
        x = to_encoder_input(preprocess_batch([read_skeleton(f).joints for f in files], PreprocessConfig()))
        labels = np.array([parse_sample_name(f).label for f in files])
        (f32, l32), (f16, l16) = b32.run_encoder(x), b16.run_encoder(x)
        cls32 = b32.run_class_side(text.global_emb, text.tokens, text.mask)
        cls16 = b16.run_class_side(text.global_emb, text.tokens, text.mask)
        gen, _ = generated_features(np.asarray(text.global_emb), n_per_class=20, seed=5)
        (eg32, ug32), (eg16, ug16) = b32.run_sample_side(gen, cls32), b16.run_sample_side(gen, cls16)
        (er32, ur32), (er16, ur16) = b32.run_sample_side(f32, cls32), b16.run_sample_side(f16, cls16)
    rows = [
        {"quantity": "encoder feature", "max_abs_error": float(np.abs(f16 - f32).max()),
         "scale": float(np.abs(f32).max()), "note": ""},
        {"quantity": "encoder logits", "max_abs_error": float(np.abs(l16 - l32).max()),
         "scale": float(np.abs(l32).max()),
         "note": f"argmax identical {int((l16.argmax(1) == l32.argmax(1)).sum())}/{len(files)}; correct "
                 f"fp32 {int((l32.argmax(1) == labels).sum())}, fp16 {int((l16.argmax(1) == labels).sum())}"},
        {"quantity": "energy (generated features)", "max_abs_error": float(np.abs(eg16 - eg32).max()),
         "scale": float(np.abs(eg32).max()),
         "note": f"top-1 identical on {_top1_same(eg16, eg32)}/{len(gen)}; max rel "
                 f"{float((np.abs(eg16 - eg32) / np.abs(eg32)).max()):.1e}"},
        {"quantity": "energy (real clips' features)", "max_abs_error": float(np.abs(er16 - er32).max()),
         "scale": float(np.abs(er32).max()), "note": f"top-1 identical on {_top1_same(er16, er32)}/{len(files)}"},
        {"quantity": "uncertainty", "max_abs_error": float(max(np.abs(ug16 - ug32).max(), np.abs(ur16 - ur32).max())),
         "scale": float(np.abs(ug32).max()), "note": ""},
    ]
    return {"benchmark": "fp16_error", "environment": environment(args.threads), "rows": rows,
            "encoder_bytes": sizes, "clips": [f.name for f in files], "classes": list(LABELS),
            "loadavg": Path("/proc/loadavg").read_text().split()[:3]}


def render(result: dict[str, Any]) -> str:
    """The docs/bundle.md table."""
    rows = [[r["quantity"], f"{r['max_abs_error']:.2g}", f"{r['scale']:.4g}", r["note"]] for r in result["rows"]]
    sizes = result["encoder_bytes"]
    return "\n".join([format_environment(result["environment"]),
                      f"encoder.onnx: fp32 {sizes['fp32'] / 1e6:.1f} MB, fp16 {sizes['fp16'] / 1e6:.1f} MB",
                      format_table(["quantity", "max abs error", "max |value| (fp32)", "note"], rows)])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """--data, --threads, --out."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("SCALE_SHARED_DATA", "../shared/data")))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="write the JSON result here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run, print, store."""
    return run_and_report(parse_args, run, render, argv)


if __name__ == "__main__":
    raise SystemExit(main())
