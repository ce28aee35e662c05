"""Serving policy per device, onnxruntime session options, and the engine's single-person path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from model.bundle import load_bundle
from model.bundle_spec import MANIFEST_NAME, compute_bundle_version
from model.preprocess import preprocess_batch, to_encoder_input
from service.engine.inference import InferenceEngine
from service.engine.policy import bundle_session_options, resolve_policy, session_options, usable_cores
from service.settings import Settings, SettingsError, load_settings
from tests.service.svc_support import skeleton, tiny_bundle

CPU = ["CPUExecutionProvider"]


@pytest.mark.unit
def test_auto_policy_is_parallel_single_sequence_runs_on_cpu_and_batched_on_cuda() -> None:
    s = Settings(redis_url=None)
    cpu = resolve_policy(s, "cpu")
    assert (cpu.name, cpu.workers, cpu.max_batch_size, cpu.max_wait_ms) == ("parallel", usable_cores(), 1, 0.0)
    assert cpu.intra_op_threads == max(1, usable_cores() // cpu.workers)
    cuda = resolve_policy(s, "cuda")
    assert (cuda.name, cuda.workers, cuda.max_batch_size, cuda.max_wait_ms) == ("batched", 1, 64, 5.0)


@pytest.mark.unit
def test_policy_overrides() -> None:
    s = Settings(redis_url=None, serving_policy="batched", max_batch_size=8, intra_op_threads=2)
    assert resolve_policy(s, "cpu") == resolve_policy(s, "cuda")
    assert resolve_policy(s, "cpu").max_batch_size == 8 and resolve_policy(s, "cpu").intra_op_threads == 2
    p = resolve_policy(Settings(redis_url=None, serving_policy="parallel", inference_workers=3, cpu_batch_size=100,
                                max_batch_size=16, max_wait_ms=7), "cuda")
    assert (p.workers, p.max_batch_size, p.max_wait_ms, p.intra_op_threads) == (3, 16, 7, max(1, usable_cores() // 3))


@pytest.mark.unit
def test_policy_settings_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("SCALE_SERVING_POLICY", " Parallel ")
    monkeypatch.setenv("SCALE_CPU_BATCH_SIZE", "4")
    monkeypatch.setenv("SCALE_SINGLE_PERSON", "false")
    s = load_settings(redis_url=None)
    assert (s.serving_policy, s.cpu_batch_size, s.single_person) == ("parallel", 4, False)
    monkeypatch.setenv("SCALE_SERVING_POLICY", "fastest")
    with pytest.raises(SettingsError, match="SCALE_SERVING_POLICY"):
        load_settings(redis_url=None)


@pytest.mark.unit
def test_session_options_follow_the_settings() -> None:
    s = Settings(redis_url=None, ort_cpu_arena=False, ort_mem_pattern=False)
    o = session_options(s, resolve_policy(s, "cpu"))
    assert not o.enable_cpu_mem_arena and not o.enable_mem_pattern
    assert o.intra_op_num_threads == resolve_policy(s, "cpu").intra_op_threads
    o = bundle_session_options(Settings(redis_url=None), CPU)
    assert o.enable_cpu_mem_arena and o.get_session_config_entry("session.use_env_allocators") == "1"
    o = session_options(Settings(redis_url=None, ort_arena_extend_strategy="next_power_of_two"),
                        resolve_policy(Settings(redis_url=None, serving_policy="batched"), "cpu"))
    assert o.enable_cpu_mem_arena and o.intra_op_num_threads == 0  # onnxruntime's default: all cores


@pytest.fixture(scope="module")
def mixed_batch() -> np.ndarray:
    seqs = [skeleton(7, frames=30), skeleton(8, frames=25, persons=2), skeleton(9, frames=40)]
    x = to_encoder_input(preprocess_batch(seqs, tiny_bundle().preprocess))
    assert [bool(np.any(x[i, ..., 1])) for i in range(3)] == [False, True, False]
    return x


@pytest.mark.integration
def test_engine_single_person_path_equals_full_encoder_on_a_mixed_batch(mixed_batch: np.ndarray) -> None:
    bundle = load_bundle(tiny_bundle().path, CPU)
    assert bundle.single_person is not None
    fast = InferenceEngine(bundle, 8)
    full = InferenceEngine(bundle, 8, single_person=False)
    got, want = fast.features(mixed_batch), full.features(mixed_batch)
    assert fast.single_sequences == 2 and full.single_sequences == 0
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(want, bundle.run_encoder(mixed_batch)[0])


@pytest.mark.integration
def test_bundle_without_the_single_person_graph_uses_the_full_path(tmp_path: Path, mixed_batch: np.ndarray) -> None:
    old = tmp_path / "old-bundle"
    shutil.copytree(tiny_bundle().path, old)
    (old / "single_person.onnx").unlink()
    manifest = json.loads((old / MANIFEST_NAME).read_text())
    del manifest["files"]["single_person.onnx"]
    blobs = {rel: (old / rel).read_bytes() for rel in manifest["files"]}
    manifest["bundle_version"] = compute_bundle_version(manifest, blobs)
    (old / MANIFEST_NAME).write_text(json.dumps(manifest))
    bundle = load_bundle(old, CPU)
    assert bundle.single_person is None
    engine = InferenceEngine(bundle, 8)
    assert not engine.single_person
    np.testing.assert_array_equal(engine.features(mixed_batch), bundle.run_encoder(mixed_batch)[0])
    assert engine.single_sequences == 0
