"""Run the real service (uvicorn subprocess, demo bundle, real Redis) for the client and CLI tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
SKELETONS = ("skeletons", "ntu60_raw")
DEMO_FRAMES = 64  # small T' keeps the CPU encoder fast; real clips here have 70-124 frames


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def demo_bundle_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo bundle shared by the whole session (build_demo_bundle reuses an intact one)."""
    import torch

    from training.demo import build_demo_bundle

    torch.set_num_threads(1)
    return build_demo_bundle(tmp_path_factory.getbasetemp() / "client-demo-bundle", num_frames=DEMO_FRAMES)


def clean_env(**extra: str) -> dict[str, str]:
    """os.environ without any SCALE_*/REDIS_URL a developer may have exported, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALE_") and k != "REDIS_URL"}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(REPO), **extra)
    return env


@contextmanager
def running_service(bundle: Path, redis_url: str, log_dir: Path, **settings: str) -> Iterator[str]:
    """Start `uvicorn service.app:create_app` on a free port, wait for /readyz, yield its URL, stop it."""
    port = free_port()
    env = clean_env(SCALE_BUNDLE_PATH=str(bundle), REDIS_URL=redis_url, SCALE_PORT=str(port),
                    SCALE_LOG_LEVEL="warning", **settings)
    log_path = log_dir / f"service-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "service.app:create_app",
                                 "--host", "127.0.0.1", "--port", str(port)],
                                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc, log_path, timeout=180)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def wait_ready(url: str, proc: subprocess.Popen, log_path: Path, timeout: float) -> None:
    """Poll /readyz until 200; fail with the service log when it exits or the time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"service exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    pytest.fail(f"service not ready after {timeout}s:\n{log_path.read_text()[-3000:]}")
