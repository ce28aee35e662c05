"""Service throughput, latency and memory over HTTP: today's serving policy vs the per-device policy.

Starts one real `scale serve` per policy on a free loopback port, registers the 60 NTU-60 classes, and
posts the real NTU clips (four one-person clips to one two-person clip, alternating .npy and JSON bodies)
at each concurrency for a fixed time; the policies alternate at every concurrency so both see the same
machine load. Reports clips/s, p50 and p99 with the load average next to each figure, the server's peak
RSS, and RSS before, at the peak of, and after one request of `--big` sequences.

    .venv/bin/python -m benchmarks.service [--bundle PATH] [--concurrency 1 4 16 32] [--seconds 20] [--out r.json]
        [--baseline-repo WORKTREE] [--default-path] [--policies new]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks.common import environment, format_environment, format_table, write_json
from benchmarks.procmem import peak_rss_mib, reset_peak, rss_mib
from benchmarks.server import Server, free_port  # noqa: F401  (free_port re-exported for older callers)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SKELETON_DIR = REPO_ROOT.parent / "shared" / "data" / "skeletons" / "ntu60_raw"
NTU60_NAMES = REPO_ROOT / "training" / "resources" / "class_names" / "ntu120_official.txt"
# "old": the policy before the per-device policy (one batched run of up to 64, full encoder, default arena)
POLICIES = {
    "old": {"SCALE_SERVING_POLICY": "batched", "SCALE_SINGLE_PERSON": "false",
            "SCALE_ORT_ARENA_EXTEND_STRATEGY": "next_power_of_two"},
    "new": {},
    "f32": {"SCALE_ENCODER_PRECISION": "f32"},
    "one-stream": {"SCALE_INFERENCE_WORKERS": "1", "SCALE_INTRA_OP_THREADS": "2"},  # one run at a time, 2 threads  # OpenVINO f32: the default before mixed precision passed the gate
    "bf16": {"SCALE_ENCODER_PRECISION": "bf16"},  # the opt-in that failed the accuracy gate, for its speed
}


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
    return _npy(joints), f"{source} shape {tuple(joints.shape)}"


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr, dtype=np.float32), allow_pickle=False)
    return buf.getvalue()


def clip_bodies(skeleton_dir: Path, max_frames: int) -> list[tuple[bytes, dict[str, str], str]]:
    """Each real clip twice: as an .npy body and as a JSON body; (body, headers, description)."""
    from model.skeleton_io import read_skeleton

    files = sorted(skeleton_dir.glob("*.skeleton"))
    if not files:
        raise SystemExit(f"no .skeleton files in {skeleton_dir}")
    out = []
    for kind in ("npy", "json"):
        for f in files:
            joints = read_skeleton(f).joints[:, :max_frames].astype(np.float32)
            persons = int(np.any(joints != 0, axis=(1, 2, 3)).sum())
            if kind == "npy":
                out.append((_npy(joints), {"content-type": "application/x-npy"}, f"{f.name} {persons}p npy"))
            else:
                body = json.dumps({"skeleton": joints.tolist()}).encode()
                out.append((body, {"content-type": "application/json"}, f"{f.name} {persons}p json"))
    return out


async def fire_for(url: str, bodies: list[tuple[bytes, dict[str, str], str]], seconds: float, concurrency: int,
                   timeout_s: float) -> tuple[list[float], float, dict[str, int]]:
    """`concurrency` clients posting the bodies in turn until `seconds` pass; (latencies of 200s, wall, failures)."""
    latencies: list[float] = []
    failures: dict[str, int] = {}
    counter = iter(range(10 ** 9))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=timeout_s, limits=limits) as client:
        stop = time.perf_counter() + seconds

        async def client_loop() -> None:
            while time.perf_counter() < stop:
                body, headers, _ = bodies[next(counter) % len(bodies)]
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
        await asyncio.gather(*(client_loop() for _ in range(concurrency)))
        wall = time.perf_counter() - start
    return latencies, wall, failures


def big_request_memory(server: Server, n: int, frames: int) -> dict[str, Any]:
    """RSS before, peak during, and 5 s after one request of n short one-person sequences (plus its time)."""
    rng = np.random.default_rng(0)
    body = _npy(np.cumsum(rng.normal(scale=0.01, size=(n, 1, frames, 25, 3)), axis=2) + 1.0)
    before = rss_mib(server.pid)
    reset = reset_peak(server.pid)
    t0 = time.perf_counter()
    r = httpx.post(server.url + "/recognize", content=body, headers={"content-type": "application/x-npy"},
                   timeout=600)
    took = time.perf_counter() - t0
    peak = peak_rss_mib(server.pid)
    time.sleep(5)
    return {"sequences": n, "frames": frames, "status": r.status_code, "seconds": took, "rss_before_mib": before,
            "peak_rss_mib": peak if reset else None, "rss_after_5s_mib": rss_mib(server.pid),
            "load_average_1m": os.getloadavg()[0]}


def register_ntu60(url: str) -> int:
    """POST the 60 NTU-60 class names; returns how many the registry holds."""
    names = NTU60_NAMES.read_text(encoding="utf-8").splitlines()[:60]
    r = httpx.post(url + "/classes", json={"classes": [{"label": n} for n in names]}, timeout=600)
    if r.status_code != 200:
        raise RuntimeError(f"POST /classes answered {r.status_code}: {r.text[:300]}")
    return len(httpx.get(url + "/classes", timeout=30).json()["classes"])


def measure(server: Server, bodies: list, concurrency: int, args: argparse.Namespace) -> dict[str, Any]:
    """One timed load at one concurrency against one server."""
    load_before = os.getloadavg()[0]
    latencies, wall, failures = asyncio.run(fire_for(server.url, bodies, args.seconds, concurrency,
                                                     args.request_timeout))
    row: dict[str, Any] = {"concurrency": concurrency, "errors": sum(failures.values()), "failures": failures,
                           "load_average_1m_before": load_before, "load_average_1m_after": os.getloadavg()[0]}
    if latencies:
        row.update(latency_summary(latencies, wall))
        row["clips_per_s"] = row.pop("requests_per_s")  # one clip per request
    return row


def alternate_loads(servers: dict[str, Server], bodies: list, args: argparse.Namespace,
                    results: dict[str, Any]) -> None:
    """At each concurrency, one timed load per server in turn (so all see the same machine load)."""
    for concurrency in args.concurrency:
        for name, server in servers.items():
            row = measure(server, bodies, concurrency, args)
            row["loadavg"] = Path("/proc/loadavg").read_text().strip()
            results[name]["rows"].append(row)
            print(f"  {name} c={concurrency}: {row.get('clips_per_s')} clips/s p99 {row.get('p99_ms')} "
                  f"load {row['load_average_1m_after']:.2f}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Start every policy's server, probe memory, then alternate the policies at every concurrency."""
    from benchmarks.cpu_policy import ensure_bundle

    bundle = ensure_bundle(args.bundle, args.demo_dir)
    bodies = clip_bodies(args.skeleton_dir, args.max_frames)
    servers = {name: Server(bundle, POLICIES[name], workdir / f"server-{name}.log", cli=True,
                            default_path=args.default_path) for name in args.policies}
    if args.baseline_repo is not None:  # another checkout's code with its own defaults, e.g. an older main
        # on the default path the old checkout serves the demo it exports itself (its own graphs), not ours
        base_bundle = args.baseline_demo_dir if args.default_path else bundle
        servers = {"base": Server(base_bundle, {}, workdir / "server-base.log", cli=True,
                                  repo_root=args.baseline_repo, default_path=args.default_path), **servers}
    env_of = {**POLICIES, "base": {"baseline_repo": str(args.baseline_repo)}}
    results: dict[str, Any] = {name: {"env": env_of[name], "rows": []} for name in servers}
    try:
        for name, server in servers.items():
            server.wait_ready(args.start_timeout)
            results[name]["classes"] = register_ntu60(server.url)
            results[name]["idle_rss_mib"] = rss_mib(server.pid)
            asyncio.run(fire_for(server.url, bodies, 2.0, 2, args.request_timeout))  # warm every path
            results[name]["big_request"] = (big_request_memory(server, args.big, args.big_frames) if args.big
                                            else None)
            print(f"  {name}: idle {results[name]['idle_rss_mib']:.0f} MiB, big {results[name]['big_request']}",
                  file=sys.stderr, flush=True)
            reset_peak(server.pid)
        alternate_loads(servers, bodies, args, results)
        for name, server in servers.items():
            results[name]["peak_rss_mib_during_load"] = peak_rss_mib(server.pid)
    finally:
        for name, server in servers.items():
            results[name]["server_exit_code"] = server.stop()
    return {"benchmark": "service", "environment": environment(), "bundle": str(bundle),
            "bodies": [d for _, _, d in bodies], "seconds_per_cell": args.seconds, "policies": results,
            "settings": {k: str(v) for k, v in vars(args).items()}}


