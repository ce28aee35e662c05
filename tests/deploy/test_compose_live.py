"""docker compose on a real engine: build the cpu image from the unchanged Dockerfile (stand-in bases via the
override file), `docker compose --profile cpu up -d` with the example .env's profile list, an authenticated
Redis, register classes, recognize a real NTU clip over HTTP, kill Redis right after an acknowledged write and
find every class back from the append-only file; the demo profile beside it on its own Redis database; a
missing bundle refused by compose and an empty one ending in a bounded exit, not a loop.

Runs only where SCALE_DOCKER_TESTS=1 and an engine answers (.ci/docker.sh starts one); see docs/deploy.md."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from .compose_support import READY_TIMEOUT_S, Project, compose_project, free_port, wait_ready

pytestmark = [pytest.mark.docker, pytest.mark.integration]
CLASSES = [{"label": "drink water"}, {"label": "sit down"}, {"label": "stand up"}, {"label": "hand waving"}]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    with compose_project(tmp_path_factory, "live", demo=True) as proj:
        yield proj


def restores(http: httpx.Client) -> float:
    """scale_registry_restores_total from /metrics: how often the replica rewrote a lost registry itself."""
    for line in http.get("/metrics").text.splitlines():
        if line.startswith("scale_registry_restores_total"):
            return float(line.split()[-1])
    raise AssertionError("scale_registry_restores_total missing from /metrics")


def test_cpu_profile_serves_a_real_clip_and_keeps_an_acknowledged_class_across_a_redis_kill(
        project: Project, shared_data: Path, record_property) -> None:
    from model.skeleton_io import read_skeleton

    base = f"http://127.0.0.1:{project.port}"
    headers = {"X-API-Key": project.key}
    # the README's CPU command: no service named, COMPOSE_PROFILES=gpu in .env, and the GPU service stays out
    project.compose("--profile", "cpu", "up", "-d")
    assert project.services() == {"redis", "scale-cpu"}
    cold_start = wait_ready(base)
    assert cold_start is not None, project.compose("logs", "--no-color", "scale-cpu", check=False).stdout[-4000:]
    record_property("cold_start_to_ready_s", round(cold_start, 1))
    project.wait_healthy("scale-cpu", 60)  # the image's HEALTHCHECK agrees
    # Redis refuses whoever lacks the password, and fsyncs every write before answering
    assert project.redis_cli("ping", auth=False).startswith("NOAUTH")
    assert project.redis_cli("ping") == "PONG"
    assert project.redis_cli("config", "get", "appendfsync").split() == ["appendfsync", "always"]
    with httpx.Client(base_url=base, timeout=60) as http:
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

        # SIGKILL right after the acknowledgement, no pause: only what the append-only file holds on disk
        # can come back, and appendfsync always put the last class there before Redis answered
        last = http.post("/classes", json={"classes": ["put on a hat"]}, headers=headers)  # a plain label
        assert last.status_code == 200, last.text
        project.compose("kill", "-s", "SIGKILL", "redis")
        ids["put on a hat"] = last.json()["classes"][0]["id"]
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
        assert restores(http) == 0  # from Redis's own file, not rewritten by the replica's memory
        original = [ids[c["label"]] for c in CLASSES]
        again = http.post("/recognize", json={"skeleton": joints.tolist(), "top_k": len(CLASSES), "classes": original})
        assert again.status_code == 200
        assert [r["class_id"] for r in again.json()["results"]] == [r["class_id"] for r in body["results"]]
        stats = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{.MemUsage}}",
                                project.container("scale-cpu")], capture_output=True, text=True).stdout.strip()
    print(f"\nscale-cpu: container start to /readyz 200 in {cold_start:.1f}s, memory after recognize {stats}")
    record_property("memory_after_recognize", stats)


def test_demo_profile_beside_the_protected_service_never_touches_its_registry(project: Project) -> None:
    port = free_port()
    env = {"HOST_DEMO_PORT": str(port)}
    project.compose("--profile", "demo", "build", "scale-demo", env=env)
    project.compose("--profile", "cpu", "--profile", "demo", "up", "-d", env=env)  # both profiles up
    project.wait_healthy("scale-demo", READY_TIMEOUT_S)
    assert project.state("scale-demo", "{{range .Mounts}}{{.Destination}} {{end}}") == ""  # nothing mounted
    protected = httpx.Client(base_url=f"http://127.0.0.1:{project.port}", timeout=60)
    with protected, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as demo:
        before = protected.get("/classes").json()
        assert before["classes"], "the first test registered classes on the protected service"
        assert demo.get("/classes").json()["classes"] == []  # its own database: none of the protected classes
        registered = demo.post("/classes", json={"classes": [{"label": "demo wave"}]})  # no key: demo only
        assert registered.status_code == 200, registered.text
        victim = before["classes"][0]["id"]
        assert demo.delete(f"/classes/{victim}").status_code == 404  # the demo cannot see it, let alone delete it
        after = protected.get("/classes").json()
        assert [c["id"] for c in after["classes"]] == [c["id"] for c in before["classes"]]
        assert after["registry_version"] == before["registry_version"]
        skeleton = np.zeros((40, 25, 3), dtype=np.float32) + np.linspace(0, 1, 40)[:, None, None]
        answer = demo.post("/recognize", json={"skeleton": skeleton.tolist()})
        assert answer.status_code == 200 and answer.json()["demo"] is True, answer.text


def test_a_missing_bundle_folder_is_refused_by_compose_and_an_empty_one_exits_with_advice(
        project: Project, tmp_path: Path) -> None:
    env = (project.root / ".env").read_text()
    missing = tmp_path / "no-such-bundle"
    empty = tmp_path / "empty-bundle"
    empty.mkdir()
    try:
        (project.root / ".env").write_text(env.replace("HOST_BUNDLE_DIR=", f"HOST_BUNDLE_DIR={missing}\n#", 1))
        done = project.compose("--profile", "cpu", "up", "-d", "--force-recreate", "scale-cpu", check=False)
        assert done.returncode != 0 and str(missing) in done.stderr, done.stderr[-2000:]
        assert not missing.exists()  # no empty root-owned folder left behind

        (project.root / ".env").write_text(env.replace("HOST_BUNDLE_DIR=", f"HOST_BUNDLE_DIR={empty}\n#", 1))
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

