"""Service throughput and latency with micro-batching on (default settings) vs off (SCALE_MAX_BATCH_SIZE=1).

Starts `uvicorn service.app:create_app --factory` on a free loopback port per mode, registers 20 classes,
fires N concurrent POST /recognize requests (.npy bodies, bounded concurrency), reads /metrics, stops it.

    .venv/bin/python -m benchmarks.service [--bundle PATH] [--requests 128] [--concurrency 16] [--out r.json]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks.common import environment, format_environment, format_table, write_json

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SKELETON_DIR = REPO_ROOT.parent / "shared" / "data" / "skeletons" / "ntu60_raw"
CLASS_LABELS = ("drink water", "eat meal", "brush teeth", "brush hair", "drop", "pick up", "throw", "sit down",
                "stand up", "clapping", "reading", "writing", "tear up paper", "put on jacket", "take off jacket",
                "put on a shoe", "take off a shoe", "put on glasses", "take off glasses", "put on a hat")
MODES = {"batched": {}, "unbatched": {"SCALE_MAX_BATCH_SIZE": "1"}}


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def parse_metrics(text: str) -> dict[str, float]:
    """Unlabelled samples of a Prometheus text exposition: name -> value (comments and labelled lines skipped)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#") or "{" in line:
            continue
        name, _, value = line.partition(" ")
        try:
            out[name] = float(value.split()[0])
        except (ValueError, IndexError):
            raise ValueError(f"unparsable metrics line: {line!r}") from None
    return out


def latency_summary(latencies_s: list[float], wall_s: float) -> dict[str, float]:
    """Requests per second over the wall time and p50/p90/p99 latency in ms."""
    if not latencies_s or wall_s <= 0:
        raise ValueError("need at least one latency and a positive wall time")
    ms = np.asarray(latencies_s, dtype=np.float64) * 1e3
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return {"requests": len(ms), "wall_s": wall_s, "requests_per_s": len(ms) / wall_s,
            "p50_ms": float(p50), "p90_ms": float(p90), "p99_ms": float(p99), "max_ms": float(ms.max())}


def skeleton_body(path: Path | None, max_frames: int) -> tuple[bytes, str]:
    """A .npy body (M,T,25,3) from a real NTU .skeleton file when available, else a smooth synthetic one."""
    if path is None and DEFAULT_SKELETON_DIR.is_dir():
        files = sorted(DEFAULT_SKELETON_DIR.glob("*.skeleton"))
        path = files[0] if files else None
    if path is not None:
        from model.skeleton_io import read_skeleton

        joints, source = read_skeleton(path).joints[:, :max_frames], str(path)
    else:
        rng = np.random.default_rng(0)
        base = rng.normal(scale=0.3, size=(1, 1, 25, 3))
        drift = np.cumsum(rng.normal(scale=0.01, size=(1, 100, 25, 3)), axis=1)
        joints, source = (base + drift).astype(np.float32), "synthetic (1,100,25,3)"
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(joints, dtype=np.float32), allow_pickle=False)
    return buf.getvalue(), f"{source} shape {tuple(joints.shape)}"


def ensure_bundle(path: Path | None, demo_dir: Path) -> Path:
    """The given bundle, or the demo bundle (random-init text tower; built once, reused afterwards)."""
    if path is not None:
        return path
    from training.demo import build_demo_bundle

    return build_demo_bundle(demo_dir)


