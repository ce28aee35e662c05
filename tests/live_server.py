"""One helper for every test that runs the service as a real process: start it, wait for /readyz, stop it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[1]
__all__ = ["REPO", "LiveServer", "clean_env", "free_port", "live_server", "wait_ready"]


def clean_env(**extra: str) -> dict[str, str]:
    """os.environ without any SCALE_*/REDIS_URL a developer may have exported, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALE_") and k != "REDIS_URL"}
    # One thread per server: the CI machine is shared with the test process and other servers. The f32
    # encoder: the live tests compare energies with the PyTorch reference (tests/conftest.py).
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(REPO), SCALE_ENCODER_PRECISION="f32", **extra)
    return env


@dataclass
class LiveServer:
    """A running server process: its URL, the /readyz answer, and (after the stop) its exit status."""

    url: str
    proc: subprocess.Popen
    log_path: Path
    ready: dict[str, Any] = field(default_factory=dict)
    returncode: int | None = None  # None after the stop: it had to be killed

    def log(self) -> str:
        """Everything the process wrote to stdout and stderr so far."""
        return self.log_path.read_text(errors="replace")


def wait_ready(url: str, proc: subprocess.Popen, log_path: Path, timeout: float) -> dict[str, Any]:
    """Poll /readyz until 200 and return its body; fail with the log tail when the process exits or time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{log_path.read_text(errors='replace')[-4000:]}")
        try:
            response = httpx.get(url + "/readyz", timeout=2)
            if response.status_code == 200:
                return response.json()
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.3)
    pytest.fail(f"server not ready after {timeout}s:\n{log_path.read_text(errors='replace')[-4000:]}")


def _stop(proc: subprocess.Popen, timeout: float) -> int | None:
    """SIGTERM, wait; kill and return None when the graceful stop takes longer than `timeout` seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
        return None


@contextmanager
def live_server(argv: list[str], port: int, log_path: Path, env: dict[str, str], *, ready_timeout: float = 180,
                stop_timeout: float = 30) -> Iterator[LiveServer]:
    """Run `argv` (a server listening on 127.0.0.1:`port`) until the block ends, then stop it with SIGTERM.

    The stop never raises, so a failure inside the block is reported as it is; tests that care about a clean
    exit assert `server.returncode` after the block.
    """
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = LiveServer(f"http://127.0.0.1:{port}", proc, log_path)
    try:
        server.ready = wait_ready(server.url, proc, log_path, ready_timeout)
        yield server
    finally:
        server.returncode = _stop(proc, stop_timeout)
