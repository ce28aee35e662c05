"""docker compose on a real engine: build the cpu image from the unchanged Dockerfile (stand-in bases via the
override file), start `--profile cpu`, register classes, recognize a real NTU clip over HTTP, kill Redis and
check the classes survived (AOF volume), and check that a missing bundle ends in a bounded exit, not a loop.

Runs only where SCALE_DOCKER_TESTS=1 and an engine answers (.ci/run starts one); see docs/deploy.md."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.docker, pytest.mark.integration]
OVERRIDE = "docker/standin/compose.override.yml"
READY_TIMEOUT_S = 240
CLASSES = [{"label": "drink water"}, {"label": "sit down"}, {"label": "stand up"}, {"label": "hand waving"}]


def _engine_ready() -> str | None:
    if os.environ.get("SCALE_DOCKER_TESTS") != "1":
        return "set SCALE_DOCKER_TESTS=1 (and run a docker engine) to run the live compose tests"
    for cmd in (["docker", "info"], ["docker", "compose", "version"],
                ["docker", "image", "inspect", "scale-standin/python:3.11-bookworm", "scale-standin/redis:7-bookworm"]):
        if subprocess.run(cmd, capture_output=True, timeout=60).returncode != 0:
            return f"`{' '.join(cmd)}` failed (docker/standin/build.sh builds the stand-in images)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Project:
    """A copy of the checkout (so nothing is written into it) driven with `docker compose`."""

    def __init__(self, root: Path, name: str) -> None:
        self.root, self.name = root, name

    def compose(self, *args: str, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess[str]:
        cmd = ["docker", "compose", "-p", self.name, "-f", "docker-compose.yml", "-f", OVERRIDE, *args]
        done = subprocess.run(cmd, cwd=self.root, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} -> {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done

    def container(self, service: str) -> str:
        return self.compose("ps", "-a", "-q", service).stdout.strip()

    def state(self, service: str, fmt: str) -> str:
        cid = self.container(service)
        return subprocess.run(["docker", "inspect", "--format", fmt, cid], capture_output=True, text=True,
                              check=True).stdout.strip()

    def wait_healthy(self, service: str, timeout: float) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            status = self.state(service, "{{if .State.Health}}{{.State.Health.Status}}{{end}} {{.State.Status}}")
            if status.startswith("healthy"):
                return time.monotonic() - start
            if "exited" in status or "dead" in status:
                break
            time.sleep(1)
        logs = self.compose("logs", "--no-color", service, check=False).stdout[-4000:]
        waited = time.monotonic() - start
        raise AssertionError(f"{service} not healthy after {waited:.0f}s (limit {timeout:.0f}s, state: {status}); "
                             f"logs:\n{logs}")


def copy_checkout(dest: Path) -> None:
    """Tracked and untracked-but-not-ignored files of the checkout (what a fresh clone plus edits holds)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    reason = _engine_ready()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("compose")
    copy_checkout(root)
    from service.settings import Settings
    from training.demo import build_demo_bundle  # the host has torch; the image does not

    # built (or reused when intact) where `scale serve` keeps it, then copied: the bundle mount and the demo target
    cached = build_demo_bundle(Settings().demo_dir)
    bundle = root / "bundles" / "current"
    shutil.copytree(cached, bundle)
    shutil.copytree(cached, root / "docker" / "demo" / "bundle")
    port, key = free_port(), secrets.token_urlsafe(18)
    (root / ".env").write_text(f"SCALE_API_KEY={key}\nHOST_BUNDLE_DIR={bundle}\nHOST_PORT={port}\n")
    proj = Project(root, f"scaletest{os.getpid()}")
    proj.port, proj.key = port, key  # type: ignore[attr-defined]
    try:
        proj.compose("--profile", "cpu", "build", "scale-cpu", timeout=1200)
        yield proj
    finally:
        proj.compose("--profile", "cpu", "--profile", "demo", "down", "-v", "--remove-orphans", check=False)


