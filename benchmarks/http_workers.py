"""HTTP worker processes against threads: one `scale serve` process vs uvicorn with N worker processes.

Both serve the same bundle through one Redis registry (a redis-server of its own on a free loopback port), so a
class registered through any process is seen by all. "threads": one process, the default serving policy (its
inference runs on threads that release the GIL). "processes": uvicorn's app factory with `--workers N`, each
process with one inference run of one thread at a time (SCALE_INFERENCE_WORKERS=1, SCALE_INTRA_OP_THREADS=1), so
both use the same cores. The two alternate at every concurrency on the real NTU clips (as benchmarks.service);
memory is summed over each server's process tree.

    .venv/bin/python -m benchmarks.http_workers [--workers 2] [--concurrency 4 16] [--seconds 20] [--out r.json]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from benchmarks.common import environment, format_environment, format_table
from benchmarks.procmem import process_tree, tree_peak_rss_mib, tree_reset_peak, tree_rss_mib
from benchmarks.server import Server
from benchmarks.service import (
    add_load_options,
    alternate_loads,
    clip_bodies,
    fire_for,
    register_ntu60,
    report_load,
)
from tests.conftest import RedisServer


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Start both servers on one Redis, register the classes once, alternate the loads."""
    from benchmarks.cpu_policy import ensure_bundle

    bundle = ensure_bundle(args.bundle, args.demo_dir)
    bodies = clip_bodies(args.skeleton_dir, args.max_frames)
    redis = RedisServer(workdir, extra_args=("--appendonly", "no"))  # a throwaway Redis: no AOF
    redis.start()
    # durable acks wait for an AOF this throwaway Redis does not keep
    common = {"SCALE_REDIS_URL": redis.url, "SCALE_REDIS_DURABLE_ACKS": "false"}
    single = {"SCALE_INFERENCE_WORKERS": "1", "SCALE_INTRA_OP_THREADS": "1"}
    servers = {"threads": Server(bundle, common, workdir / "threads.log", cli=True),
               f"processes x{args.workers}": Server(bundle, {**common, **single}, workdir / "processes.log",
                                                    cli=False, http_workers=args.workers)}
    results: dict[str, Any] = {name: {"rows": []} for name in servers}
    try:
        for server in servers.values():
            server.wait_ready(args.start_timeout)
        classes = register_ntu60(servers["threads"].url)
        for name, server in servers.items():
            results[name]["processes"] = len(process_tree(server.pid))
            asyncio.run(fire_for(server.url, bodies, 2.0, 2 * args.workers, args.request_timeout))  # warm all
            results[name]["idle_rss_mib"] = tree_rss_mib(server.pid)
            tree_reset_peak(server.pid)
        alternate_loads(servers, bodies, args, results)
        for name, server in servers.items():
            results[name]["peak_rss_mib_during_load"] = tree_peak_rss_mib(server.pid)
    finally:
        for name, server in servers.items():
            results[name]["server_exit_code"] = server.stop()
        redis.stop()
    return {"benchmark": "http_workers", "environment": environment(), "bundle": str(bundle), "classes": classes,
            "seconds_per_cell": args.seconds, "servers": results, "settings": {k: str(v) for k, v in vars(args).items()}}


def render(result: dict[str, Any]) -> str:
    """Per server and concurrency: clips/s, p50, p99, errors, load; then memory."""
    keys = ["concurrency", "clips_per_s", "p50_ms", "p99_ms", "errors", "load_average_1m_after"]
    rows = [[name, *(row.get(k) for k in keys)] for name, r in result["servers"].items() for row in r["rows"]]
    mem = [[name, r["processes"], r["idle_rss_mib"], r["peak_rss_mib_during_load"]]
           for name, r in result["servers"].items()]
    return "\n\n".join([format_environment(result["environment"]), format_table(["server", *keys], rows),
                        format_table(["server", "processes", "idle RSS MiB (sum)", "peak RSS MiB (sum of peaks)"],
                                     mem)])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.http_workers", description=__doc__.splitlines()[0])
    add_load_options(p)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="uvicorn worker processes")
    p.add_argument("--concurrency", type=int, nargs="+", default=[4, 16])
    args = p.parse_args(argv)
    if args.workers < 2 or min(args.concurrency) < 1 or args.seconds <= 0:
        p.error("--workers must be >= 2, --concurrency >= 1, --seconds > 0")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run both servers, print, optionally write JSON."""
    return report_load(parse_args(argv), run, render, "servers")


if __name__ == "__main__":
    sys.exit(main())
