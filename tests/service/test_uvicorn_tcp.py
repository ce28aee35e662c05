"""A real `scale serve` process over TCP: ready, answers, counts, and exits cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import free_port
from tests.service.svc_support import LABELS, prompt_of, reference, skeleton, tiny_bundle, within_tolerance

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALE_") and k != "REDIS_URL"}
    env.update(PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    return env


def _wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"server not ready after {timeout}s:\n{log.read_text()[-3000:]}")


def test_scale_serve_over_tcp_and_sigterm(tmp_path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    cmd = [sys.executable, "-m", "cli.main", "serve", "--bundle", str(tiny_bundle().path), "--host", "127.0.0.1",
           "--port", str(port), "--device", "cpu", "--log-level", "info"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc, log)
        with httpx.Client(base_url=url, timeout=30) as client:
            assert client.post("/classes", json={"classes": [{"label": lab} for lab in LABELS[:3]]}).status_code == 200
            seq = skeleton(7)
            r = client.post("/recognize", json={"skeleton": seq.tolist(), "top_k": 3})
            assert r.status_code == 200, r.text
            got = {x["label"]: x["energy"] for x in r.json()["results"]}
            energy, _ = reference([seq], [prompt_of(lab) for lab in LABELS[:3]])
            assert within_tolerance(np.array([got[lab] for lab in LABELS[:3]]), energy[0]).all()
            big = client.post("/recognize", content=b"0" * 9_000_000, headers={"Content-Type": "application/json"})
            assert big.status_code == 413
            assert 'route="/recognize",status="200"' in client.get("/metrics").text
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    text = log.read_text()
    assert code == 0, text[-3000:]
    assert "CPUExecutionProvider" in text  # providers are logged at start
    assert "Application shutdown complete" in text
