"""Demo bundle: builds fast from a random text tower, loads, says it is a demo, and is reused on restart."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import training.demo as demo
from model.bundle import load_bundle
from model.text import load_text_encoder, make_prompt

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def text_encoder():
    return load_text_encoder(random_init_seed=0)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory, text_encoder) -> tuple[Path, float]:
    out = tmp_path_factory.mktemp("demo") / "bundle"
    started = time.process_time()  # CPU seconds of this process: wall time depends on who shares the machine
    demo.build_demo_bundle(out, text_encoder=text_encoder, seed=0)  # default num_frames = 300
    return out, time.process_time() - started


@pytest.mark.integration
def test_demo_bundle_builds_loads_and_is_marked_demo(demo_dir, text_encoder) -> None:
    out, seconds = demo_dir
    # most of it is exporting and checking the 63M-parameter CLIP text graph
    assert seconds < 150, f"demo bundle took {seconds:.1f} CPU seconds to build"
    bundle = load_bundle(out, providers=["CPUExecutionProvider"])
    m = bundle.manifest
    assert m.demo is True and "NOT meaningful" in m.note
    assert m.num_frames == 300 and m.text.weights_id == "random-init:seed=0"
    assert m.training["classes"] == list(demo.DEMO_ACTIONS)
    # the scorer really learned the generated task: far above 10-class chance on held-out samples
    assert m.training["metrics"]["generated_heldout_top1"] >= 0.6
    x = np.random.default_rng(0).normal(size=(2, 3, 300, 25, 2)).astype(np.float32)
    feature, logits = bundle.run_encoder(x)
    assert feature.shape == (2, 256) and logits.shape == (2, 60) and np.all(np.isfinite(feature))


@pytest.mark.integration
def test_demo_texts_rank_their_generated_features_first(demo_dir, text_encoder) -> None:
    """Through the ONNX graphs, generated features of class i get the lowest energy at class i."""
    out, _ = demo_dir
    bundle = load_bundle(out, providers=["CPUExecutionProvider"])
    text = text_encoder.encode([make_prompt(a) for a in demo.DEMO_ACTIONS])
    x, y = demo.generated_features(text.global_emb, n_per_class=3, seed=0)
    energy, _ = bundle.run_sample_side(x, bundle.run_class_side(text.global_emb, text.tokens, text.mask))
    assert float((energy.argmin(1) == y).mean()) >= 0.6


@pytest.mark.integration
def test_matching_demo_bundle_is_reused(demo_dir, text_encoder, monkeypatch: pytest.MonkeyPatch) -> None:
    out, _ = demo_dir
    before = (out / "manifest.json").read_bytes()

    def refuse(*args, **kwargs):
        raise AssertionError("export_bundle must not run when the demo bundle matches")

    monkeypatch.setattr(demo, "export_bundle", refuse)
    assert demo.build_demo_bundle(out, text_encoder=text_encoder, seed=0) == out
    assert (out / "manifest.json").read_bytes() == before


@pytest.mark.integration
def test_corruption_or_changed_seed_rebuilds(demo_dir, tmp_path: Path, text_encoder) -> None:
    src, _ = demo_dir
    out = Path(shutil.copytree(src, tmp_path / "bundle"))
    first = json.loads((out / "manifest.json").read_text())
    (out / "encoder.onnx").write_bytes(b"garbage")
    demo.build_demo_bundle(out, text_encoder=text_encoder, seed=0)
    # rebuilt, and the export is deterministic: same content hash as the original build
    assert load_bundle(out, providers=["CPUExecutionProvider"]).version == first["bundle_version"]
    demo.build_demo_bundle(out, text_encoder=text_encoder, seed=1, num_frames=8)
    second = json.loads((out / "manifest.json").read_text())
    assert second["training"]["demo_seed"] == 1 and second["preprocess"]["num_frames"] == 8
    assert second["bundle_version"] != first["bundle_version"]


@pytest.mark.integration
def test_a_cache_exported_in_the_old_layout_is_not_reused(demo_dir, tmp_path: Path) -> None:
    from model.bundle import read_manifest, verify_files
    from model.bundle_spec import compute_bundle_version
    from model.demo_cache import DEMO_ENCODER_LAYOUT, demo_reusable

    src, _ = demo_dir
    manifest = read_manifest(src)
    assert manifest.training["encoder_layout"] == DEMO_ENCODER_LAYOUT == "rows"
    assert demo_reusable(src, manifest.text.weights_id)
    out = Path(shutil.copytree(src, tmp_path / "old-cache"))
    data = json.loads((out / "manifest.json").read_text())
    del data["training"]["encoder_layout"]  # what a cache built before the row layout carries
    (out / "manifest.json").write_text(json.dumps(data))
    edited = read_manifest(out)  # an intact bundle: its content hash recomputed, as an older export wrote it
    blobs = {rel: (out / rel).read_bytes() for rel in edited.files}
    data["bundle_version"] = compute_bundle_version(edited.hashed_body(), blobs)
    (out / "manifest.json").write_text(json.dumps(data))
    verify_files(out, read_manifest(out))  # raises if the edit left it inconsistent
    assert not demo_reusable(out, manifest.text.weights_id)


@pytest.mark.unit
def test_first_build_shows_progress_and_duration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    class FakeText:
        weights_id, model_name = "random-init:seed=0", "ViT-B-32-quickgelu"

        def encode(self, texts):
            return None

    exported: list[Path] = []
    monkeypatch.setattr(demo, "train_demo_scorer", lambda text, seed: (None, 0.9))
    monkeypatch.setattr(demo, "export_bundle", lambda out, *a, **k: exported.append(out))
    assert demo.build_demo_bundle(tmp_path / "b", text_encoder=FakeText()) == tmp_path / "b"
    err = capsys.readouterr().err
    assert exported == [tmp_path / "b"]
    assert "building the demo bundle: 3/3 steps" in err and "exporting ONNX graphs" in err
    assert re.search(r"built the demo bundle in .* in \d+ s", err)
