"""InferenceEngine (I/O binding, buckets, rebinding), Conditioner caching and the startup checks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

import model.bundle
from model.bundle import load_bundle
from model.preprocess import preprocess_batch, to_encoder_input
from service.engine.conditioning import Conditioner
from service.engine.inference import InferenceEngine, bucket_sizes, choose_providers
from service.engine.loading import StartupError, load_text_for
from service.registry import ClassRecord, MemoryRegistry
from service.settings import Settings
from tests.service.svc_support import (
    LABELS,
    prompt_of,
    reference,
    skeleton,
    text_encoder,
    tiny_bundle,
    within_tolerance,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def engine() -> InferenceEngine:
    return InferenceEngine(load_bundle(tiny_bundle().path, providers=["CPUExecutionProvider"]), max_batch_size=8)


@pytest.fixture(scope="module")
def inputs(engine):
    seqs = [skeleton(i, frames=20 + 3 * i) for i in range(3)]
    x = to_encoder_input(preprocess_batch(seqs, tiny_bundle().preprocess))
    feats = text_encoder().encode([prompt_of(lab) for lab in LABELS])
    return seqs, x, engine.class_side(feats.global_emb, feats.tokens, feats.mask)


@pytest.mark.unit
def test_bucket_sizes() -> None:
    assert bucket_sizes(1) == [1]
    assert bucket_sizes(10) == [1, 2, 4, 8, 10]
    assert bucket_sizes(16) == [1, 2, 4, 8, 16]


@pytest.mark.unit
def test_choose_providers(monkeypatch) -> None:
    import onnxruntime as ort

    assert choose_providers("cpu") == ["CPUExecutionProvider"]
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert choose_providers("auto") == ["CPUExecutionProvider"]
    with pytest.raises(RuntimeError, match="device='cuda'"):
        choose_providers("cuda")
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    # onnxruntime-gpu lists CUDA even without a GPU: without a device, 'auto' stays on CPU (no provider errors).
    monkeypatch.setattr(model.bundle, "_cuda_device_present", lambda: False)
    assert choose_providers("auto") == ["CPUExecutionProvider"]
    with pytest.raises(RuntimeError, match="no usable CUDA device"):
        choose_providers("cuda")
    monkeypatch.setattr(model.bundle, "_cuda_device_present", lambda: True)
    assert choose_providers("auto") == ["CUDAExecutionProvider", "CPUExecutionProvider"]


def test_score_matches_plain_runs_and_torch(engine, inputs) -> None:
    seqs, x, cls = inputs
    energy, unc = engine.score(x, ("a",), cls)
    plain_e, plain_u = engine.bundle.run_sample_side(engine.bundle.run_encoder(x)[0], cls)
    np.testing.assert_array_equal(energy, plain_e)  # same graphs, same inputs: bit-identical
    np.testing.assert_array_equal(unc, plain_u)
    ref_e, ref_u = reference(seqs, [prompt_of(lab) for lab in LABELS])
    assert within_tolerance(energy, ref_e).all()
    np.testing.assert_allclose(unc, ref_u, rtol=1e-4, atol=1e-5)


def test_bucket_padding_does_not_change_results(engine, inputs) -> None:
    _, x, cls = inputs
    plain = engine.score(x, ("a",), cls)
    engine.buckets, engine.bind_classes = [2, 8], True  # force the CUDA padding/binding path on CPU
    try:
        padded = engine.score(x, ("a",), cls)
    finally:
        engine.buckets, engine.bind_classes = [], False
    assert padded[0].shape == (3, len(LABELS))
    assert within_tolerance(padded[0], plain[0].astype(np.float64)).all()


def test_class_tensors_rebound_only_when_the_class_set_changes(engine, inputs, request) -> None:
    _, x, cls = inputs
    engine.bind_classes = True  # the CUDA path, run on CPU OrtValues
    request.addfinalizer(lambda: setattr(engine, "bind_classes", False))
    engine.score(x, ("k1",), cls)
    start = engine.rebinds
    engine.score(x[:1], ("k1",), cls)
    assert engine.rebinds == start
    sub = type(cls)(*(t[:2] for t in cls))
    e_sub, _ = engine.score(x, ("k2",), sub)
    assert engine.rebinds == start + 1 and e_sub.shape == (3, 2)
    e_all, _ = engine.score(x, ("k1",), cls)
    np.testing.assert_array_equal(e_sub, e_all[:, :2])


def test_warmup_marks_engine_warm() -> None:
    fresh = InferenceEngine(load_bundle(tiny_bundle().path, providers=["CPUExecutionProvider"]), 4)
    assert not fresh.warm
    fresh.warmup()
    assert fresh.warm and fresh._bound_key is None


def test_conditioner_memory_then_registry_cache(engine) -> None:
    registry = MemoryRegistry()
    records = [ClassRecord.create(lab, prompt_of(lab)) for lab in LABELS[:3]]
    first = Conditioner(text_encoder(), engine, registry, engine.bundle.version)
    rows = asyncio.run(first.rows(records))
    feats = text_encoder().encode([r.prompt for r in records])
    direct = engine.class_side(feats.global_emb, feats.tokens, feats.mask)
    for i, r in enumerate(records):
        np.testing.assert_array_equal(rows[r.id].enc_c, direct.enc_c[i])

    class NoText:
        weights_id = "unused"

        def encode(self, texts):
            raise AssertionError("text encoder must not run on a cache hit")

    again = asyncio.run(first.rows(records))  # in-process cache
    second = Conditioner(NoText(), engine, registry, engine.bundle.version)  # another replica
    shared = asyncio.run(second.rows(records))
    for r in records:
        np.testing.assert_array_equal(again[r.id].prior_mu, rows[r.id].prior_mu)
        np.testing.assert_array_equal(shared[r.id].dec_c, rows[r.id].dec_c)


def test_startup_refuses_mismatched_text_weights() -> None:
    bundle = load_bundle(tiny_bundle().path, providers=["CPUExecutionProvider"])

    class Other:
        weights_id = "sha256:" + "0" * 64

    with pytest.raises(StartupError, match="differ from the ones bundle"):
        load_text_for(bundle, Settings(redis_url=None), Other())
    assert load_text_for(bundle, Settings(redis_url=None), text_encoder()) is text_encoder()


@pytest.mark.gpu
def test_cuda_engine_matches_cpu(inputs) -> None:
    bundle = load_bundle(tiny_bundle().path, providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
    if bundle.providers()[0] != "CUDAExecutionProvider":
        pytest.skip("onnxruntime cannot create the CUDA provider here")
    gpu = InferenceEngine(bundle, max_batch_size=8)
    gpu.warmup()
    _, x, cls = inputs
    cpu = InferenceEngine(load_bundle(tiny_bundle().path, providers=["CPUExecutionProvider"]), 8)
    got, want = gpu.score(x, ("g",), cls)[0], cpu.score(x, ("g",), cls)[0]
    assert np.all(np.abs(got - want) <= 1e-3 + 1e-4 * np.abs(want))
    assert gpu.score(x, ("g",), cls)[0].tolist() == got.tolist()  # deterministic on one device


@pytest.mark.unit
def test_service_package_never_imports_training() -> None:
    import subprocess
    import sys

    code = ("import sys, service.app, service.routers.classes, service.routers.recognize, service.routers.health; "
            "bad = sorted(m for m in sys.modules if m == 'training' or m.startswith('training.')); "
            "print(bad); sys.exit(1 if bad else 0)")
    repo = Path(__file__).resolve().parents[3]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
