"""Write latency of the class registry with Redis's `appendfsync everysec` (Redis's default) against
`always` (what docker-compose.yml and deploy/k8s ship: a write is answered after the AOF reached the disk).

Starts a private redis-server per run on a free port with its AOF in a temporary folder, and times the real
`RedisRegistry.add` (one new class) and `remove` through redis-py, alternating the two policies.
Usage: python -m benchmarks.redis_fsync [--writes 200] [--rounds 2] [--json out.json]"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from service.registry import ClassRecord
from service.registry.redis_registry import RedisRegistry

POLICIES = ("everysec", "always")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _time_writes(url: str, writes: int) -> dict[str, list[float]]:
    registry = RedisRegistry(url, prefix="bench", timeout_s=10.0)
    times: dict[str, list[float]] = {"add": [], "remove": []}
    try:
        for i in range(writes):
            record = ClassRecord.create(f"class {i}", f"a photo of class {i}")
            began = time.perf_counter()
            await registry.add([record])
            times["add"].append(time.perf_counter() - began)
            began = time.perf_counter()
            await registry.remove(record.id)
            times["remove"].append(time.perf_counter() - began)
    finally:
        await registry.close()
    return times


def run(policy: str, writes: int) -> dict[str, list[float]]:
    """One private redis-server with the given fsync policy; the registry's write latencies (seconds)."""
    port = _free_port()
    with tempfile.TemporaryDirectory() as data:
        server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", data,
                                   "--appendonly", "yes", "--appendfsync", policy, "--save", ""],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            return asyncio.run(_time_writes(f"redis://127.0.0.1:{port}/0", writes))
        finally:
            server.terminate()
            server.wait(10)


def main() -> None:
    """Alternate the policies, pool the rounds, print per policy and operation p50/p90/p99 in ms."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is not on the PATH")
    pooled: dict[str, dict[str, list[float]]] = {p: {"add": [], "remove": []} for p in POLICIES}
    for _ in range(args.rounds):
        for policy in POLICIES:
            for op, values in run(policy, args.writes).items():
                pooled[policy][op] += values
    report = {"writes_per_round": args.writes, "rounds": args.rounds,
              "loadavg": Path("/proc/loadavg").read_text().split()[:3], "ms": {}}
    print(f"load average {' '.join(report['loadavg'])}; {args.rounds} x {args.writes} writes per policy")
    print(f"{'policy':<10} {'op':<7} {'p50':>7} {'p90':>7} {'p99':>7} {'mean':>7}  (ms)")
    for policy, ops in pooled.items():
        for op, values in ops.items():
            ms = np.array(values) * 1000
            row = {q: round(float(np.percentile(ms, int(q[1:]))), 2) for q in ("p50", "p90", "p99")}
            row["mean"] = round(float(ms.mean()), 2)
            report["ms"][f"{policy} {op}"] = row
            print(f"{policy:<10} {op:<7} {row['p50']:>7} {row['p90']:>7} {row['p99']:>7} {row['mean']:>7}")
    ratio = report["ms"]["always add"]["p50"] / report["ms"]["everysec add"]["p50"]
    report["add_p50_ratio_always_over_everysec"] = round(ratio, 2)
    print(f"add p50 always / everysec: {ratio:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
