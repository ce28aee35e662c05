"""A 60 s mixed soak of `scale serve` from a separate process: zero 5xx, RSS growth < 10 % after warm-up."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.live_server import REPO, clean_env, free_port, live_server
from tests.service.svc_support import tiny_bundle

pytestmark = pytest.mark.integration
SOAK_SECONDS = 60
WARMUP_SECONDS = 15


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS line")


def test_sixty_second_mixed_soak(tmp_path: Path) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "cli.main", "serve", "--bundle", str(tiny_bundle().path), "--port", str(port),
            "--device", "cpu", "--log-level", "warning"]
    out = tmp_path / "soak.json"
    samples: list[tuple[float, int]] = []
    with live_server(argv, port, tmp_path / "serve.log", clean_env(SCALE_API_KEY="soak-key-123456")) as server:
        client = subprocess.Popen([sys.executable, "-m", "benchmarks.soak", "--url", server.url, "--seconds",
                                   str(SOAK_SECONDS), "--key", "soak-key-123456", "--out", str(out)],
                                  cwd=REPO, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        start = time.monotonic()

        def sample() -> None:
            while client.poll() is None:
                samples.append((time.monotonic() - start, rss_bytes(server.proc.pid)))
                time.sleep(1)
        sampler = threading.Thread(target=sample)
        sampler.start()
        log = client.communicate(timeout=SOAK_SECONDS + 120)[0].decode(errors="replace")
        sampler.join()
        assert client.returncode == 0, log[-3000:]
    summary = json.loads(out.read_text())
    warm = [rss for t, rss in samples if t >= WARMUP_SECONDS]
    growth = (warm[-1] - warm[0]) / warm[0]
    print(json.dumps({**summary, "rss_mb_after_warmup": round(warm[0] / 2**20, 1),
                      "rss_mb_end": round(warm[-1] / 2**20, 1), "rss_mb_peak": round(max(warm) / 2**20, 1),
                      "rss_growth_pct": round(100 * growth, 2)}))
    statuses = {op: s["statuses"] for op, s in summary["ops"].items()}
    assert all(not code.startswith("5") and code != "0" for s in statuses.values() for code in s), statuses
    assert summary["ops"]["recognize"]["statuses"].get("200", 0) >= 50, statuses
    assert growth < 0.10, f"RSS grew {100 * growth:.1f} % after warm-up"
