"""`scale train-encoder` in float64 with one thread: the process both sides of the torchrun comparison run."""

from __future__ import annotations

import sys

import torch

from cli.main import main

if __name__ == "__main__":
    # float64 takes rounding out of the comparison: Shift-GCN's gradients at initialisation differ by 1-2 %
    # between 1 and 2 threads of one float32 process (docs/training.md), which would hide a real difference
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    sys.exit(main(sys.argv[1:]))
