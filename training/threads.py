"""CPU threads for the offline stages: what benchmarks/training_threads.py measured, overridable.

torch uses one thread per core by default. On a CPU that other jobs already keep busy, its threads wait on
each other: the measurement (benchmarks/results/training_threads.txt) found one thread 7-8x faster than two
for a training step, 2x for extraction and 5-6x for evaluation on a two-core machine at load 12, where
auto picks one. So `compute.threads = 0` (auto)
takes the cores that are idle when the stage starts (cores minus the 1-minute load average), shared
between the processes torchrun starts on this node, at least one.
"""

from __future__ import annotations

import os

import torch


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, e.g. a container's CPU set)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def auto_threads(processes: int = 1) -> int:
    """Idle cores (cores minus the 1-minute load average) per process on this node, at least 1."""
    cores = available_cores()
    idle = cores - int(os.getloadavg()[0] + 0.5)
    return max(1, min(idle, cores) // max(processes, 1))


def set_threads(requested: int) -> int:
    """Set torch's intra-op threads: `requested` when > 0, else auto_threads; returns the number set."""
    processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    threads = requested if requested > 0 else auto_threads(processes)
    torch.set_num_threads(threads)
    return threads
