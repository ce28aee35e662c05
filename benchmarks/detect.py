"""/detect throughput and /streams window latency on the real PKU-MMD sample (uvicorn on loopback).

    .venv/bin/python -m benchmarks.detect [--bundle PATH] [--repeats 3] [--chunk 16] [--fps 0] [--out r.json]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks.common import environment, format_environment, format_table, write_json
from benchmarks.cpu_policy import ensure_bundle
from benchmarks.service import REPO_ROOT, Server

SAMPLE = REPO_ROOT.parent / "shared" / "data" / "skeletons" / "pkummd_raw" / "A10N08-L.txt"
LABELS = ("drink water", "eat meal", "brush teeth", "sit down", "stand up", "clapping", "reading", "writing",
          "hand waving", "kicking something")


def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Timed /detect calls, then one stream replay; returns the figures."""
    from client.stream import replay
    from model.pkummd import read_pkummd_skeleton

    body = args.sample.read_bytes()
    joints = read_pkummd_skeleton(args.sample)
    httpx.post(url + "/classes", json={"classes": [{"label": x} for x in LABELS]}, timeout=300).raise_for_status()
    post = lambda: httpx.post(url + "/detect", content=body, headers={"Content-Type": "text/plain"},  # noqa: E731
                              timeout=600)
    post().raise_for_status()  # warm-up (class tensors, buckets)
    walls, answers = [], []
    for _ in range(args.repeats):
        started = time.perf_counter()
        r = post()
        walls.append(time.perf_counter() - started)
        r.raise_for_status()
        answers.append(r.json())
    windows = answers[0]["window"]["count"]
    started = time.perf_counter()
    events = replay(joints, url, fps=args.fps or None, chunk=args.chunk, smooth=1)
    stream_wall = time.perf_counter() - started
    lat = np.array([e["latency_ms"] for e in events if e["type"] == "window"])
    wall = float(np.median(walls))
    return {"frames": answers[0]["frames"], "windows": windows, "detect_wall_s": walls,
            "detect_median_s": wall, "windows_per_s": windows / wall, "frames_per_s": answers[0]["frames"] / wall,
            "stream_wall_s": stream_wall, "stream_windows": int(lat.size),
            "window_latency_ms": {"p50": float(np.percentile(lat, 50)), "p90": float(np.percentile(lat, 90)),
                                  "max": float(lat.max())}, "chunk": args.chunk, "fps": args.fps}


def main(argv: list[str] | None = None) -> int:
    """Run the measurement and print a table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, default=None, help="default: the demo bundle (built once)")
    parser.add_argument("--sample", type=Path, default=SAMPLE)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=16)
    parser.add_argument("--fps", type=float, default=0.0, help="stream replay rate (0 = as fast as possible)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="scale-bench-detect-") as tmp:
        bundle = ensure_bundle(args.bundle, Path(tmp) / "demo")
        server = Server(bundle, {}, Path(tmp) / "server.log")
        try:
            server.wait_ready(600)
            result = measure(server.url, args)
        finally:
            server.stop()
    result["environment"] = environment()
    print(format_environment(result["environment"]))
    lat = result["window_latency_ms"]
    print(format_table(["measure", "value"], [
        ["/detect frames, windows (128/32)", f"{result['frames']}, {result['windows']}"],
        ["/detect median wall (s)", f"{result['detect_median_s']:.2f}"],
        ["/detect windows/s", f"{result['windows_per_s']:.1f}"],
        ["/detect frames/s (x real time at 30 fps)", f"{result['frames_per_s']:.0f} ({result['frames_per_s'] / 30:.1f}x)"],
        [f"/streams window latency p50 / p90 / max (ms), chunk {args.chunk}",
         f"{lat['p50']:.0f} / {lat['p90']:.0f} / {lat['max']:.0f}"],
        ["/streams replay wall (s)", f"{result['stream_wall_s']:.2f}"],
    ]))
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