def test_cpu_profile_serves_a_real_clip_and_keeps_classes_across_a_redis_kill(project: Project, shared_data: Path,
                                                                              record_property) -> None:
    from model.skeleton_io import read_skeleton

    base = f"http://127.0.0.1:{project.port}"  # type: ignore[attr-defined]
    headers = {"X-API-Key": project.key}  # type: ignore[attr-defined]
    project.compose("--profile", "cpu", "up", "-d", "--no-build", "scale-cpu")  # redis healthy first
    started = time.monotonic()
    cold_start = None
    with httpx.Client(base_url=base, timeout=60) as http:
        while cold_start is None and time.monotonic() - started < READY_TIMEOUT_S:
            try:
                if http.get("/readyz", timeout=2).status_code == 200:
                    cold_start = time.monotonic() - started  # container started -> bundle loaded and warm
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        assert cold_start is not None, project.compose("logs", "--no-color", "scale-cpu", check=False).stdout[-4000:]
        record_property("cold_start_to_ready_s", round(cold_start, 1))
        project.wait_healthy("scale-cpu", 60)  # the image's HEALTHCHECK agrees
        assert http.post("/classes", json={"classes": CLASSES}).status_code == 401  # writes need the key
        registered = http.post("/classes", json={"classes": CLASSES}, headers=headers)
        assert registered.status_code == 200, registered.text
        ids = {c["label"]: c["id"] for c in registered.json()["classes"]}
        assert set(ids) == {c["label"] for c in CLASSES}

        clip = shared_data / "skeletons" / "ntu60_raw" / "S001C001P001R001A011.skeleton"  # A011 reading
        joints = read_skeleton(clip).joints
        answer = http.post("/recognize", json={"skeleton": joints.tolist(), "top_k": len(CLASSES)})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert {r["label"] for r in body["results"]} == set(ids)
        energies = [r["energy"] for r in body["results"]]
        assert energies == sorted(energies) and all(np.isfinite(energies))
        assert body["demo"] is True and "NOT meaningful" in body["warning"]  # the bundle used here is the demo

        # SIGKILL: no shutdown save, so only the append-only file on the volume can bring the classes back
        time.sleep(1.5)  # appendfsync everysec
        project.compose("kill", "-s", "SIGKILL", "redis")
        project.compose("start", "redis")
        project.wait_healthy("redis", 60)
        deadline = time.monotonic() + 30
        while True:
            listed = http.get("/classes")
            if listed.status_code == 200 and not listed.json().get("stale"):
                break
            assert time.monotonic() < deadline, listed.text
            time.sleep(1)
        assert {c["id"] for c in listed.json()["classes"]} == set(ids.values())
        again = http.post("/recognize", json={"skeleton": joints.tolist(), "top_k": len(CLASSES)})
        assert again.status_code == 200 and [r["class_id"] for r in again.json()["results"]] == \
            [r["class_id"] for r in body["results"]]
        stats = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{.MemUsage}}",
                                project.container("scale-cpu")], capture_output=True, text=True).stdout.strip()
    print(f"\nscale-cpu: container start to /readyz 200 in {cold_start:.1f}s, memory after recognize {stats}")
    record_property("memory_after_recognize", stats)


def test_demo_profile_serves_the_baked_in_bundle_with_open_writes_on_loopback(project: Project) -> None:
    port = free_port()
    env = {**os.environ, "HOST_DEMO_PORT": str(port)}
    cmd = ["docker", "compose", "-p", project.name, "-f", "docker-compose.yml", "-f", OVERRIDE, "--profile", "demo"]
    for args in (["build", "scale-demo"], ["up", "-d", "scale-demo"]):
        done = subprocess.run(cmd + args, cwd=project.root, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
    project.wait_healthy("scale-demo", READY_TIMEOUT_S)
    assert project.state("scale-demo", "{{range .Mounts}}{{.Destination}} {{end}}") == ""  # nothing mounted
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
        registered = http.post("/classes", json={"classes": [{"label": "demo wave"}]})  # no key: demo only
        assert registered.status_code == 200, registered.text
        skeleton = np.zeros((40, 25, 3), dtype=np.float32) + np.linspace(0, 1, 40)[:, None, None]
        answer = http.post("/recognize", json={"skeleton": skeleton.tolist()})
        assert answer.status_code == 200 and answer.json()["demo"] is True, answer.text


def test_without_a_bundle_the_service_exits_with_advice_instead_of_looping(project: Project, tmp_path: Path) -> None:
    empty = tmp_path / "no-bundle"
    empty.mkdir()
    env = (project.root / ".env").read_text()
    (project.root / ".env").write_text(env.replace("HOST_BUNDLE_DIR=", f"HOST_BUNDLE_DIR={empty}\n#", 1))
    try:
        project.compose("--profile", "cpu", "up", "-d", "--force-recreate", "scale-cpu")
        deadline = time.monotonic() + 120
        while project.state("scale-cpu", "{{.State.Status}} {{.RestartCount}}") != "exited 3":
            assert time.monotonic() < deadline, project.state("scale-cpu", "{{.State.Status}} {{.RestartCount}}")
            time.sleep(1)
        time.sleep(3)  # no fourth start
        assert project.state("scale-cpu", "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}") == "exited 3 2"
        logs = project.compose("logs", "--no-color", "scale-cpu").stdout
        assert "/models/bundle" in logs and "docs/deploy.md" in logs
    finally:
        (project.root / ".env").write_text(env)
