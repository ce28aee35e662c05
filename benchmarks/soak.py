"""Soak a running service from a separate process: mixed register / delete / list / recognize over HTTP.

    python -m benchmarks.soak --url http://127.0.0.1:8000 --seconds 600 [--key KEY] [--workers 4] [--out r.json]

Prints (and writes with --out) a JSON summary: requests and statuses per operation, latency percentiles and
the elapsed time. Used for 60 s by tests/service/test_soak.py; run it longer by hand against `scale serve`.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx
import numpy as np

LABEL_POOL = [f"soak action {i}" for i in range(24)]  # bounded: the conditioning cache stays bounded too


def sequence(rng: np.random.Generator, frames: int) -> list:
    """A moving (1,T,25,3) skeleton with a non-degenerate spine and shoulders, in metres."""
    base = rng.normal(scale=0.3, size=(1, 1, 25, 3))
    base[:, :, 1] = base[:, :, 0] + [0.0, 0.3, 0.05]
    base[:, :, 8, 0] = base[:, :, 4, 0] + 0.35
    t = np.linspace(0, 2 * np.pi, frames)[None, :, None, None]
    return (base + 0.1 * np.sin(t * rng.uniform(0.5, 3, size=(1, 1, 25, 3))) + 3.0).round(4).tolist()


class Soak:
    """Shared counters of one soak run (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: dict[str, Counter] = defaultdict(Counter)
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.ids: list[str] = []

    def record(self, op: str, status: int, seconds: float) -> None:
        with self.lock:
            self.statuses[op][str(status)] += 1
            self.latency[op].append(seconds)


def worker(client: httpx.Client, soak: Soak, until: float, seed: int, headers: dict[str, str]) -> None:
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    while time.monotonic() < until:
        op = rng.choices(["recognize", "register", "delete", "list"], weights=[6, 2, 1, 1])[0]
        t0 = time.perf_counter()
        try:
            if op == "recognize":
                r = client.post("/recognize", json={"skeleton": sequence(nrng, rng.randint(8, 64)), "top_k": 3})
            elif op == "register":
                labels = rng.sample(LABEL_POOL, rng.randint(1, 3))
                r = client.post("/classes", json={"classes": [{"label": lab} for lab in labels]}, headers=headers)
                if r.status_code == 200:
                    with soak.lock:
                        soak.ids.extend(c["id"] for c in r.json()["classes"])
            elif op == "delete":
                with soak.lock:
                    victim = soak.ids.pop(rng.randrange(len(soak.ids))) if len(soak.ids) > 4 else None
                if victim is None:
                    continue
                r = client.delete(f"/classes/{victim}", headers=headers)
            else:
                r = client.get("/classes")
            soak.record(op, r.status_code, time.perf_counter() - t0)
        except httpx.HTTPError as exc:
            soak.record(op, 0, time.perf_counter() - t0)
            print(f"transport error on {op}: {exc!r}")


def run(url: str, seconds: float, key: str | None = None, workers: int = 4) -> dict[str, Any]:
    """Soak `url` for `seconds` with `workers` threads; returns the summary."""
    headers = {"X-API-Key": key} if key else {}
    soak = Soak()
    start = time.monotonic()
    with httpx.Client(base_url=url, timeout=60) as client:
        client.post("/classes", json={"classes": [{"label": lab} for lab in LABEL_POOL[:4]]}, headers=headers)
        threads = [threading.Thread(target=worker, args=(client, soak, start + seconds, i, headers))
                   for i in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    summary: dict[str, Any] = {"seconds": round(time.monotonic() - start, 1), "workers": workers, "ops": {}}
    for op, counts in soak.statuses.items():
        lat = np.array(soak.latency[op]) * 1000
        summary["ops"][op] = {"requests": int(sum(counts.values())), "statuses": dict(counts),
                              "p50_ms": round(float(np.percentile(lat, 50)), 1),
                              "p99_ms": round(float(np.percentile(lat, 99)), 1),
                              "max_ms": round(float(lat.max()), 1)}
    return summary


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--key", default=None, help="API key for the write routes (X-API-Key)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    summary = run(args.url, args.seconds, args.key, args.workers)
    text = json.dumps(summary, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
