"""GPU figures in one run: detect the GPU, run the gpu-marked tests, time encoder, scorer and service, write JSON.

Meant for a lent GPU machine (benchmarks/gpu_run.sh installs onnxruntime-gpu first, per ../shared/DEVICE.md).
Without a usable CUDA device it says so, writes {"status": "no-gpu", ...} and exits 3: nothing is measured.

    python -m benchmarks.gpu_run --out-dir gpu-results [--bundle PATH] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import environment

NO_GPU_EXIT = 3
REPO_ROOT = Path(__file__).resolve().parents[1]


def detect_gpu() -> dict[str, Any]:
    """What CUDA this process can use: torch's device name and whether onnxruntime can create its provider."""
    info: dict[str, Any] = {"torch_cuda": False, "device": None, "ort_providers": [], "ort_cuda": False}
    try:
        import torch

        info["torch_cuda"] = bool(torch.cuda.is_available())
        if info["torch_cuda"]:
            info["device"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    try:
        import onnxruntime as ort

        info["ort_providers"] = ort.get_available_providers()
        info["ort_cuda"] = info["torch_cuda"] and "CUDAExecutionProvider" in info["ort_providers"]
    except ImportError:
        pass
    return info


def time_runs(fn: Any, seconds: float, warmup: int = 3) -> dict[str, float]:
    """Call fn repeatedly for `seconds` after a warm-up; calls, wall and median/p99 per call in ms."""
    for _ in range(warmup):
        fn()
    per: list[float] = []
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop or len(per) < 5:
        t0 = time.perf_counter()
        fn()
        per.append(time.perf_counter() - t0)
    ms = np.asarray(per) * 1e3
    return {"calls": len(per), "median_ms": float(np.median(ms)), "p99_ms": float(np.percentile(ms, 99))}


def encoder_and_scorer(bundle_path: Path, seconds: float) -> dict[str, Any]:
    """Encoder clips/s at T (fp32, and fp16 when the bundle has it) and scorer pairs/s on the CUDA provider."""
    from model.bundle import load_bundle
    from service.engine.inference import InferenceEngine

    out: dict[str, Any] = {"encoder": [], "scorer": []}
    cuda = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    for variant in ("fp32", "fp16"):
        try:
            bundle = load_bundle(bundle_path, cuda, variant=variant)
        except Exception as exc:  # the fp16 variant is optional
            out["encoder"].append({"variant": variant, "skipped": str(exc)[:200]})
            continue
        engine = InferenceEngine(bundle, 256)
        frames = bundle.manifest.num_frames
        for batch in (1, 64, 256):
            x = np.random.default_rng(batch).standard_normal((batch, 3, frames, 25, 2)).astype(np.float32)
            t = time_runs(lambda x=x, e=engine: e.features(x), seconds)
            out["encoder"].append({"variant": variant, "batch": batch, "frames": frames, **t,
                                   "clips_per_s": batch / (t["median_ms"] / 1e3)})
        if variant == "fp32":
            dims = bundle.manifest.dims
            for b, k in ((1, 120), (256, 120)):
                rng = np.random.default_rng(k)
                cls = engine.class_side(rng.standard_normal((k, dims.text_dim)).astype(np.float32),
                                        rng.standard_normal((k, dims.context_length, dims.text_dim)).astype(np.float32),
                                        np.ones((k, dims.context_length), np.float32))
                feature = rng.standard_normal((b, dims.feature_dim)).astype(np.float32)
                t = time_runs(lambda f=feature, c=cls, e=engine: e.bundle.run_sample_side(f, c), seconds)
                out["scorer"].append({"batch": b, "classes": k, **t,
                                      "pairs_per_s": b * k / (t["median_ms"] / 1e3),
                                      "ms_per_sample": t["median_ms"] / b})
    return out


TRT = "TensorrtExecutionProvider"


def trt_provider_options(frames: int, max_batch: int, fp16: bool, cache_dir: Path) -> dict[str, Any]:
    """TensorRT options for the encoder graph: one shape profile over batches 1..max_batch, engines cached."""
    shape = f"3x{frames}x25x2"
    return {"trt_fp16_enable": fp16, "trt_engine_cache_enable": True, "trt_engine_cache_path": str(cache_dir),
            "trt_profile_min_shapes": f"skeleton:1x{shape}", "trt_profile_opt_shapes": f"skeleton:64x{shape}",
            "trt_profile_max_shapes": f"skeleton:{max_batch}x{shape}"}


def tensorrt_encoder(bundle_path: Path, seconds: float, cache_dir: Path, providers: list[str]) -> list[dict[str, Any]]:
    """Encoder clips/s on onnxruntime's TensorRT provider (fp32 and fp16 engines) when it is offered."""
    if TRT not in providers:
        return [{"skipped": f"onnxruntime offers no {TRT} (providers {providers})"}]
    import onnxruntime as ort

    from model.bundle import read_manifest
    from model.bundle_spec import graph_file

    frames = read_manifest(bundle_path).num_frames
    rows: list[dict[str, Any]] = []
    for fp16 in (False, True):
        options = trt_provider_options(frames, 256, fp16, cache_dir)
        try:
            session = ort.InferenceSession(str(bundle_path / graph_file("encoder")),
                                           providers=[(TRT, options), "CUDAExecutionProvider", "CPUExecutionProvider"])
        except Exception as exc:  # a TensorRT library missing on the lent machine is reported, not fatal
            rows.append({"precision": "fp16" if fp16 else "fp32", "skipped": f"{type(exc).__name__}: {exc}"[:300]})
            continue
        used = session.get_providers()
        for batch in (1, 64, 256):
            x = np.random.default_rng(batch).standard_normal((batch, 3, frames, 25, 2)).astype(np.float32)
            t = time_runs(lambda x=x, s=session: s.run(["feature"], {"skeleton": x}), seconds)
            rows.append({"precision": "fp16" if fp16 else "fp32", "providers_used": used, "batch": batch, **t,
                         "clips_per_s": batch / (t["median_ms"] / 1e3)})
    return rows


def run_step(argv: list[str], log: Path, timeout_s: float) -> dict[str, Any]:
    """One subprocess step (tests or a benchmark), its exit code, duration and log file."""
    t0 = time.perf_counter()
    with open(log, "wb") as fh:
        try:
            code = subprocess.run(argv, cwd=REPO_ROOT, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout_s,
                                  check=False).returncode
        except subprocess.TimeoutExpired:
            code = 124
    return {"argv": argv, "exit_code": code, "seconds": time.perf_counter() - t0, "log": str(log)}


def main(argv: list[str] | None = None) -> int:
    """Detect, then (with a GPU) test and measure; always write <out-dir>/gpu_run.json."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu_run", description=__doc__.splitlines()[0])
    p.add_argument("--out-dir", type=Path, default=Path("gpu-results"))
    p.add_argument("--bundle", type=Path, default=None, help="model bundle (default: the demo bundle, fp16 too)")
    p.add_argument("--seconds", type=float, default=5.0, help="timed seconds per cell")
    p.add_argument("--skip-tests", action="store_true")
    args = p.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    gpu = detect_gpu()
    result: dict[str, Any] = {"benchmark": "gpu_run", "environment": environment(), "gpu": gpu}
    if not gpu["ort_cuda"]:
        result["status"] = "no-gpu"
        result["message"] = (f"no usable GPU: torch.cuda.is_available()={gpu['torch_cuda']}, onnxruntime providers "
                             f"{gpu['ort_providers']}; nothing was measured (GPU table pending)")
        print(f"gpu_run: {result['message']}", file=sys.stderr)
        (args.out_dir / "gpu_run.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        return NO_GPU_EXIT
    print(f"gpu_run: measuring on {gpu['device']}", file=sys.stderr)
    py = sys.executable
    if not args.skip_tests:
        result["tests"] = run_step([py, "-m", "pytest", "-q", "-m", "gpu", "tests"], args.out_dir / "tests.log", 900)
    bundle = args.bundle
    if bundle is None:
        from training.demo import build_demo_bundle

        bundle = build_demo_bundle(args.out_dir / "demo-bundle")
    result["device"] = gpu["device"]
    result["engine"] = encoder_and_scorer(bundle, args.seconds)
    result["tensorrt"] = tensorrt_encoder(bundle, args.seconds, args.out_dir / "trt-cache", gpu["ort_providers"])
    # the same machine's CPU, every encoder runtime and precision (OpenVINO too), for the CPU/GPU ratio
    result["cpu_runtimes"] = run_step([py, "-m", "benchmarks.runtimes", "--bundle", str(bundle), "--repeats", "10",
                                       "--out", str(args.out_dir / "runtimes_cpu.json")],
                                      args.out_dir / "runtimes.log", 600)
    result["service"] = run_step([py, "-m", "benchmarks.service", "--bundle", str(bundle), "--policies", "new",
                                  "--concurrency", "1", "16", "64", "--seconds", str(args.seconds * 2),
                                  "--out", str(args.out_dir / "service_gpu.json")],
                                 args.out_dir / "service.log", 900)
    result["status"] = "measured"
    (args.out_dir / "gpu_run.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"device": gpu["device"], "engine": result["engine"], "tensorrt": result["tensorrt"]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
