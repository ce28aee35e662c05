"""A service process for the benchmarks: `scale serve` (or the uvicorn app factory) on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """The service in a subprocess with its own environment and log file (`cli=True`: the real `scale serve`)."""

    def __init__(self, bundle: Path, env: dict[str, str], log_path: Path, cli: bool = True, *,
                 repo_root: Path = REPO_ROOT, default_path: bool = False, http_workers: int = 1) -> None:
        """`repo_root`: the checkout whose code serves (e.g. an older commit's worktree); `default_path`:
        `scale serve` without a bundle, serving the demo bundle cached in `bundle` (SCALE_DEMO_DIR);
        `http_workers` > 1: uvicorn's app factory with that many worker processes (`cli` is then ignored)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("SCALE_") and k != "REDIS_URL"}
        where = {"SCALE_DEMO_DIR": str(bundle)} if default_path else {"SCALE_BUNDLE_PATH": str(bundle)}
        full_env.update({**where, "SCALE_LOG_LEVEL": "warning", "PYTHONPATH": str(repo_root), **env})
        if cli and http_workers == 1:
            argv = [sys.executable, "-m", "cli.main", "serve", "--host", "127.0.0.1",
                    "--port", str(self.port), "--log-level", "warning"]
            argv += [] if default_path else ["--bundle", str(bundle)]
        else:
            argv = [sys.executable, "-m", "uvicorn", "service.app:create_app", "--factory", "--host", "127.0.0.1",
                    "--port", str(self.port), "--log-level", "warning", "--no-access-log"]
            argv += ["--workers", str(http_workers)] if http_workers > 1 else []
        self.log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(argv, cwd=repo_root, env=full_env, stdout=self.log, stderr=subprocess.STDOUT)
        self.log_path = log_path

    @property
    def pid(self) -> int:
        """The server's process id (uvicorn runs in it, so its RSS is the service's)."""
        return self.proc.pid

    def wait_ready(self, timeout_s: float) -> None:
        """Poll /readyz until 200; raises with the server log tail when it dies or times out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"server not ready after {timeout_s:.0f}s:\n{self.tail()}")

    def tail(self, n: int = 30) -> str:
        """Last lines of the server log."""
        self.log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def stop(self) -> int:
        """SIGINT (uvicorn's graceful shutdown), SIGKILL after 20 s; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return int(self.proc.returncode)
