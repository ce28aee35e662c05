"""Which CPU serving policy is fastest: batch sizes with all threads vs single-thread runs side by side.

Drives the service's InferenceEngine (encoder + single-person path) on the real-clip mix (four one-person
NTU clips to one two-person clip, preprocessed) for a fixed time per configuration and reports clips/s
and the batch-size curve, with the single-person path off (today) and on.

    .venv/bin/python -m benchmarks.cpu_policy --bundle PATH [--batches 1 2 4 8 16] [--seconds 4] [--out r.json]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import environment, format_environment, format_table, run_and_report

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SKELETON_DIR = REPO_ROOT.parent / "shared" / "data" / "skeletons" / "ntu60_raw"


def ensure_bundle(path: Path | None, demo_dir: Path) -> Path:
    """The given bundle, or the demo bundle (random-init text tower; built once, reused afterwards)."""
    if path is not None:
        return path
    from training.demo import build_demo_bundle

    return build_demo_bundle(demo_dir)


def real_mix(num_frames: int, skeleton_dir: Path = DEFAULT_SKELETON_DIR) -> np.ndarray:
    """The five real clips preprocessed to (5, 3, T, 25, 2): four with one person, one with two."""
    from model.config import PreprocessConfig
    from model.preprocess import preprocess_batch, to_encoder_input
    from model.skeleton_io import read_skeleton

    files = sorted(skeleton_dir.glob("*.skeleton"))
    if not files:
        raise SystemExit(f"no .skeleton files in {skeleton_dir}")
    return to_encoder_input(preprocess_batch([read_skeleton(f).joints for f in files],
                                             PreprocessConfig(num_frames=num_frames)))


def measure(bundle_path: Path, clips: np.ndarray, *, batch: int, workers: int, threads: int, single: bool,
            seconds: float) -> dict[str, Any]:
    """clips/s of `workers` threads each running batches of `batch` clips (cycling the mix) for `seconds`."""
    import onnxruntime as ort

    from model.bundle import load_bundle
    from service.engine.inference import InferenceEngine

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    engine = InferenceEngine(load_bundle(bundle_path, ["CPUExecutionProvider"], session_options=options), batch,
                             single_person=single)
    order = np.resize(np.arange(len(clips)), batch * 50)
    batches = [clips[order[i:i + batch]] for i in range(0, len(order), batch)]
    for x in batches[:2]:
        engine.features(x)  # warm-up
    done = [0] * workers
    stop = time.perf_counter() + seconds

    def loop(w: int) -> None:
        i = w
        while time.perf_counter() < stop:
            engine.features(batches[i % len(batches)])
            done[w] += batch
            i += workers

    start = time.perf_counter()
    pool = [threading.Thread(target=loop, args=(w,)) for w in range(workers)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    wall = time.perf_counter() - start
    return {"batch": batch, "workers": workers, "threads": threads, "single_person": single,
            "clips": sum(done), "wall_s": wall, "clips_per_s": sum(done) / wall,
            "load_average_1m": os.getloadavg()[0]}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every configuration, one after the other, in one process (the ratios are what matters)."""
    bundle = ensure_bundle(args.bundle, args.demo_dir)
    from model.bundle import read_manifest

    clips = real_mix(read_manifest(bundle).num_frames)
    cores = len(os.sched_getaffinity(0))
    configs = [(b, 1, cores, single) for single in (False, True) for b in args.batches]
    configs += [(b, cores, 1, True) for b in args.batches if b <= 4] + [(1, cores, 1, False)]
    rows = []
    for batch, workers, threads, single in configs:
        rows.append(measure(bundle, clips, batch=batch, workers=workers, threads=threads, single=single,
                            seconds=args.seconds))
        print(f"  {rows[-1]}", file=sys.stderr, flush=True)
    return {"benchmark": "cpu_policy", "environment": environment(), "bundle": str(bundle),
            "mix": "4 one-person : 1 two-person real NTU clips", "rows": rows,
            "settings": {k: str(v) for k, v in vars(args).items()}}


def render(result: dict[str, Any]) -> str:
    """The printed report."""
    keys = ["batch", "workers", "threads", "single_person", "clips_per_s", "load_average_1m"]
    return "\n".join([format_environment(result["environment"]), f"bundle: {result['bundle']}",
                      f"traffic: {result['mix']}", "", format_table(keys, [[r[k] for k in keys]
                                                                           for r in result["rows"]])])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.cpu_policy", description=__doc__.splitlines()[0])
    p.add_argument("--bundle", type=Path, default=None, help="model bundle (default: the demo bundle)")
    p.add_argument("--demo-dir", type=Path, default=Path("~/.cache/scale/bench-demo-bundle").expanduser())
    p.add_argument("--batches", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    p.add_argument("--seconds", type=float, default=4.0, help="measured time per configuration")
    p.add_argument("--out", type=Path, default=None, help="also write the results as JSON here")
    args = p.parse_args(argv)
    if min(args.batches) < 1 or args.seconds <= 0:
        p.error("--batches must be >= 1 and --seconds > 0")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run, print, optionally write JSON."""
    return run_and_report(parse_args, run, render, argv)


if __name__ == "__main__":
    sys.exit(main())
