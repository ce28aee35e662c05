"""Seconds per step of the offline stages' work at 1..N torch threads, with and without a competing job.

    PYTHONPATH=. python -m benchmarks.training_threads > benchmarks/results/training_threads.txt

Workloads ("as found" = whatever else the machine runs, see the load average): one Shift-GCN training step (batch 8, T = 32), feature extraction (batch 32, T = 32, no grad)
and evaluation (scorer energies of 2,000 features against 20 classes). "+ busy job" runs the same thing
while a second process keeps every core busy with its own torch matmuls (what happens when two stages or
two users share a machine). training/threads.py picks the threads from what this shows.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time

import numpy as np
import torch

from model.config import ScaleConfig
from model.scorer import ScaleScorer
from model.shift_gcn import ShiftGCN
from training.threads import auto_threads, available_cores


def _burn(stop: mp.Event) -> None:  # the competing job: default threads, busy until told to stop
    a = torch.randn(512, 512)
    while not stop.is_set():
        a = torch.tanh(a @ a)


def _median_seconds(fn, repeats: int = 5) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def workloads() -> dict[str, object]:
    """name -> a callable doing one unit of that stage's work."""
    torch.manual_seed(0)
    model = ShiftGCN(num_class=15)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x8, y8 = torch.randn(8, 3, 32, 25, 2), torch.randint(0, 15, (8,))
    x32 = torch.randn(32, 3, 32, 25, 2)
    scorer = ScaleScorer(ScaleConfig()).eval()
    feats = torch.randn(2000, 256)
    g, tok, mask = torch.randn(20, 512), torch.randn(20, 77, 512), torch.ones(20, 77)

    def train_step() -> None:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x8), y8).backward()
        opt.step()

    @torch.no_grad()
    def extract() -> None:
        model.eval()
        model.forward_features(x32)
        model.train()

    @torch.no_grad()
    def evaluate() -> None:
        cls = scorer.class_side(g, tok, mask)
        for i in range(0, 2000, 256):
            scorer.energy(feats[i:i + 256], cls)

    return {"train step": train_step, "extract": extract, "evaluate": evaluate}


def main() -> None:
    cores = available_cores()
    counts = sorted({1, 2, cores} | ({4} if cores >= 4 else set()))
    print(f"cores={cores} loadavg at start: {open('/proc/loadavg').read().split()[:3]} torch {torch.__version__}")
    print(f"auto_threads() now: {auto_threads()}")
    jobs = workloads()
    for condition in ("as found", "+ busy job"):
        ctx = mp.get_context("spawn")
        stop, burner = ctx.Event(), None
        if condition == "+ busy job":
            burner = ctx.Process(target=_burn, args=(stop,))
            burner.start()
            time.sleep(2)
        try:
            for name, fn in jobs.items():
                row = {}
                for n in counts:
                    torch.set_num_threads(n)
                    row[n] = _median_seconds(fn)
                best = min(row, key=row.get)
                cells = "  ".join(f"{n} thr {s:7.3f} s" for n, s in row.items())
                print(f"{condition:10s} {name:10s} {cells}   best: {best} thread(s), "
                      f"{row[max(counts)] / row[best]:.2f}x faster than {max(counts)}")
        finally:
            if burner is not None:
                stop.set()
                burner.join()
    print(f"loadavg at end: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", str(available_cores()))
    main()
