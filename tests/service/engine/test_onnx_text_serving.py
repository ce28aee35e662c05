"""A bundle with a text graph is served without torch or open_clip, with the same answers as the torch path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.live_server import clean_env
from tests.service.svc_support import NUM_FRAMES, running_app, skeleton, text_encoder

REPO = Path(__file__).resolve().parents[3]
LABELS = ["walking", "sitting down", "drink water", "waving a hand"]

# Run in a fresh interpreter: this test process has torch loaded already.
SERVE_WITHOUT_TORCH = """
import json, sys
import numpy as np
from fastapi.testclient import TestClient
from service.app import create_app
from service.settings import Settings

bundle, labels, seq = sys.argv[1], json.loads(sys.argv[2]), np.asarray(json.loads(sys.argv[3]), np.float32)
app = create_app(Settings(bundle_path=bundle, redis_url=None, device="cpu", max_wait_ms=1.0))
with TestClient(app) as client:
    r = client.post("/classes", json={"classes": [{"label": label} for label in labels]})
    assert r.status_code == 200, r.text
    r = client.post("/recognize", json={"skeleton": seq.tolist(), "top_k": len(labels)})
    assert r.status_code == 200, r.text
    info = client.get("/info").json()
print(json.dumps({"recognize": r.json(), "info": info,
                  "loaded": sorted(m for m in ("torch", "open_clip", "model.scorer", "training") if m in sys.modules)}))
"""


@pytest.fixture(scope="module")
def text_graph_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo bundle (random-init tower, seed 0) exported with its text graph."""
    from model.bundle import read_manifest
    from training.demo import build_demo_bundle

    out = build_demo_bundle(tmp_path_factory.mktemp("onnx-text") / "bundle", text_encoder=text_encoder(),
                            num_frames=NUM_FRAMES)
    assert read_manifest(out).text_graph is not None
    return out


def _serve_in_subprocess(bundle: Path, seq: np.ndarray) -> dict:
    env = clean_env()
    proc = subprocess.run([sys.executable, "-c", SERVE_WITHOUT_TORCH, str(bundle), json.dumps(LABELS),
                           json.dumps(seq.tolist())], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.integration
def test_text_graph_bundle_serves_without_torch_and_matches_the_torch_path(text_graph_bundle: Path) -> None:
    seq = skeleton(5, frames=40)
    onnx_side = _serve_in_subprocess(text_graph_bundle, seq)
    assert onnx_side["loaded"] == [], f"serving imported {onnx_side['loaded']}"
    assert onnx_side["info"]["text_weights_id"] == "random-init:seed=0"
    assert onnx_side["info"]["text_encoder"] == "onnx"

    # the same bundle served through open_clip (the path older bundles take) gives the same energies
    from tests.service.svc_support import TinyBundle

    torch_bundle = TinyBundle(text_graph_bundle, None, None, None)
    with running_app(torch_bundle) as client:
        assert client.post("/classes", json={"classes": [{"label": label} for label in LABELS]}).status_code == 200
        want = client.post("/recognize", json={"skeleton": seq.tolist(), "top_k": len(LABELS)}).json()
    got_energy = {item["label"]: item["energy"] for item in onnx_side["recognize"]["results"]}
    want_energy = {item["label"]: item["energy"] for item in want["results"]}
    assert set(got_energy) == set(LABELS) == set(want_energy)
    for label in LABELS:
        assert abs(got_energy[label] - want_energy[label]) <= 1e-3 + 1e-4 * abs(want_energy[label]), label
    assert onnx_side["recognize"]["demo"] is True
