"""`scale serve` without a bundle: the demo is built in a child process and served through ONNX only."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from tests.live_server import clean_env, free_port, live_server

pytestmark = pytest.mark.integration


def _maps(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def _serve(demo_dir: Path, log: Path):
    port = free_port()
    argv = [sys.executable, "-m", "cli.main", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "info"]
    return live_server(argv, port, log, clean_env(SCALE_DEMO_DIR=str(demo_dir)), ready_timeout=600)


def test_default_serves_the_demo_without_torch_built_or_cached(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    with _serve(demo, tmp_path / "first.log") as server:  # empty cache: a child builds the demo bundle
        assert (demo / "manifest.json").is_file() and (demo / "text.onnx").is_file()
        maps = _maps(server.proc.pid)
        assert "libtorch" not in maps and "onnxruntime" in maps
        info = httpx.get(server.url + "/info", timeout=30).json()
        assert info["demo"] is True and info["text_encoder"] == "onnx"
        assert "building the demo bundle" in server.log()  # the child's progress, on the same stderr
    with _serve(demo, tmp_path / "second.log") as server:  # cached: found from its manifest alone
        assert "libtorch" not in _maps(server.proc.pid)
        r = httpx.post(server.url + "/classes", json={"classes": [{"label": "walking"}, {"label": "waving"}]},
                       timeout=60)
        assert r.status_code == 200, r.text
        log = server.log()
    assert "serving the cached DEMO bundle" in log
    assert "open_clip" not in log and "No pretrained weights" not in log and "building" not in log