def render(result: dict[str, Any]) -> str:
    """The printed report: per concurrency, both policies side by side, then memory."""
    keys = ["policy", "concurrency", "clips_per_s", "p50_ms", "p99_ms", "errors", "load_average_1m_after"]
    rows = []
    names = list(result["policies"])
    for i in range(len(result["policies"][names[0]]["rows"])):
        for name in names:
            row = result["policies"][name]["rows"][i]
            rows.append([name] + [row.get(k) for k in keys[1:]])
    mem_keys = ["idle_rss_mib", "peak_rss_mib_during_load"]
    big = result["policies"][names[0]]["big_request"] or {"sequences": 0, "frames": 0}
    mem = [[name, *(p.get(k) for k in mem_keys), *((p["big_request"] or {}).get(k) for k in
                                                   ("peak_rss_mib", "rss_after_5s_mib", "seconds"))]
           for name, p in result["policies"].items()]
    return "\n".join([
        format_environment(result["environment"]), f"bundle: {result['bundle']}",
        f"bodies (cycled): {', '.join(result['bodies'])}", f"{result['seconds_per_cell']} s per cell", "",
        format_table(keys, rows), "",
        f"Memory (MiB; big request = {big['sequences']} sequences of {big['frames']} frames):",
        format_table(["policy", *mem_keys, "big peak", "big after 5 s", "big seconds"], mem)])


