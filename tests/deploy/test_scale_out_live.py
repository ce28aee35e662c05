"""The scale-out profile on a real engine: three cpu replicas behind the nginx proxy (stand-in image), one
replica's process killed with SIGKILL under load. Every request the Python client sends through the proxy
must succeed: nginx replays a request whose replica died on another one, and answers 503 + Retry-After (which
the client retries) when none could. Figures are printed and, with SCALE_SCALE_OUT_REPORT=path, stored as JSON
(benchmarks/results/scale_out_failover.json, docs/reliability.md).

Runs only where SCALE_DOCKER_TESTS=1 and an engine answers (.ci/docker.sh starts one)."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from .compose_support import READY_TIMEOUT_S, Project, compose_project, free_port, free_port_range, wait_ready

pytestmark = [pytest.mark.docker, pytest.mark.integration]
REPLICAS, WORKERS, LOAD_S, KILL_AT_S = 3, 4, 24.0, 6.0


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Project, str]]:
    with compose_project(tmp_path_factory, "out", host_port=free_port_range(REPLICAS)) as project:
        env = {"HOST_PROXY_PORT": str(free_port())}
        project.compose("--profile", "cpu", "--profile", "scale-out", "up", "-d", "--scale", f"scale-cpu={REPLICAS}",
                        env=env)
        for cid in project.containers("scale-cpu"):
            project.wait_healthy("scale-cpu", READY_TIMEOUT_S, cid)
        url = f"http://127.0.0.1:{env['HOST_PROXY_PORT']}"
        assert wait_ready(url, 60) is not None, project.compose("logs", "--no-color", "proxy", check=False).stdout
        yield project, url


class CountingTransport(httpx.HTTPTransport):
    """Counts every HTTP answer (and transport error) the client saw, retries included."""

    def __init__(self, counts: Counter[str], lock: threading.Lock) -> None:
        super().__init__()
        self.counts, self.lock = counts, lock

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = super().handle_request(request)
        except httpx.TransportError:
            with self.lock:
                self.counts["transport-error"] += 1
            raise
        with self.lock:
            self.counts[str(response.status_code)] += 1
        return response


def crash(project: Project, cid: str) -> None:
    """SIGKILL the replica's server process from the host, as a crash would (not `docker stop`)."""
    pid = project.state("scale-cpu", "{{.State.Pid}}", cid)
    subprocess.run(["kill", "-9", pid], check=True)


def test_three_replicas_behind_the_proxy_lose_no_request_when_one_is_killed(scaled: tuple[Project, str]) -> None:
    from client import ScaleClient, ScaleError

    project, url = scaled
    with ScaleClient(url, project.key, max_retries=3) as client:
        client.add_classes(["drink water", "sit down", "stand up"])
    rng = np.random.default_rng(0)
    skeleton = rng.normal(0, 0.3, (40, 25, 3)).astype(np.float32) + np.float32([0, 0, 3])
    counts: Counter[str] = Counter()
    lock = threading.Lock()
    latencies: list[float] = []
    finished: list[float] = []
    failures: list[str] = []
    victim = project.containers("scale-cpu")[0]
    start = time.monotonic()

    def worker() -> None:
        with ScaleClient(url, project.key, timeout=60, transport=CountingTransport(counts, lock),
                         max_retries=3) as c:
            while time.monotonic() - start < LOAD_S:
                began = time.monotonic()
                try:
                    c.recognize(skeleton, top_k=2)
                    with lock:
                        latencies.append(time.monotonic() - began)
                        finished.append(time.monotonic() - start)
                except ScaleError as exc:
                    with lock:
                        failures.append(f"{time.monotonic() - start:.1f}s {exc!r}")

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    time.sleep(KILL_AT_S)
    crash(project, victim)
    killed_at = time.monotonic() - start
    for t in threads:
        t.join(LOAD_S + 120)
    proxy_log = project.compose("logs", "--no-color", "proxy", check=False).stdout
    upstream_errors = [ln.split("|", 1)[-1].strip()[:200] for ln in proxy_log.splitlines()
                       if "upstream" in ln and ("prematurely closed" in ln or "failed" in ln or "timed out" in ln)]
    ms = np.array(latencies) * 1000
    report: dict[str, Any] = {
        "replicas": REPLICAS, "workers": WORKERS, "load_s": LOAD_S, "killed_at_s": round(killed_at, 1),
        "requests_succeeded": len(latencies), "requests_failed": len(failures), "failures": failures[:10],
        "answers_seen_by_the_client": dict(sorted(counts.items())),
        "requests_finished_after_the_kill": sum(t > killed_at for t in finished),
        "proxy_upstream_errors_logged": len(upstream_errors), "proxy_upstream_errors_first": upstream_errors[:4],
        "latency_ms": {"p50": round(float(np.percentile(ms, 50)), 1), "p99": round(float(np.percentile(ms, 99)), 1),
                       "max": round(float(ms.max()), 1)} if len(ms) else None,
        "victim_after": project.state("scale-cpu", "{{.State.Status}} restarts={{.RestartCount}}", victim),
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
    }
    print("\nscale-out failover:", json.dumps(report, indent=2))
    if os.environ.get("SCALE_SCALE_OUT_REPORT"):
        Path(os.environ["SCALE_SCALE_OUT_REPORT"]).write_text(json.dumps(report, indent=2) + "\n")
    assert not failures, report
    assert killed_at < LOAD_S - 5 and sum(t > killed_at for t in finished) >= 4  # load before and after the kill
    assert counts["200"] == len(latencies)  # every success is one 200: nothing answered twice
