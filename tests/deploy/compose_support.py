"""Helpers of the live compose tests: a copy of the checkout driven with `docker compose` on a real engine."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
OVERRIDE = "docker/standin/compose.override.yml"
READY_TIMEOUT_S = 240
STANDINS = ("scale-standin/python:3.11-bookworm", "scale-standin/redis:7-bookworm", "scale-standin/nginx:1-bookworm")


def engine_missing() -> str | None:
    """Why the live tests cannot run here (None: they can)."""
    if os.environ.get("SCALE_DOCKER_TESTS") != "1":
        return "set SCALE_DOCKER_TESTS=1 (and run a docker engine) to run the live compose tests"
    for cmd in (["docker", "info"], ["docker", "compose", "version"], ["docker", "image", "inspect", *STANDINS]):
        if subprocess.run(cmd, capture_output=True, timeout=60).returncode != 0:
            return f"`{' '.join(cmd)}` failed (docker/standin/build.sh builds the stand-in images)"
    return None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_range(count: int) -> str:
    """`first-last`: `count` consecutive ports free on 127.0.0.1 now (for `--scale` with published ports)."""
    for _ in range(50):
        first = free_port()
        try:
            with ExitStack() as stack:
                for port in range(first, first + count):
                    stack.enter_context(socket.socket()).bind(("127.0.0.1", port))
            return f"{first}-{first + count - 1}"
        except OSError:
            continue
    raise RuntimeError(f"no {count} consecutive free ports")


class Project:
    """A copy of the checkout (so nothing is written into it) driven with `docker compose`."""

    def __init__(self, root: Path, name: str, port: int, key: str) -> None:
        self.root, self.name, self.port, self.key = root, name, port, key

    def compose(self, *args: str, check: bool = True, timeout: int = 900,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run `docker compose` with the stand-in override in the project's folder (its .env is read)."""
        cmd = ["docker", "compose", "-p", self.name, "-f", "docker-compose.yml", "-f", OVERRIDE, *args]
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "HOST_", "REDIS_"))}
        done = subprocess.run(cmd, cwd=self.root, capture_output=True, text=True, timeout=timeout,
                              env={**clean, **(env or {})})
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} -> {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done

    def containers(self, service: str) -> list[str]:
        """Container ids of a service (stopped ones too)."""
        return self.compose("ps", "-a", "-q", service).stdout.split()

    def container(self, service: str) -> str:
        return self.containers(service)[0]

    def services(self) -> set[str]:
        """Services that have a container in the project."""
        return set(self.compose("ps", "-a", "--format", "{{.Service}}").stdout.split())

    def state(self, service: str, fmt: str, cid: str | None = None) -> str:
        return subprocess.run(["docker", "inspect", "--format", fmt, cid or self.container(service)],
                              capture_output=True, text=True, check=True).stdout.strip()

    def wait_healthy(self, service: str, timeout: float, cid: str | None = None) -> float:
        """Seconds until the container's HEALTHCHECK says healthy (AssertionError with its logs otherwise)."""
        start, status = time.monotonic(), ""
        while time.monotonic() - start < timeout:
            status = self.state(service, "{{if .State.Health}}{{.State.Health.Status}}{{end}} {{.State.Status}}", cid)
            if status.startswith("healthy"):
                return time.monotonic() - start
            if "exited" in status or "dead" in status:
                break
            time.sleep(1)
        logs = self.compose("logs", "--no-color", service, check=False).stdout[-4000:]
        raise AssertionError(f"{service} not healthy after {time.monotonic() - start:.0f}s (limit {timeout:.0f}s, "
                             f"state: {status}); logs:\n{logs}")

    def redis_cli(self, *args: str, auth: bool = True) -> str:
        """redis-cli inside the Redis container, with the password or without it."""
        script = ("" if auth else "unset REDISCLI_AUTH; ") + "redis-cli " + " ".join(args)
        return self.compose("exec", "-T", "redis", "sh", "-c", script).stdout.strip()


def copy_checkout(dest: Path) -> None:
    """Tracked and untracked-but-not-ignored files of the checkout (what a fresh clone plus edits holds)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


@contextmanager
def compose_project(tmp_path_factory: pytest.TempPathFactory, tag: str, host_port: str | None = None,
                    demo: bool = False) -> Iterator[Project]:
    """A checkout copy with the demo bundle as its bundle, a `.env` made from docker/.env.example's names
    (random API key and Redis password), the cpu image built; `down -v` at the end."""
    reason = engine_missing()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp(f"compose-{tag}")
    copy_checkout(root)
    from service.settings import Settings
    from training.demo import build_demo_bundle  # the host has torch; the image does not

    # built (or reused when intact) where `scale serve` keeps it, then copied: the bundle mount and the demo target
    cached = build_demo_bundle(Settings().demo_dir)
    bundle = root / "bundles" / "current"
    shutil.copytree(cached, bundle)
    if demo:
        shutil.copytree(cached, root / "docker" / "demo" / "bundle")
    port, key = free_port(), secrets.token_urlsafe(18)
    (root / ".env").write_text(f"COMPOSE_PROFILES=gpu\nSCALE_API_KEY={key}\nREDIS_PASSWORD={secrets.token_urlsafe(18)}\n"
                               f"HOST_BUNDLE_DIR={bundle}\nHOST_PORT={host_port or port}\n")
    proj = Project(root, f"scale{tag}{os.getpid()}", port, key)
    try:
        proj.compose("--profile", "cpu", "build", "scale-cpu", timeout=1200)
        yield proj
    finally:
        proj.compose("--profile", "cpu", "--profile", "demo", "--profile", "scale-out", "down", "-v",
                     "--remove-orphans", check=False)


def wait_ready(url: str, timeout: float = READY_TIMEOUT_S) -> float | None:
    """Seconds until GET /readyz answers 200 (None on timeout)."""
    started = time.monotonic()
    with httpx.Client(base_url=url, timeout=5) as http:
        while time.monotonic() - started < timeout:
            try:
                if http.get("/readyz", timeout=2).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    return None
