"""Run the real service (uvicorn subprocess, demo bundle, real Redis) for the client and CLI tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.live_server import REPO, clean_env, free_port, live_server

__all__ = ["DEMO_FRAMES", "REPO", "SKELETONS", "clean_env", "demo_bundle_path", "free_port", "running_service"]
SKELETONS = ("skeletons", "ntu60_raw")
DEMO_FRAMES = 64  # small T' keeps the CPU encoder fast; real clips here have 70-124 frames


def demo_bundle_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo bundle shared by the whole session (build_demo_bundle reuses an intact one)."""
    import torch

    from training.demo import build_demo_bundle

    torch.set_num_threads(1)
    return build_demo_bundle(tmp_path_factory.getbasetemp() / "client-demo-bundle", num_frames=DEMO_FRAMES)


@contextmanager
def running_service(bundle: Path, redis_url: str, log_dir: Path, **settings: str) -> Iterator[str]:
    """Start `uvicorn service.app:create_app` on a free port, wait for /readyz, yield its URL, stop it."""
    port = free_port()
    env = clean_env(SCALE_BUNDLE_PATH=str(bundle), REDIS_URL=redis_url, SCALE_PORT=str(port),
                    SCALE_LOG_LEVEL="warning", **settings)
    argv = [sys.executable, "-m", "uvicorn", "--factory", "service.app:create_app", "--host", "127.0.0.1",
            "--port", str(port)]
    with live_server(argv, port, log_dir / f"service-{port}.log", env) as server:
        yield server.url
