"""The generated untrimmed problem per seed: detection mAP against chance and open-set AUROC, with the CPU.

    python -m benchmarks.untrimmed [--seeds 0 1 2] [--out r.json]

Runs `training.untrimmed.run_untrimmed_benchmark` (the problem `tests/training/test_untrimmed_detection.py`
checks on seed 0) with one torch thread. The scorer's training follows the CPU's float kernels, so the same
seed gives different figures on different CPUs: the environment block names the CPU.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from benchmarks.common import environment, format_environment, format_table, run_and_report


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """--seeds, --out."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.untrimmed", description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=None, help="also write the results as JSON here")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """One benchmark run per seed."""
    import torch

    from training.untrimmed import run_untrimmed_benchmark

    torch.set_num_threads(1)
    return {"environment": environment(threads=1),
            "seeds": {seed: run_untrimmed_benchmark(seed=seed) for seed in args.seeds}}


def render(result: dict[str, Any]) -> str:
    """Environment, then a row per seed."""
    rows = []
    for seed, got in result["seeds"].items():
        matched, chance = got["map"]["matched"]["0.5"], got["chance_map_0.5"]["matched"]
        rows.append([seed, round(got["map"]["matched"]["0.1"], 3), round(matched, 3), round(chance, 3),
                     round(matched / chance, 1) if chance else None, round(got["open_set_auroc"], 3)])
    headers = ["seed", "mAP@0.1 matched", "mAP@0.5 matched", "chance mAP@0.5 matched", "ratio", "open-set AUROC"]
    return "\n\n".join([format_environment(result["environment"]), format_table(headers, rows)])


def main(argv: list[str] | None = None) -> int:
    """Run, print, optionally write JSON."""
    return run_and_report(parse_args, run, render, argv)


if __name__ == "__main__":
    sys.exit(main())
