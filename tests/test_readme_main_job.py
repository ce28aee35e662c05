"""The README's main job, end to end: `.venv/bin/scale serve` with no bundle and no Redis (demo bundle,
in-process registry), then register a class, recognize a real NTU clip, and stop the server with SIGTERM."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.live_server import REPO, clean_env, free_port, live_server

CLIP = ("skeletons", "ntu60_raw", "S001C001P001R001A011.skeleton")


def _readme_main_job() -> list[str]:
    """The README's first command's `scale serve` step, with the `scale` script of this interpreter's venv."""
    first = re.search(r"```bash\n(.*?)\n```", (REPO / "README.md").read_text(), re.S)
    assert first, "README.md must open with a bash block"
    assert first.group(1).strip().endswith(".venv/bin/scale serve"), first.group(1)
    script = Path(sys.executable).with_name("scale")  # .venv/bin/scale when the tests run in that venv
    assert script.is_file(), f"{script} is missing: install the project (`pip install -e .`) first"
    return [str(script), "serve"]


@pytest.mark.integration
def test_scale_serve_demo_register_recognize_and_stop(tmp_path: Path, shared_data: Path) -> None:
    from client import ScaleClient
    from model.skeleton_io import read_skeleton

    port = free_port()  # the README's default 8000 may be taken on a shared machine
    # A fresh HOME: the demo bundle is built at its documented default place, ~/.cache/scale/demo-bundle.
    env = clean_env(HOME=str(tmp_path))
    argv = [*_readme_main_job(), "--port", str(port)]
    # ready_timeout: the first start builds the demo bundle (about a minute on a quiet machine)
    with live_server(argv, port, tmp_path / "serve.log", env, ready_timeout=600, stop_timeout=60) as server:
        assert server.ready["status"] == "ready"
        assert (tmp_path / ".cache" / "scale" / "demo-bundle" / "manifest.json").is_file()
        with ScaleClient(server.url) as client:
            info = client.info()
            assert info["demo"] is True and info["registry"]["backend"] == "MemoryRegistry"
            assert "NOT meaningful" in info["warning"]
            (reading,) = client.add_classes(["reading"])
            (writing,) = client.add_classes(["writing"])
            result = client.recognize(read_skeleton(shared_data.joinpath(*CLIP)).joints, top_k=2)
        assert {p.class_id for p in result.predictions} == {reading.id, writing.id}
        assert result.bundle_version == info["bundle_version"] and result.demo
        assert abs(sum(p.score for p in result.predictions) - 1.0) < 1e-6
    text = server.log()
    assert "DEMO" in text and "NOT meaningful" in text  # said loudly in the log too
    # `scale serve` turns SIGTERM into a graceful shutdown that exits 0 (cli/serve.py), with no traceback.
    assert server.returncode == 0, f"`scale serve` exited with {server.returncode} after SIGTERM:\n{text[-3000:]}"
    assert "Application shutdown complete." in text and "Finished server process" in text, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
