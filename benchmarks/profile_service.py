"""Where a request's time goes in a real `scale serve` under load: py-spy samples split by stage.

Starts the service (this checkout, or `--repo` another one such as an older main's worktree), registers the
60 NTU-60 classes, posts the real-clip mix at `--concurrency` for `--seconds` while `py-spy record --idle`
samples every Python thread of the server, then files each sample under the deepest stage marker on its
stack: encoder, scoring (sample side), class side, preprocessing, parsing (JSON / .npy bodies), response
(JSON encoding), registry, HTTP (uvicorn / starlette / FastAPI), batcher. Samples with no marker are idle
waits (event loop, queues, thread pools) when their leaf waits, else "other". Shares are of busy thread
time: a worker blocked in the encoder call counts as encoder time, which is what a clip waits for.

    .venv/bin/python -m benchmarks.profile_service [--repo PATH] [--concurrency 16] [--seconds 20] [--out r.json]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.common import format_table, run_and_report
from benchmarks.server import REPO_ROOT, Server

# (stage, pattern on one frame "function (file:line)"); the deepest matching frame of a stack names its stage
STAGE_MARKERS: list[tuple[str, re.Pattern[str]]] = [
    ("encoder", re.compile(r"\b(_run_feature|features) \(.*inference\.py|runtimes\.py|openvino_graph\.py|single_person")),
    ("scoring", re.compile(r"run_sample_side \(|scoring\.py|open_set\.py")),
    ("class side", re.compile(r"conditioning\.py|text_onnx\.py|run_class_side \(")),
    ("preprocessing", re.compile(r"preprocess\.py|person_slots\.py|layout_(input|fill|maps)\.py|layouts\.py")),
    ("parsing", re.compile(r"payloads\.py|input_rules\.py|rules\.py|json/decoder\.py|json/__init__\.py|"
                           r"_format_impl\.py|format\.py \(|Request\.(body|json) \(|orjson")),
    ("response", re.compile(r"jsonable_encoder|serialize_response|JSONResponse\.render|json/encoder\.py")),
    ("registry", re.compile(r"/registry/")),
    ("batcher", re.compile(r"batcher\.py|isolation\.py")),
    ("HTTP", re.compile(r"uvicorn/|h11/|httptools|starlette/|fastapi/|http_protocol\.py|routers/")),
]
# uvloop's loop is C: py-spy shows the event loop's own time as the leaf `Runner.run`, which is its wait
IDLE_LEAF = re.compile(r"\b(select|poll|wait|_wait_for_tstate_lock|get|acquire|_acquire_restore|sleep|_worker|"
                       r"run_forever|_run_once|accept|recv|epoll|Runner\.run)$")
PASSIVE_STAGES = ("HTTP", "batcher")


def stage_of(stack: str) -> str:
    """The stage of one collapsed stack (root;...;leaf): the deepest marker, else idle or other."""
    frames = stack.split(";")
    waiting = bool(IDLE_LEAF.search(frames[-1].split(" (")[0]))
    for frame in reversed(frames):
        for stage, pattern in STAGE_MARKERS:
            if pattern.search(frame):
                # a thread waiting under the event loop or the batcher is idle; one waiting inside a stage's
                # call (a worker blocked in the encoder while the runtime's threads compute) is that stage
                return "idle" if waiting and stage in PASSIVE_STAGES else stage
    return "idle" if waiting else "other"


def split_by_stage(raw: str) -> dict[str, int]:
    """py-spy raw output (one `stack count` per line) -> samples per stage."""
    counts: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            counts[stage_of(stack)] += int(count)
    return dict(counts)


def shares(counts: dict[str, int]) -> dict[str, float]:
    """Percent of busy samples per stage (idle excluded)."""
    busy = {k: v for k, v in counts.items() if k != "idle"}
    total = sum(busy.values())
    if total == 0:
        raise ValueError("no busy samples: was the server under load?")
    return {k: 100.0 * v / total for k, v in sorted(busy.items(), key=lambda kv: -kv[1])}


def profile(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Serve, load, sample; returns counts and shares per stage."""
    from benchmarks.cpu_policy import ensure_bundle
    from benchmarks.service import clip_bodies, fire_for, register_ntu60

    pyspy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    bundle = ensure_bundle(args.bundle, args.demo_dir)
    bodies = clip_bodies(args.skeleton_dir, 300)
    server = Server(bundle, {}, workdir / "server.log", cli=True, repo_root=args.repo, default_path=args.default_path)
    raw_path = workdir / "pyspy.txt"
    try:
        server.wait_ready(600)
        register_ntu60(server.url)
        asyncio.run(fire_for(server.url, bodies, 2.0, 2, 600))  # warm every path
        load = threading.Thread(target=lambda: asyncio.run(
            fire_for(server.url, bodies, args.seconds + 2, args.concurrency, 600)))
        load.start()
        spy = subprocess.run([pyspy, "record", "-p", str(server.pid), "-d", str(int(args.seconds)), "-r",
                              str(args.rate), "--idle", "-f", "raw", "-o", str(raw_path)],
                             capture_output=True, text=True, timeout=args.seconds + 120)
        load.join()
        if spy.returncode != 0:
            raise RuntimeError(f"py-spy failed: {spy.stderr[-2000:]}")
    finally:
        server.stop()
    raw = raw_path.read_text()
    if args.raw_out is not None:
        args.raw_out.write_text(raw)
    counts = split_by_stage(raw)
    return {"benchmark": "profile_service", "repo": str(args.repo), "concurrency": args.concurrency,
            "seconds": args.seconds, "rate_hz": args.rate, "samples": counts, "percent_busy": shares(counts),
            "loadavg": Path("/proc/loadavg").read_text().strip(), "load_average_1m": os.getloadavg()[0]}


def render(result: dict[str, Any]) -> str:
    """Stage shares as a table."""
    rows = [[k, result["samples"][k], v] for k, v in result["percent_busy"].items()]
    return "\n".join([f"repo {result['repo']}, concurrency {result['concurrency']}, {result['seconds']} s at "
                      f"{result['rate_hz']} Hz, loadavg {result['loadavg']}",
                      format_table(["stage", "samples", "% of busy thread time"], rows)])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    from benchmarks.service import DEFAULT_SKELETON_DIR

    p = argparse.ArgumentParser(prog="python -m benchmarks.profile_service", description=__doc__.splitlines()[0])
    p.add_argument("--repo", type=Path, default=REPO_ROOT, help="checkout whose code serves")
    p.add_argument("--bundle", type=Path, default=None)
    p.add_argument("--demo-dir", type=Path, default=Path("~/.cache/scale/bench-demo-bundle").expanduser())
    p.add_argument("--default-path", action="store_true", help="serve without --bundle (the cached demo)")
    p.add_argument("--skeleton-dir", type=Path, default=DEFAULT_SKELETON_DIR)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--rate", type=int, default=50, help="py-spy samples per second")
    p.add_argument("--raw-out", type=Path, default=None, help="also keep py-spy's raw stacks here")
    p.add_argument("--out", type=Path, default=None)
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Profile once in a scratch folder."""
    with tempfile.TemporaryDirectory(prefix="scale-profile-") as tmp:
        return profile(args, Path(tmp))


def main(argv: list[str] | None = None) -> int:
    """Profile once, print, optionally write JSON."""
    return run_and_report(parse_args, run, render, argv)


if __name__ == "__main__":
    sys.exit(main())