def add_load_options(p: argparse.ArgumentParser) -> None:
    """The options every HTTP load benchmark takes: bundle, clips, time per cell, timeouts, --out."""
    p.add_argument("--bundle", type=Path, default=None, help="model bundle (default: the demo bundle)")
    p.add_argument("--demo-dir", type=Path, default=Path("~/.cache/scale/bench-demo-bundle").expanduser())
    p.add_argument("--skeleton-dir", type=Path, default=DEFAULT_SKELETON_DIR)
    p.add_argument("--max-frames", type=int, default=300, help="frames kept of each posted clip")
    p.add_argument("--seconds", type=float, default=20.0, help="measured time per server and concurrency")
    p.add_argument("--start-timeout", type=float, default=600.0)
    p.add_argument("--request-timeout", type=float, default=600.0)
    p.add_argument("--out", type=Path, default=None, help="also write the results as JSON here")


def report_load(args: argparse.Namespace, run: Any, render: Any, key: str) -> int:
    """Run in a temporary folder, print, write JSON; exit code 1 when any request of result[key] failed."""
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        result = run(args, Path(tmp))
    print(render(result))
    write_json(args.out, result)
    return 0 if all(r["errors"] == 0 for group in result[key].values() for r in group["rows"]) else 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.service", description=__doc__.splitlines()[0])
    add_load_options(p)
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16, 32])
    p.add_argument("--policies", nargs="+", default=["old", "new"], choices=list(POLICIES))
    p.add_argument("--baseline-repo", type=Path, default=None,
                   help="also serve this checkout's code with its defaults as policy 'base' (e.g. a worktree of an "
                        "older main), alternated with the others at every concurrency")
    p.add_argument("--default-path", action="store_true",
                   help="start `scale serve` without --bundle: the embedded default serving the demo bundle "
                        "cached in --demo-dir (SCALE_DEMO_DIR)")
    p.add_argument("--baseline-demo-dir", type=Path, default=Path("~/.cache/scale/bench-base-demo-bundle").expanduser(),
                   help="with --default-path: where the baseline checkout builds (or finds) its own demo bundle")
    p.add_argument("--big", type=int, default=64, help="sequences in the memory-probe request (0: no probe)")
    p.add_argument("--big-frames", type=int, default=50, help="frames of each memory-probe sequence")
    args = p.parse_args(argv)
    if min(args.concurrency) < 1 or args.seconds <= 0 or args.big < 0:
        p.error("--concurrency must be >= 1, --big >= 0, --seconds > 0")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run both policies, print, optionally write JSON."""
    return report_load(parse_args(argv), run, render, "policies")


if __name__ == "__main__":
    sys.exit(main())