class Server:
    """uvicorn running the app factory in a subprocess, with its own environment and log file."""

    def __init__(self, bundle: Path, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("SCALE_") and k != "REDIS_URL"}
        full_env.update({"SCALE_BUNDLE_PATH": str(bundle), "SCALE_LOG_LEVEL": "warning",
                         "PYTHONPATH": str(REPO_ROOT), **env})
        self.log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "service.app:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning", "--no-access-log"],
            cwd=REPO_ROOT, env=full_env, stdout=self.log, stderr=subprocess.STDOUT)
        self.log_path = log_path

    def wait_ready(self, timeout_s: float) -> None:
        """Poll /readyz until 200; raises with the server log tail when it dies or times out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"server not ready after {timeout_s:.0f}s:\n{self.tail()}")

    def tail(self, n: int = 30) -> str:
        """Last lines of the server log."""
        self.log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def stop(self) -> int:
        """SIGINT (uvicorn's graceful shutdown), SIGKILL after 20 s; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return int(self.proc.returncode)


async def fire(url: str, body: bytes, n: int, concurrency: int,
               timeout_s: float) -> tuple[list[float], float, dict[str, int]]:
    """n POST /recognize with at most `concurrency` in flight; returns (latencies of 200s, wall, failures by status)."""
    sem = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    failures: dict[str, int] = {}
    headers = {"content-type": "application/x-npy"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=timeout_s, limits=limits) as client:
        async def one() -> None:
            async with sem:
                t0 = time.perf_counter()
                try:
                    status = str((await client.post("/recognize", content=body, headers=headers)).status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                if status == "200":
                    latencies.append(time.perf_counter() - t0)
                else:
                    failures[status] = failures.get(status, 0) + 1

        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        wall = time.perf_counter() - start
    return latencies, wall, failures


def run_mode(name: str, bundle: Path, body: bytes, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """One server lifetime: start, register, warm up, measure, read metrics, stop."""
    server = Server(bundle, MODES[name], workdir / f"server-{name}.log")
    try:
        server.wait_ready(args.start_timeout)
        classes = [{"label": label} for label in CLASS_LABELS[: args.classes]]
        r = httpx.post(server.url + "/classes", json={"classes": classes}, timeout=120)
        if r.status_code != 200:
            raise RuntimeError(f"POST /classes answered {r.status_code}: {r.text[:300]}")
        asyncio.run(fire(server.url, body, args.warmup, min(args.warmup, args.concurrency), args.request_timeout))
        before = parse_metrics(httpx.get(server.url + "/metrics", timeout=10).text)
        latencies, wall, failures = asyncio.run(fire(server.url, body, args.requests, args.concurrency,
                                                   args.request_timeout))
        after = parse_metrics(httpx.get(server.url + "/metrics", timeout=10).text)
    finally:
        code = server.stop()
    delta = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in
             ("scale_inference_runs_total", "scale_batch_size_sequences_sum", "scale_batch_size_sequences_count",
              "scale_inference_duration_seconds_sum")}
    runs = delta["scale_inference_runs_total"]
    result = {"mode": name, "env": MODES[name], "errors": sum(failures.values()), "failures": failures,
              "server_exit_code": code,
              "inference_runs": runs,
              "mean_sequences_per_run": delta["scale_batch_size_sequences_sum"] / runs if runs else None,
              "mean_run_ms": delta["scale_inference_duration_seconds_sum"] * 1e3 / runs if runs else None}
    if latencies:
        result.update(latency_summary(latencies, wall))
    return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.service", description=__doc__.splitlines()[0])
    p.add_argument("--bundle", type=Path, default=None, help="model bundle (default: the demo bundle)")
    p.add_argument("--demo-dir", type=Path, default=Path("~/.cache/scale/bench-demo-bundle").expanduser())
    p.add_argument("--skeleton", type=Path, default=None, help="NTU .skeleton file to post (default: first "
                   "file of ../shared/data/skeletons/ntu60_raw, else synthetic)")
    p.add_argument("--max-frames", type=int, default=300, help="frames of the posted sequence")
    p.add_argument("--classes", type=int, default=20, choices=range(1, len(CLASS_LABELS) + 1), metavar="1..20")
    p.add_argument("--requests", type=int, default=128, help="measured requests per mode")
    p.add_argument("--concurrency", type=int, default=16, help="requests in flight at once")
    p.add_argument("--warmup", type=int, default=8, help="unmeasured requests per mode")
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    p.add_argument("--start-timeout", type=float, default=300.0)
    p.add_argument("--request-timeout", type=float, default=300.0)
    p.add_argument("--out", type=Path, default=None, help="also write the results as JSON here")
    args = p.parse_args(argv)
    if args.requests < 1 or args.concurrency < 1 or args.warmup < 1:
        p.error("--requests, --concurrency and --warmup must be >= 1")
    return args


def render(result: dict[str, Any]) -> str:
    """The printed report."""
    keys = ["mode", "requests_per_s", "p50_ms", "p90_ms", "p99_ms", "inference_runs", "mean_sequences_per_run",
            "mean_run_ms", "errors"]
    rows = [[m.get(k) for k in keys] for m in result["modes"]]
    head = [format_environment(result["environment"]), f"bundle: {result['bundle']}", f"body: {result['body']}",
            f"{result['requests']} requests, concurrency {result['concurrency']}, {result['classes']} classes"]
    return "\n".join(head) + "\n\n" + format_table(keys, rows)


def main(argv: list[str] | None = None) -> int:
    """Run every mode, print, optionally write JSON."""
    args = parse_args(argv)
    bundle = ensure_bundle(args.bundle, args.demo_dir)
    body, source = skeleton_body(args.skeleton, args.max_frames)
    with tempfile.TemporaryDirectory(prefix="scale-bench-svc-") as tmp:
        modes = [run_mode(m, bundle, body, args, Path(tmp)) for m in args.modes]
    result = {"benchmark": "service", "environment": environment(), "bundle": str(bundle), "body": source,
              "requests": args.requests, "concurrency": args.concurrency, "classes": args.classes,
              "modes": modes, "settings": {k: str(v) for k, v in vars(args).items()}}
    print(render(result))
    write_json(args.out, result)
    return 0 if all(m["errors"] == 0 for m in modes) else 1


if __name__ == "__main__":
    sys.exit(main())
