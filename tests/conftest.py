"""Shared fixtures: the real test data in ../shared/data and a private redis-server per test session."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# The parity tests hold the service to the PyTorch reference at |dE| <= 1e-4 + 1e-5 |E|: they run the f32
# encoder. The default on a CPU with native bf16 is "mixed", judged by the accuracy gate instead
# (tests/service/engine/test_accuracy_gate.py, test_openvino_graph.py); tests that mean the default say so.
os.environ.setdefault("SCALE_ENCODER_PRECISION", "f32")
SHARED_DATA = Path(os.environ.get("SCALE_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ../shared/data; fails (never skips) in CI when it is missing."""
    if not SHARED_DATA.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"shared test data not found at {SHARED_DATA}")
        pytest.skip(f"shared test data not found at {SHARED_DATA}")
    return SHARED_DATA


def shipped_appendfsync() -> str:
    """The appendfsync policy the shipped docker-compose.yml gives Redis (Redis's default, everysec, if unset):
    the fault tests run Redis as it ships, not as a test would like it."""
    text = (REPO_ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    found = re.search(r"""appendfsync["'\s,=:]+(always|everysec|no)\b""", text)
    return found.group(1) if found else "everysec"


class RedisServer:
    """A private redis-server process that tests may stop and restart on the same port and data dir."""

    def __init__(self, workdir: Path, binary: str | None = None, extra_args: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.binary = binary
        self.extra_args = extra_args
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = self.binary or shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir),
             "--appendonly", "yes", "--appendfsync", shipped_appendfsync(), "--save", "", *self.extra_args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture()
def redis_server(tmp_path_factory: pytest.TempPathFactory):
    """A fresh redis-server on a free port (function scope so tests never share state)."""
    if shutil.which("redis-server") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is required in CI")
        pytest.skip("redis-server not installed")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()
