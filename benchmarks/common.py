"""Shared benchmark helpers: timing with warm-up and repeats, machine description, tables, JSON output."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

NO_GPU_NOTE = "CPU only: no CUDA device visible (no GPU lent in this session); absolute times are machine-specific"


@dataclass(frozen=True)
class Timing:
    """Per-call wall time statistics in seconds over `repeats` measurements of `inner` calls each."""

    median_s: float
    p90_s: float
    min_s: float
    repeats: int
    inner: int

    def as_ms(self) -> dict[str, float]:
        """Median, p90 and min in milliseconds."""
        return {"median_ms": self.median_s * 1e3, "p90_ms": self.p90_s * 1e3, "min_ms": self.min_s * 1e3}


def summarize(per_call_s: Sequence[float], inner: int = 1) -> Timing:
    """Median, p90 (linear interpolation) and min of per-call times."""
    values = np.asarray(per_call_s, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"need a non-empty 1-D sequence of times, got shape {values.shape}")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError("times must be finite and non-negative")
    return Timing(float(np.median(values)), float(np.percentile(values, 90)), float(values.min()),
                  int(values.size), int(inner))


def time_call(fn: Callable[[], Any], repeats: int = 20, warmup: int = 3, min_block_s: float = 0.002,
              max_total_s: float = 20.0) -> Timing:
    """Time fn() with time.perf_counter: warm-up calls, then `repeats` blocks of enough calls to last min_block_s.

    Very fast calls are grouped into blocks so the timer's resolution does not dominate; each block gives one
    per-call sample. Stops early (after at least 3 blocks) once max_total_s is spent, so slow cells stay short.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {repeats}, {warmup}")
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    fn()
    once = time.perf_counter() - start
    inner = max(1, int(min_block_s / max(once, 1e-9)))
    samples: list[float] = []
    spent_start = time.perf_counter()
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner)
        if len(samples) >= 3 and time.perf_counter() - spent_start > max_total_s:
            break
    return summarize(samples, inner)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment(threads: int | None = None) -> dict[str, Any]:
    """Where and with what the figures were measured: CPU, cores, threads, GPU, library versions, load."""
    import torch

    info: dict[str, Any] = {
        "cpu_model": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "requested_threads": threads,
        "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
    }
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        info["onnxruntime"] = "not installed"
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    else:
        info["gpu"] = None
        info["note"] = NO_GPU_NOTE
    return info


def set_threads(threads: int) -> None:
    """Pin torch's intra-op pool (onnxruntime sessions take the same number via ort_session)."""
    import torch

    if threads < 1:
        raise ValueError(f"--threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)


def ort_session(path: str | os.PathLike, threads: int) -> Any:
    """A CPU onnxruntime session with the given intra-op thread count (inter-op 1)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Plain-text table with right-aligned columns; floats get 3 significant decimals."""
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1e-3 or abs(v) >= 1e4 else f"{v:.3f}"
        return "-" if v is None else str(v)

    text = [[str(h) for h in headers]] + [[cell(v) for v in row] for row in rows]
    if any(len(r) != len(headers) for r in text):
        raise ValueError("every row must have one cell per header")
    widths = [max(len(r[i]) for r in text) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in text]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_environment(env: dict[str, Any]) -> str:
    """One `key: value` line per environment entry."""
    return "\n".join(f"{k}: {v}" for k, v in env.items())


def common_args(parser: argparse.ArgumentParser, repeats: int = 20) -> argparse.ArgumentParser:
    """--threads, --repeats, --warmup, --out shared by every benchmark."""
    parser.add_argument("--threads", type=int, default=1, help="torch and onnxruntime intra-op threads")
    parser.add_argument("--repeats", type=int, default=repeats, help="timed blocks per cell")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls before timing")
    parser.add_argument("--out", type=Path, default=None, help="also write the results as JSON here")
    return parser


def write_json(path: Path | None, payload: dict[str, Any]) -> None:
    """Write payload as indented JSON when a path is given (dataclasses become dicts)."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=lambda o: asdict(o)) + "\n", encoding="utf-8")


def run_and_report(parse_args: Callable[[Any], argparse.Namespace], run: Callable[[argparse.Namespace], dict],
                   render: Callable[[dict], str], argv: list[str] | None = None) -> int:
    """The shared `main` of the benchmarks: run, print the table, write JSON when --out is given."""
    args = parse_args(argv)
    result = run(args)
    print(render(result))
    write_json(args.out, result)
    return 0
