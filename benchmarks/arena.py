"""Peak RSS of one large request under onnxruntime's memory options, per serving policy (one process per cell).

Each cell runs in a fresh process: load the bundle with the policy's session options, score `--sequences`
one-person sequences the way the batcher would (one run of all of them under `batched`, runs of
`cpu_batch_size` on `workers` threads under `parallel`), then report VmHWM and the RSS 2 s later.

    .venv/bin/python -m benchmarks.arena --bundle PATH [--sequences 16] [--out r.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import environment, format_environment, format_table, write_json
from benchmarks.procmem import peak_rss_mib, rss_mib

CELLS = [  # (policy, arena, mem_pattern, extend strategy)
    ("batched", True, True, "next_power_of_two"),  # the defaults before the per-device policy
    ("batched", True, True, "same_as_requested"),
    ("batched", False, True, "same_as_requested"),
    ("batched", False, False, "same_as_requested"),
    ("parallel", True, True, "next_power_of_two"),
    ("parallel", True, True, "same_as_requested"),  # today's CPU default
    ("parallel", False, False, "same_as_requested"),
]


def child(bundle: str, policy: str, arena: bool, pattern: bool, strategy: str, sequences: int) -> dict[str, Any]:
    """Measure one cell in this process."""
    from model.bundle import ClassTensors, load_bundle
    from service.engine.inference import InferenceEngine
    from service.engine.policy import resolve_policy, session_options
    from service.settings import Settings

    s = Settings(redis_url=None, serving_policy=policy, ort_cpu_arena=arena, ort_mem_pattern=pattern,
                 ort_arena_extend_strategy=strategy)
    pol = resolve_policy(s, "cpu")
    b = load_bundle(bundle, ["CPUExecutionProvider"], session_options=session_options(s, pol))
    engine = InferenceEngine(b, pol.max_batch_size)
    engine.warmup()
    idle = rss_mib(os.getpid())
    d = b.manifest.dims
    rng = np.random.default_rng(0)
    cls = ClassTensors(*(rng.standard_normal((60, w)).astype(np.float32)
                         for w in (d.encoder_hidden, d.decoder_hidden, d.latent_dim, d.latent_dim)))
    x = np.zeros((sequences, 3, b.manifest.num_frames, 25, 2), np.float32)
    x[..., 0] = rng.standard_normal(x[..., 0].shape)
    t0 = time.perf_counter()
    step = pol.max_batch_size
    with ThreadPoolExecutor(pol.workers) as pool:
        list(pool.map(lambda i: engine.score(x[i:i + step], None, cls), range(0, sequences, step)))
    took = time.perf_counter() - t0
    time.sleep(2)
    return {"policy": policy, "cpu_mem_arena": arena, "mem_pattern": pattern, "arena_extend_strategy": strategy,
            "sequences": sequences, "run_size": step, "workers": pol.workers, "seconds": took,
            "idle_rss_mib": idle, "peak_rss_mib": peak_rss_mib(os.getpid()),
            "rss_after_2s_mib": rss_mib(os.getpid()), "load_average_1m": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> int:
    """Every cell in a fresh process; print the table, optionally write JSON."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.arena", description=__doc__.splitlines()[0])
    p.add_argument("--bundle", type=Path, required=True)
    p.add_argument("--sequences", type=int, default=16)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--child", nargs=4, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        policy, arena, pattern, strategy = args.child
        print(json.dumps(child(str(args.bundle), policy, arena == "1", pattern == "1", strategy, args.sequences)))
        return 0
    rows = []
    for policy, arena, pattern, strategy in CELLS:
        out = subprocess.run([sys.executable, "-m", "benchmarks.arena", "--bundle", str(args.bundle), "--sequences",
                              str(args.sequences), "--child", policy, str(int(arena)), str(int(pattern)), strategy],
                             capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"  {rows[-1]}", file=sys.stderr, flush=True)
    keys = ["policy", "cpu_mem_arena", "mem_pattern", "arena_extend_strategy", "run_size", "workers", "seconds",
            "idle_rss_mib", "peak_rss_mib", "rss_after_2s_mib", "load_average_1m"]
    print(format_environment(environment()) + f"\n\n{args.sequences} one-person sequences at T of the bundle\n\n"
          + format_table(keys, [[r[k] for k in keys] for r in rows]))
    write_json(args.out, {"benchmark": "arena", "environment": environment(), "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
