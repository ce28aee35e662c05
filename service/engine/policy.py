"""Serving policy per device: how many inference runs at once, how many sequences per run, how many threads.

Chosen by measurement (docs/benchmarks.md): on CPU a larger batch makes each clip slower, so the default
runs one sequence per run in as many single-threaded runs side by side as there are cores; on CUDA
bucketed micro-batching keeps the device busy. Every knob can be overridden in the settings.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

from service.settings import Settings

log = logging.getLogger(__name__)
_ENV_ALLOCATOR = threading.Lock()
_env_allocator_registered = False


@dataclass(frozen=True)
class ServingPolicy:
    """The resolved policy: name, concurrent runs, sequences per run, batching wait, threads per run."""

    name: str
    workers: int
    max_batch_size: int
    max_wait_ms: float
    intra_op_threads: int | None  # None: onnxruntime's default (all cores)


def usable_cores() -> int:
    """CPU cores this process may run on (the affinity mask, which containers and taskset narrow)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def resolve_policy(settings: Settings, device: str) -> ServingPolicy:
    """The policy for `device` ('cpu' or 'cuda') from the settings ('auto' picks the measured default)."""
    name = settings.serving_policy
    if name == "auto":
        name = "parallel" if device == "cpu" else "batched"
    if name == "batched":
        return ServingPolicy("batched", 1, settings.max_batch_size, settings.max_wait_ms, settings.intra_op_threads)
    cores = usable_cores()
    workers = settings.inference_workers or cores
    threads = settings.intra_op_threads or max(1, cores // workers)
    batch = min(settings.cpu_batch_size, settings.max_batch_size)
    return ServingPolicy("parallel", workers, batch, settings.max_wait_ms if batch > 1 else 0.0, threads)


def device_of(providers: list[str]) -> str:
    """'cuda' when CUDA is the first provider, else 'cpu'."""
    return "cuda" if providers and providers[0] == "CUDAExecutionProvider" else "cpu"


def bundle_session_options(settings: Settings, providers: list[str]) -> Any:
    """SessionOptions for loading the bundle under the policy these settings resolve to on these providers."""
    return session_options(settings, resolve_policy(settings, device_of(providers)))


def session_options(settings: Settings, policy: ServingPolicy) -> Any:
    """onnxruntime SessionOptions for the policy's threads and the configured memory arena behaviour."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if policy.intra_op_threads is not None:
        options.intra_op_num_threads = policy.intra_op_threads
        options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = settings.ort_cpu_arena
    options.enable_mem_pattern = settings.ort_mem_pattern
    if settings.ort_cpu_arena and settings.ort_arena_extend_strategy == "same_as_requested":
        _register_env_allocator(ort)
        # The sessions share one arena that grows by what a run asks for, not to the next power of two.
        options.add_session_config_entry("session.use_env_allocators", "1")
    return options


def _register_env_allocator(ort: Any) -> None:
    """Register (once per process) a CPU arena that extends by the requested size."""
    global _env_allocator_registered
    with _ENV_ALLOCATOR:
        if _env_allocator_registered:
            return
        info = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
        ort.create_and_register_allocator(info, ort.OrtArenaCfg({"arena_extend_strategy": 1}))
        _env_allocator_registered = True
